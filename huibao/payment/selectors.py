"""Read-side facts about a payment, computed here only: whether it is still open (the payer may
still pay it) and whether it ended without the money being kept."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from huibao.core.errors import NotFound
from huibao.payment import rules
from huibao.payment.models import Payment, Refund
from huibao.payment.states import OPEN_STATUSES, PaymentStatus, RefundStatus


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


def refusal_text(payment: Payment) -> str | None:
    """Why a refused payment was refused, how much was refunded and when (None unless refused)."""
    if payment.status != PaymentStatus.REFUSED:
        return None
    refund = (
        Refund.objects.filter(payment=payment, status=RefundStatus.SUCCEEDED).order_by("-created_at").first()
    )
    refunded_on = timezone.localdate(refund.created_at) if refund is not None else None
    return rules.refusal_text(payment.failure_reason, payment.refunded_amount, refunded_on)


PaymentViewer = Callable[[str, Any], bool]
# Who may see payments of a reference kind: registered by the app that owns the kind.
_viewers: dict[str, PaymentViewer] = {}


def register_payment_viewer(reference_kind: str, fn: PaymentViewer) -> None:
    """`fn(reference_id, user)` says whether `user` may see payments of that reference."""
    _viewers[reference_kind] = fn


def payment_for_viewer(user: Any, public_id: uuid.UUID) -> Payment:
    """The payment, when `user` may see it; otherwise (or unknown, or a kind nobody registered) 404."""
    payment = Payment.objects.filter(public_id=public_id).first()
    viewer = _viewers.get(payment.reference_kind) if payment is not None else None
    if payment is None or viewer is None or not viewer(payment.reference_id, user):
        raise NotFound("支付记录不存在", code="payment_not_found")
    return payment
