"""Background tasks (Django's tasks framework; the durable django_tasks_db backend by default).

`deliver_webhook` is enqueued when the transaction that published the event commits; on a
backend with deferred runs a failed attempt enqueues its own retry at `next_attempt_at`. The
sweep `deliver_due_webhooks` (run by `run_sweeps`) hands back attempts whose worker died and
sends every due delivery, so a lost enqueue, a killed worker or a backend without deferral loses
nothing.
"""

from __future__ import annotations

from django.tasks import task, task_backends


@task
def deliver_webhook(delivery_id: int) -> str:
    from huibao.webhook import sending
    from huibao.webhook.models import WebhookDelivery
    from huibao.webhook.states import DeliveryStatus

    status = sending.send(delivery_id)
    if status == DeliveryStatus.FAILED:
        due = WebhookDelivery.objects.filter(pk=delivery_id).values_list("next_attempt_at", flat=True).first()
        if due is not None and task_backends[deliver_webhook.backend].supports_defer:
            deliver_webhook.using(run_after=due).enqueue(delivery_id)
    return status


@task
def deliver_due_webhooks() -> dict[str, int]:
    """Sweep: hand back stuck attempts, then one attempt for every due delivery (`sending.sweep`)."""
    from huibao.webhook import sending

    return sending.sweep()


__all__ = ["deliver_due_webhooks", "deliver_webhook"]
