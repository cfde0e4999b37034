"""Background tasks (Django's tasks framework; durable django_tasks_db backend by default, the
RQ backend for scale: `docs/notification.md`).

`send_outbox_message` is enqueued when the business transaction that wrote the row commits;
on a backend with deferred runs a failed send enqueues its own retry at `next_attempt_at`. The
sweep `send_due_messages` (run by `run_sweeps`) re-queues sends whose worker died and sends
every due row, so a lost enqueue or a backend without deferral loses nothing.
"""

from __future__ import annotations

from django.tasks import task, task_backends


@task
def send_outbox_message(message_id: int) -> str:
    from huibao.notification import sending
    from huibao.notification.models import OutboxMessage
    from huibao.notification.states import OutboxStatus

    status = sending.send(message_id)
    if status == OutboxStatus.FAILED:
        due = OutboxMessage.objects.filter(pk=message_id).values_list("next_attempt_at", flat=True).first()
        if due is not None and task_backends[send_outbox_message.backend].supports_defer:
            send_outbox_message.using(run_after=due).enqueue(message_id)
    return status


@task
def send_due_messages() -> dict[str, int]:
    """Sweep: re-queue stuck sends, then one attempt for every due row."""
    from huibao.notification import sending
    from huibao.notification.states import OutboxStatus

    requeued = sending.requeue_stuck()
    sent = sum(1 for pk in sending.due_messages() if sending.send(pk) == OutboxStatus.SENT)
    return {"requeued": requeued, "sent": sent}


__all__ = ["send_due_messages", "send_outbox_message"]
