"""Background tasks (Django's tasks framework; durable django_tasks_db backend in deployments)."""

from __future__ import annotations

from django.tasks import task
from django.utils import timezone


@task
def expire_unpaid_payments() -> int:
    from huibao.payment.services import expire_unpaid

    return expire_unpaid(timezone.now())


__all__ = ["expire_unpaid_payments"]
