"""The insurers' side of claims in the background: the claim delivery task (re-queued on its
back-off where the backend can defer, else left due for the sweep), the sweep, the listener on
`claim_status_changed` and the daily overdue job. Registered by `ClaimConfig.ready()`."""

from __future__ import annotations

from django.db import transaction
from django.tasks import task, task_backends
from django.utils import timezone

from huibao.claim import insurer
from huibao.claim.insurer_models import InsurerClaimDelivery
from huibao.claim.insurer_states import ClaimDeliveryStatus
from huibao.claim.lifecycle import ClaimStatusChanged
from huibao.claim.states import ClaimStatus
from huibao.jobs.registry import JobContext


@task
def deliver_claim_task(delivery_id: int) -> str:
    """One attempt to send a claim to its insurer; schedules the next one where it can."""
    status = insurer.deliver_claim(delivery_id)
    if status in (ClaimDeliveryStatus.FAILED, ClaimDeliveryStatus.SENT):
        due = (
            InsurerClaimDelivery.objects.filter(pk=delivery_id)
            .values_list("next_attempt_at", flat=True)
            .first()
        )
        if due is not None and task_backends[deliver_claim_task.backend].supports_defer:
            deliver_claim_task.using(run_after=due).enqueue(delivery_id)
    return status


@task
def retry_due_claim_deliveries() -> int:
    """Sweep: one attempt for every claim delivery that is due; returns how many are now sent."""
    now = timezone.now()
    return sum(
        1
        for pk in insurer.due_claim_deliveries(now)
        if insurer.deliver_claim(pk, now=now) == ClaimDeliveryStatus.SENT
    )


def on_claim_status_changed(event: ClaimStatusChanged) -> None:
    """Complete materials of a connector-mode insurer's claim: its delivery, sent after commit."""
    if event.to_status == ClaimStatus.MATERIALS_COMPLETE:
        delivery_id = insurer.open_delivery(event.claim_id, claim=event.claim)
        if delivery_id is not None:
            transaction.on_commit(lambda: deliver_claim_task.enqueue(delivery_id))
    insurer.follow_claim(event.claim_id, event.to_status, from_status=event.from_status)


def overdue_job(ctx: JobContext) -> None:
    """Daily: flags claims past their insurer's promised time and tells the claims staff."""
    ctx.check_stop()
    flagged = insurer.flag_overdue(timezone.now())
    ctx.progress(len(flagged), len(flagged))
