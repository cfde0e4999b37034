"""Background tasks of the sandboxes (Django's tasks framework): the one delivery task of their
signed notifications and its sweep."""

from __future__ import annotations

from django.tasks import task, task_backends
from django.utils import timezone

from huibao.sandbox import notifications


@task
def deliver_notification(channel: str, key: str) -> bool:
    """Delivers a sandbox's notification; on failure schedules the next attempt.

    On a backend without deferred runs the attempt is left due (`next_attempt_at`) for
    `resend_due_notifications`, so no notification is lost either way.
    """
    acknowledged = notifications.deliver(channel, key)
    if not acknowledged:
        next_attempt_at = notifications.record_of(channel, key).next_attempt_at
        backend = task_backends[deliver_notification.backend]
        if next_attempt_at is not None and backend.supports_defer:
            deliver_notification.using(run_after=next_attempt_at).enqueue(channel, key)
    return acknowledged


@task
def resend_due_notifications() -> int:
    """Sweep: one attempt for every sandbox notification that is due; returns how many were acked."""
    now = timezone.now()
    return sum(1 for channel, key in notifications.due(now) if notifications.deliver(channel, key, now=now))


__all__ = ["deliver_notification", "resend_due_notifications"]
