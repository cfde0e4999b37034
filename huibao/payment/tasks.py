"""Background tasks (Django's tasks framework; durable django_tasks_db backend in deployments)."""

from __future__ import annotations

from django.tasks import task, task_backends
from django.utils import timezone

from huibao.payment import sandbox


@task
def deliver_sandbox_notification(txn_id: str) -> bool:
    """Delivers the sandbox gateway's notification; on failure schedules the next attempt.

    On a backend without deferred runs the attempt is left due (`next_attempt_at`) for
    `resend_sandbox_notifications`, so no notification is lost either way.
    """
    acknowledged = sandbox.deliver(txn_id)
    if not acknowledged:
        checkout = sandbox.get_checkout(txn_id)
        backend = task_backends[deliver_sandbox_notification.backend]
        if checkout.next_attempt_at is not None and backend.supports_defer:
            deliver_sandbox_notification.using(run_after=checkout.next_attempt_at).enqueue(txn_id)
    return acknowledged


@task
def resend_sandbox_notifications() -> int:
    """Sweep: retries every notification whose next attempt is due. Returns how many were acknowledged."""
    return sum(1 for txn_id in sandbox.due_notifications(timezone.now()) if sandbox.deliver(txn_id))


@task
def expire_unpaid_payments() -> int:
    from huibao.payment.services import expire_unpaid

    return expire_unpaid(timezone.now())


__all__ = ["deliver_sandbox_notification", "expire_unpaid_payments", "resend_sandbox_notifications"]
