"""Background tasks (Django's tasks framework; durable django_tasks_db backend in deployments)."""

from __future__ import annotations

from django.tasks import task, task_backends
from django.utils import timezone

from huibao.identity import sandbox


@task
def deliver_face_notification(token: str) -> bool:
    """Delivers the sandbox face service's notification; on failure schedules the next attempt.

    On a backend without deferred runs the attempt is left due (`next_attempt_at`) for
    `resend_face_notifications`, so no notification is lost either way.
    """
    acknowledged = sandbox.deliver(token)
    if not acknowledged:
        session = sandbox.get_session(token)
        backend = task_backends[deliver_face_notification.backend]
        if session.next_attempt_at is not None and backend.supports_defer:
            deliver_face_notification.using(run_after=session.next_attempt_at).enqueue(token)
    return acknowledged


@task
def resend_face_notifications() -> int:
    """Sweep: retries every face notification whose next attempt is due; returns how many were acked."""
    return sum(1 for token in sandbox.due_notifications(timezone.now()) if sandbox.deliver(token))


@task
def expire_face_checks() -> int:
    """Expires pending face checks older than 10 minutes (run every minute)."""
    from huibao.identity.services import expire_pending_face_checks

    return expire_pending_face_checks(timezone.now())


__all__ = ["deliver_face_notification", "expire_face_checks", "resend_face_notifications"]
