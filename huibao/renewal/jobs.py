"""The renewal's daily jobs (registered in `RenewalConfig.ready()`): each resumes from the cursor
its batches commit with, and changes nothing when run again for the same date."""

from __future__ import annotations

from typing import Any

from huibao.jobs.registry import JobContext
from huibao.renewal import services


def _checkpoint(ctx: JobContext) -> Any:
    done = [0]

    def save(cursor: Any) -> None:
        ctx.save_cursor(cursor)
        done[0] += 1
        ctx.progress(done[0])

    return save


def offers(ctx: JobContext) -> None:
    total = services.count_offers_due(ctx.run_date)
    ctx.progress(0, total)
    made = services.make_offers(
        ctx.run_date, cursor=ctx.cursor, checkpoint=ctx.save_cursor, stop=lambda: ctx.should_stop
    )
    ctx.check_stop()
    ctx.progress(made, total)


def offer_notices(ctx: JobContext) -> None:
    sent = services.notify_offers(ctx.run_date, checkpoint=ctx.save_cursor, stop=lambda: ctx.should_stop)
    ctx.check_stop()
    ctx.progress(sent)  # messages written (the batches are the cursor's)


def reminders(ctx: JobContext) -> None:
    sent = services.send_reminders(ctx.run_date, checkpoint=ctx.save_cursor, stop=lambda: ctx.should_stop)
    ctx.check_stop()
    ctx.progress(sent)


def auto_renew(ctx: JobContext) -> None:
    services.auto_renew(ctx.run_date, checkpoint=_checkpoint(ctx), stop=lambda: ctx.should_stop)
    ctx.check_stop()


def lapse(ctx: JobContext) -> None:
    services.lapse_offers(ctx.run_date, checkpoint=_checkpoint(ctx), stop=lambda: ctx.should_stop)
    ctx.check_stop()
