"""Background work of the claim app: telling each insured of an automatic benefit (after the
event's commit, and the daily sweep `claim.trigger_notices` for any a lost task left)."""

from __future__ import annotations

from django.db import transaction
from django.tasks import task
from django.utils import timezone

from huibao.claim import notices
from huibao.claim.event_models import TriggeredPayout, TriggeredPayoutStatus
from huibao.core.money import format_cny
from huibao.jobs.registry import JobContext
from huibao.notification.services import notify


def notify_pending(*, event_pk: int | None = None, limit: int = 5000) -> int:
    """Tells each insured of their automatic benefit once (the outbox's dedup key holds it under
    retries); returns how many it told. The task after an event, and the daily sweep."""
    pending = TriggeredPayout.objects.filter(notified_at__isnull=True).select_related("policy__customer")
    if event_pk is not None:
        pending = pending.filter(event_id=event_pk)
    told = 0
    for tp in pending.order_by("pk")[:limit]:
        with transaction.atomic():
            customer = tp.policy.customer
            if customer is not None:
                waiting = tp.status == TriggeredPayoutStatus.AWAITING_ACCOUNT
                notify(
                    user=customer,
                    template=notices.TRIGGER_UNCLAIMED if waiting else notices.TRIGGER_PAID,
                    context={
                        "policy_number": tp.policy.number,
                        "line": tp.line,
                        "amount": format_cny(tp.amount),
                    },
                    dedup_key=f"trigger:{tp.public_id}",
                    reference=tp.policy.number,
                )
                told += 1
            TriggeredPayout.objects.filter(pk=tp.pk).update(notified_at=timezone.now())
    return told


@task
def notify_triggered_payouts(event_pk: int) -> int:
    """After an event's commit: one message to each insured it paid (once: `notified_at`)."""
    return notify_pending(event_pk=event_pk)


def trigger_notices_job(ctx: JobContext) -> None:
    """Daily job: the automatic benefits whose message a lost task never wrote."""
    while not ctx.should_stop:
        if (
            notify_pending(limit=500) == 0
            and not TriggeredPayout.objects.filter(notified_at__isnull=True).exists()
        ):
            return
