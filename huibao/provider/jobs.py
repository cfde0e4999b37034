"""The provider network's daily work (registered in `ProviderConfig.ready()`)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from huibao.jobs.registry import JobContext
from huibao.provider import services


def overdue(ctx: JobContext) -> None:
    """Flags tasks past due by the end of the run date (or now, for today's run): idempotent, a
    task is flagged once; resumes from the last committed batch."""
    end = timezone.make_aware(
        datetime.datetime.combine(ctx.run_date + datetime.timedelta(days=1), datetime.time())
    )
    moment = min(timezone.now(), end)
    done = [0]

    def save(cursor: int) -> None:
        ctx.save_cursor(cursor)

    done[0] = services.flag_overdue(
        moment, cursor=int(ctx.cursor or 0), checkpoint=save, stop=lambda: ctx.should_stop
    )
    ctx.check_stop()
    ctx.progress(done[0])
