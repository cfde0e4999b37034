"""The provider network's daily work (registered in `ProviderConfig.ready()`)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from huibao.jobs.registry import JobContext
from huibao.provider import services


def overdue(ctx: JobContext) -> None:
    """Flags tasks past due by the end of the run date (or by now, for today's run): idempotent,
    a task is flagged once; resumes after the last committed batch (`ctx.cursor`: a task id)."""
    day_end = timezone.make_aware(
        datetime.datetime.combine(ctx.run_date + datetime.timedelta(days=1), datetime.time())
    )
    flagged = services.flag_overdue(
        min(timezone.now(), day_end),
        cursor=int(ctx.cursor or 0),
        checkpoint=ctx.save_cursor,
        stop=lambda: ctx.should_stop,
    )
    ctx.check_stop()
    ctx.progress(flagged)
