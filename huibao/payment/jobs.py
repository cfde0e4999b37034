"""The payment engine's daily job (registered in `PaymentConfig.ready()`): open payments past
their expiry are expired — the same sweep `run_sweeps` runs every 30 seconds, here as a safety
net for the business date. It needs no cursor: each payment is expired in its own transaction
and an expired one no longer matches, so a run after a crash only does what is left."""

from __future__ import annotations

from huibao.jobs.dates import cutoff
from huibao.jobs.registry import JobContext
from huibao.payment import payouts, services


def expire_unpaid(ctx: JobContext) -> None:
    expired = services.expire_unpaid(cutoff(ctx.run_date))
    ctx.progress(expired, expired)


def query_stale_payouts(ctx: JobContext) -> None:
    """Submitted payouts with no result: asked of the provider (also a sweep every 30 seconds);
    each in its own transaction, so a run after a crash does what is left."""
    counts = payouts.query_stale_payouts()
    done = sum(counts.values())
    ctx.progress(done, done)
