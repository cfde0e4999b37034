"""The commission area's daily job: month-end volume tiers and quarter-end target bonuses."""

from __future__ import annotations

from huibao.finance import commissions
from huibao.jobs.registry import JobContext


def commission_month_end(ctx: JobContext) -> None:
    booked = commissions.month_end(ctx.run_date)
    ctx.progress(len(booked), len(booked))
