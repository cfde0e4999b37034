"""Read-side facts about a payment, computed here only: whether it is still open (the payer may
still pay it) and whether it ended without the money being kept."""

from __future__ import annotations

import datetime

from django.utils import timezone

from huibao.payment.models import Payment
from huibao.payment.states import OPEN_STATUSES, PaymentStatus


def is_open(payment: Payment, *, now: datetime.datetime | None = None) -> bool:
    """The payer may still pay: created or pending, and not past its time."""
    return payment.status in OPEN_STATUSES and payment.expires_at > (now or timezone.now())


def ended_unpaid(status: str | None) -> bool:
    """A payment in `status` (None: no payment) ended without the money being kept (failed,
    expired, or refused and refunded): nothing can still confirm it."""
    return status is None or (status not in OPEN_STATUSES and status != PaymentStatus.SUCCEEDED)


def status_of(payment_id: int | None) -> str | None:
    """The payment's status, or None when there is no such payment."""
    if payment_id is None:
        return None
    return Payment.objects.filter(pk=payment_id).values_list("status", flat=True).first()
