"""Background tasks (Django's tasks framework): the daily run, enqueued by `run_scheduler`."""

from __future__ import annotations

import datetime
from typing import Any

from django.tasks import task


@task
def run_daily_task(until: str, catch_up: bool = True, only: list[str] | None = None) -> list[dict[str, Any]]:
    """The daily run up to `until` (ISO date): every missed date first when `catch_up`."""
    from huibao.jobs import services

    day = datetime.date.fromisoformat(until)
    outcomes = services.catch_up(day, only=only) if catch_up else services.run_daily(day, only=only)
    return [{"job": o.job, "date": o.run_date.isoformat(), "status": o.status} for o in outcomes]


__all__ = ["run_daily_task"]
