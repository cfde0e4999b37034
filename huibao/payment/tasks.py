"""Background tasks (Django's tasks framework; durable django_tasks_db backend in deployments)."""

from __future__ import annotations

from django.tasks import task, task_backends
from django.utils import timezone


@task
def expire_unpaid_payments() -> int:
    from huibao.payment.services import expire_unpaid

    return expire_unpaid(timezone.now())


@task
def submit_payout_task(payout_id: int) -> str:
    """Sends a payout's due attempt (queued when the request commits); schedules its retry where
    the backend can defer, else the sweep `retry_due_payouts` finds it due."""
    from huibao.payment import payouts
    from huibao.payment.models import Payout

    outcome = payouts.submit_payout(payout_id)
    due = Payout.objects.filter(pk=payout_id).values_list("next_attempt_at", flat=True).first()
    if due is not None and task_backends[submit_payout_task.backend].supports_defer:
        submit_payout_task.using(run_after=due).enqueue(payout_id)
    return outcome


@task
def retry_due_payouts() -> int:
    """Sweep: every payout whose next attempt is due (a lost enqueue, a back-off that ended)."""
    from huibao.payment import payouts

    return payouts.retry_due_payouts(timezone.now())


@task
def query_stale_payouts() -> dict[str, int]:
    """Sweep: asks the provider about submitted payouts that have had no result for a while."""
    from huibao.payment import payouts

    return payouts.query_stale_payouts(timezone.now())


__all__ = ["expire_unpaid_payments", "query_stale_payouts", "retry_due_payouts", "submit_payout_task"]
