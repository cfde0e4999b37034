"""Background tasks (Django's tasks framework; durable django_tasks_db backend in deployments)."""

from __future__ import annotations

from django.tasks import task
from django.utils import timezone


@task
def expire_face_checks() -> int:
    """Expires pending face checks older than 10 minutes (run every minute)."""
    from huibao.identity.services import expire_pending_face_checks

    return expire_pending_face_checks(timezone.now())


__all__ = ["expire_face_checks"]
