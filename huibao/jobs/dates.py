"""The moment a daily job for a business date acts at (for the apps' jobs)."""

from __future__ import annotations

import datetime

from django.utils import timezone


def day_start(day: datetime.date) -> datetime.datetime:
    """Local midnight at the start of `day`."""
    return datetime.datetime.combine(day, datetime.time(0), tzinfo=timezone.get_default_timezone())


def cutoff(run_date: datetime.date, now: datetime.datetime | None = None) -> datetime.datetime:
    """What a daily job for `run_date` treats as "now": the last instant of that date (just
    before the local midnight after it) for a past date, the present moment for today — never
    later than now. What happens at midnight belongs to the next date."""
    now = now or timezone.now()
    return min(now, day_start(run_date + datetime.timedelta(days=1)) - datetime.timedelta(microseconds=1))
