"""The partner app's daily job (registered in `PartnerConfig.ready()`)."""

from __future__ import annotations

from huibao.jobs.registry import JobContext
from huibao.partner import services


def purge(ctx: JobContext) -> None:
    ctx.progress(services.purge_expired())
