"""The policy app's daily jobs (registered in `PolicyConfig.ready()`)."""

from __future__ import annotations

from typing import Any

from huibao.jobs.dates import cutoff
from huibao.jobs.registry import JobContext
from huibao.policy import services


def policy_statuses(ctx: JobContext) -> None:
    """Starts and expiries up to the end of the business date (`update_policy_statuses`),
    resumed from the cursor saved with each batch."""
    at = cutoff(ctx.run_date)
    total = services.count_policy_status_moves(at)
    start: dict[str, Any] = ctx.cursor or {}
    base = start.get("in_force", 0) + start.get("expired", 0)
    ctx.progress(base, base + total)

    def checkpoint(state: dict[str, Any]) -> None:
        ctx.save_cursor(state)
        ctx.progress(state["in_force"] + state["expired"], base + total)

    result = services.update_policy_statuses(
        at,
        cursor=ctx.cursor,
        batch=services.STATUS_BATCH,
        checkpoint=checkpoint,
        stop=lambda: ctx.should_stop,
    )
    ctx.check_stop()
    ctx.progress(result["in_force"] + result["expired"], result["in_force"] + result["expired"])
