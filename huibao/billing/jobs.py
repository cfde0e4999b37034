"""Billing's daily job (`huibao.jobs`): the day's overdue marks, lapses and mandate charges
(`services.run_daily`, idempotent for a date: one charge attempt per instalment and day)."""

from __future__ import annotations

from huibao.billing import services
from huibao.jobs.registry import JobContext

ORDER = 20


def billing_day(ctx: JobContext) -> None:
    result = services.run_daily(ctx.run_date)
    ctx.progress(result.overdue + result.lapsed + result.charged)
