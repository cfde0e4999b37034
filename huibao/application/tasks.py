"""Background tasks of the application flow (Django tasks; durable database backend)."""

from __future__ import annotations

from django.tasks import task
from django.utils import timezone

from huibao.application import documents
from huibao.application.models import Application
from huibao.application.services import close, pay


@task
def render_application_form(public_id: str) -> str:
    """Renders and PAdES-signs the application form of a signed application (idempotent)."""
    app = Application.objects.get(public_id=public_id)
    return str(documents.render_application_form(app).public_id)


@task
def expire_applications() -> int:
    return close.expire_applications(timezone.now())


@task
def recover_paid_applications() -> list[str]:
    return pay.recover_paid_applications()
