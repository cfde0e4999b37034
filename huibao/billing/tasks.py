"""Background tasks (Django's tasks framework; durable django_tasks_db backend in deployments)."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.tasks import task
from django.utils import timezone


@task
def run_billing_day(day: str | None = None) -> dict[str, Any]:
    """The day's billing run (`services.run_daily`) for `day` (ISO date; today by default)."""
    import datetime

    from huibao.billing.services import run_daily

    result = run_daily(datetime.date.fromisoformat(day) if day else timezone.localdate())
    return {k: str(v) for k, v in dataclasses.asdict(result).items()}


__all__ = ["run_billing_day"]
