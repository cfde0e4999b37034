"""The policy app's daily jobs (registered in `PolicyConfig.ready()`): the status sweep (starts,
expiries) and the premium due reminders; both idempotent for a date and resumable."""

from __future__ import annotations

from typing import Any

from huibao.jobs.dates import cutoff
from huibao.jobs.registry import JobContext
from huibao.policy import endorsements, services


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


def premium_due_reminders(ctx: JobContext) -> None:
    """The reminders of instalments due three days after the business date (one per
    instalment: the outbox's dedup key), resumed from the last instalment reminded."""
    counts = services.send_due_reminders(
        ctx.run_date, cursor=int(ctx.cursor or 0), save_cursor=ctx.save_cursor
    )
    ctx.progress(counts["reminded"])


EXPIRE_ENDORSEMENTS_ORDER = 400  # after the status sweep


def expire_endorsements(ctx: JobContext) -> None:
    """Endorsements left unconfirmed or unpaid past their deadline by the end of the business
    date are expired. Idempotent: an expired endorsement is not open any more, so a run again (or
    one resumed after a crash) finds nothing left; each one is its own transaction."""
    done = endorsements.expire_unconfirmed(ctx.run_date)
    ctx.progress(done, done)
