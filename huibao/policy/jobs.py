"""The policy's daily jobs (`huibao.jobs`), registered in `PolicyConfig.ready`: the status sweep
(start, expiry) and the premium due reminders. Both are idempotent for a date and resumable."""

from __future__ import annotations

import datetime

from django.utils import timezone

from huibao.jobs.registry import JobContext
from huibao.policy import endorsements, services

STATUSES_ORDER = 30  # after billing's day (overdue, lapse, charges)
REMINDERS_ORDER = 40


def end_of(run_date: datetime.date) -> datetime.datetime:
    """The end of the business date (local midnight after it), never later than now."""
    midnight = timezone.make_aware(
        datetime.datetime.combine(run_date + datetime.timedelta(days=1), datetime.time.min)
    )
    return min(midnight, timezone.now())


def update_statuses(ctx: JobContext) -> None:
    """Policies started or ended by the end of the business date (each moved once: re-read under
    its lock)."""
    counts = services.update_policy_statuses(end_of(ctx.run_date))
    ctx.progress(counts["in_force"] + counts["expired"])


def premium_due_reminders(ctx: JobContext) -> None:
    """The reminders of instalments due three days after the business date."""
    counts = services.send_due_reminders(
        ctx.run_date, cursor=int(ctx.cursor or 0), save_cursor=ctx.save_cursor
    )
    ctx.progress(counts["reminded"])


EXPIRE_ENDORSEMENTS_ORDER = 50


def expire_endorsements(ctx: JobContext) -> None:
    """Endorsements left unconfirmed or unpaid past their deadline by the end of the business
    date are expired. Idempotent: an expired endorsement is not open any more, so a run again (or
    one resumed after a crash) finds nothing left; each one is its own transaction."""
    done = endorsements.expire_unconfirmed(ctx.run_date)
    ctx.progress(done, done)
