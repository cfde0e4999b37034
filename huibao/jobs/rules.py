"""Pure date arithmetic of the daily run (no Django)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator


def dates_between(first: datetime.date, last: datetime.date) -> Iterator[datetime.date]:
    """Every date from `first` to `last`, both included, in order."""
    day = first
    while day <= last:
        yield day
        day += datetime.timedelta(days=1)


def catch_up_start(
    last_succeeded: datetime.date | None, until: datetime.date, *, max_days: int
) -> datetime.date:
    """The first date a job must run for to be up to date at `until`: the day after its last
    succeeded date (`until` if it never succeeded), going back at most `max_days` days."""
    earliest = until - datetime.timedelta(days=max(max_days - 1, 0))
    if last_succeeded is None:
        return until
    return max(last_succeeded + datetime.timedelta(days=1), earliest)


def next_run_at(now: datetime.datetime, at: datetime.time) -> datetime.datetime:
    """The next moment at local time `at` after `now` (an aware local datetime)."""
    today = now.replace(hour=at.hour, minute=at.minute, second=at.second, microsecond=0)
    return today if today > now else (today + datetime.timedelta(days=1))


def is_stale(
    heartbeat_at: datetime.datetime | None, now: datetime.datetime, *, after: datetime.timedelta
) -> bool:
    return heartbeat_at is None or now - heartbeat_at > after
