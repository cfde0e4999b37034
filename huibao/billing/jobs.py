"""Billing's daily jobs (registered in `BillingConfig.ready()`): the day's run of
`services.run_daily` split in its steps, in its order — the next policy years planned, overdue
marks, lapses, then the charges due — each resumable from the last instalment (or schedule) it finished."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from huibao.billing import services
from huibao.jobs.registry import JobContext


def _resumable(ctx: JobContext, candidates: Any, step: Callable[..., int]) -> None:
    cursor: dict[str, int] = ctx.cursor or {"after": 0, "done": 0}
    total = cursor["done"] + candidates.filter(pk__gt=cursor["after"]).count()
    ctx.progress(cursor["done"], total)
    state = dict(cursor)

    def checkpoint(pk: int, count: int = 1) -> None:
        state.update(after=pk, done=state["done"] + count)
        ctx.save_cursor(dict(state))
        ctx.progress(state["done"], total)

    step(ctx.run_date, after=cursor["after"], checkpoint=checkpoint, stop=lambda: ctx.should_stop)
    ctx.check_stop()
    ctx.progress(state["done"], state["done"])


def roll_forward(ctx: JobContext) -> None:
    _resumable(ctx, services.roll_forward_candidates(ctx.run_date), services.roll_forward)


def mark_overdue(ctx: JobContext) -> None:
    _resumable(ctx, services.overdue_candidates(ctx.run_date), services.mark_overdue)


def lapse_after_grace(ctx: JobContext) -> None:
    _resumable(ctx, services.lapse_candidates(ctx.run_date), services.lapse_after_grace)


def collect_due(ctx: JobContext) -> None:
    _resumable(ctx, services.collect_candidates(ctx.run_date), services.collect_due)
