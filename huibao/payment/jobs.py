"""The payment engine's daily job (registered in `PaymentConfig.ready()`): open payments past
their expiry are expired — the same sweep `run_sweeps` runs every 30 seconds, here as a safety
net for the business date. It needs no cursor: each payment is expired in its own transaction
and an expired one no longer matches, so a run after a crash only does what is left."""

from __future__ import annotations

import datetime

from huibao.jobs.dates import cutoff
from huibao.jobs.registry import JobContext
from huibao.payment import payouts, services
from huibao.payment.gateways import reconcile


def expire_unpaid(ctx: JobContext) -> None:
    expired = services.expire_unpaid(cutoff(ctx.run_date))
    ctx.progress(expired, expired)


def query_stale_payouts(ctx: JobContext) -> None:
    """Submitted payouts with no result: asked of the provider (also a sweep every 30 seconds);
    each in its own transaction, so a run after a crash does what is left."""
    counts = payouts.query_stale_payouts()
    done = sum(counts.values())
    ctx.progress(done, done)


def reconcile_gateway_bills(ctx: JobContext) -> None:
    """Each real gateway's file of two days before the business date against the platform's
    payments and refunds; differences are logged for finance (nothing is changed). Two days: the
    gateways publish a day's file the next morning (Alipay ~09:00, WeChat Pay ~10:00 Beijing
    time), after the daily run at `JOBS_DAILY_AT`. Read-only: a run after a crash compares again."""
    day = ctx.run_date - datetime.timedelta(days=2)
    names = reconcile.gateways_with_bills()
    for done, name in enumerate(names, start=1):
        reconcile.reconcile_day(name, day)
        ctx.progress(done, len(names))
