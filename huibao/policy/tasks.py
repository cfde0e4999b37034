"""Background tasks (Django's tasks framework; durable django_tasks_db backend in deployments).

On a backend without deferred runs a delivery to retry is left due (`next_attempt_at`) for the
`retry_due_deliveries` sweep, so nothing is lost either way.
"""

from __future__ import annotations

from typing import Any

from django.tasks import task, task_backends
from django.utils import timezone

from huibao.policy.states import DeliveryStatus


@task
def render_epolicy_task(policy_id: int) -> str | None:
    """Renders and signs the e-policy of a policy (idempotent: an existing one is kept)."""
    from huibao.policy.documents import render_epolicy
    from huibao.policy.models import Policy

    policy = Policy.objects.filter(pk=policy_id).first()
    if policy is None:
        return None
    return str(render_epolicy(policy).public_id)


@task
def render_endorsement_task(endorsement_id: int) -> str | None:
    """Renders and signs the 批单 of an applied endorsement (idempotent)."""
    from huibao.policy.endorsement_documents import render_endorsement

    document = render_endorsement(endorsement_id)
    return str(document.public_id) if document is not None else None


@task
def deliver_policy(delivery_id: int) -> str:
    """One attempt to send a delivery (a policy, an endorsement or a cancellation) to its
    insurer; schedules the next one where it can."""
    from huibao.policy import delivery
    from huibao.policy.models import InsurerDelivery

    status = delivery.deliver(delivery_id)
    if status in (DeliveryStatus.FAILED, DeliveryStatus.SENT):
        row = InsurerDelivery.objects.filter(pk=delivery_id).values_list("next_attempt_at", flat=True).first()
        backend = task_backends[deliver_policy.backend]
        if row is not None and backend.supports_defer:
            deliver_policy.using(run_after=row).enqueue(delivery_id)
    return status


@task
def retry_due_deliveries() -> int:
    """Sweep: one attempt for every delivery that is due; returns how many are now sent."""
    from huibao.policy import delivery

    now = timezone.now()
    return sum(
        1 for pk in delivery.due_deliveries(now) if delivery.deliver(pk, now=now) == DeliveryStatus.SENT
    )


@task
def recover_issuance() -> dict[str, Any]:
    from huibao.policy import services

    return services.recover_issuance()


@task
def update_policy_statuses() -> dict[str, int]:
    from huibao.policy import services

    return services.update_policy_statuses()


@task
def refund_cancellation(cancellation_id: int) -> str:
    """Refunds a confirmed cancellation (idempotent: parts refunded are not refunded again)."""
    from huibao.policy import cancellation

    return cancellation.refund(cancellation_id)


__all__ = [
    "deliver_policy",
    "recover_issuance",
    "refund_cancellation",
    "render_endorsement_task",
    "render_epolicy_task",
    "retry_due_deliveries",
    "update_policy_statuses",
]
