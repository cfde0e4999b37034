"""Background tasks of the application flow (Django tasks; durable database backend)."""

from __future__ import annotations

from django.tasks import task
from django.utils import timezone


@task
def render_application_form(public_id: str) -> str:
    """Renders and PAdES-signs the application form of a signed application (idempotent)."""
    from huibao.application.documents import render_application_form as render
    from huibao.application.models import Application

    app = Application.objects.get(public_id=public_id)
    return str(render(app).public_id)


@task
def expire_applications() -> int:
    from huibao.application.services.close import expire_applications as expire

    return expire(timezone.now())


@task
def recover_paid_applications() -> list[str]:
    from huibao.application.services.pay import recover_paid_applications as recover

    return recover()
