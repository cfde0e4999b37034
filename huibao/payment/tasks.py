"""Background tasks (Django's tasks framework; durable django_tasks_db backend in deployments)."""

from __future__ import annotations

import logging

from django.tasks import task, task_backends
from django.utils import timezone

log = logging.getLogger(__name__)


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


# Payouts per `submit_payouts_task`: a flight's 10,000 first submissions are 20 tasks, not
# 10,000 rows in the queue, and still spread over the workers.
SUBMIT_BATCH = 500


@task
def submit_payouts_task(payout_ids: list[int]) -> dict[str, int]:
    """The first submissions of a batch of payouts (`payouts.request_payouts`), each exactly as
    `submit_payout_task` sends it: its own row lock and transaction, so one payout that cannot be
    sent stops none of the others. Each one left due again (a retry after a failure, the provider
    unreachable) gets its own `submit_payout_task` at that time where the backend can defer, else
    the sweep `retry_due_payouts` finds it. Returns how many ended in each outcome; a payout whose
    sending raised is counted as "error", logged, and makes the task fail once the others are sent
    (the sweep sends it again: its next attempt stays due)."""
    from huibao.payment import payouts
    from huibao.payment.models import Payout

    outcomes: dict[str, int] = {}
    failed: list[int] = []
    for payout_id in payout_ids:
        try:
            outcome = payouts.submit_payout(payout_id)
        except Exception:
            log.exception("payout %s: submission failed; the sweep sends it again", payout_id)
            failed.append(payout_id)
            outcome = "error"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    if task_backends[submit_payout_task.backend].supports_defer:
        due = Payout.objects.filter(pk__in=payout_ids, next_attempt_at__isnull=False).exclude(pk__in=failed)
        for payout_id, when in due.values_list("pk", "next_attempt_at"):
            submit_payout_task.using(run_after=when).enqueue(payout_id)
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(payout_ids)} payouts could not be sent: {failed[:20]}")
    return outcomes


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


__all__ = [
    "expire_unpaid_payments",
    "query_stale_payouts",
    "retry_due_payouts",
    "submit_payout_task",
    "submit_payouts_task",
]
