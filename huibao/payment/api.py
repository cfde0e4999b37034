"""`GET /api/v1/payments/{id}`: a payment's status, amount and refunds, for the payer's account.

A payment belongs to something else (an application…), identified by `reference_kind` and
`reference_id`; the app that owns that kind registers who may see its payments
(`register_payment_viewer`), so this module knows nothing of applications. Anyone else — and any
payment of a kind nobody registered — gets 404.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.security import django_auth

from huibao.core.api_schemas import errors
from huibao.payment import selectors
from huibao.payment.models import Payment
from huibao.payment.states import PaymentStatus, RefundStatus

router = Router(tags=["payments"], auth=django_auth)

# Who may see a payment is the selectors' (the pages ask it too); re-exported for the owners.
PaymentViewer = selectors.PaymentViewer
register_payment_viewer = selectors.register_payment_viewer
_viewers = selectors._viewers


class RefundOut(Schema):
    id: uuid.UUID
    amount: str = Field(..., examples=["100.00"])
    reason: str
    status: str = Field(..., examples=["succeeded"])
    status_label: str
    created_at: datetime.datetime


class PaymentOut(Schema):
    id: uuid.UUID
    reference_kind: str = Field(..., examples=["application"])
    reference_id: str
    status: str = Field(..., examples=["succeeded"])
    status_label: str = Field(..., examples=["支付成功"])
    amount: str = Field(..., examples=["100.00"])
    refunded_amount: str = Field(..., examples=["0.00"])
    failure_reason: str = Field(..., examples=[""])
    checkout_url: str | None = Field(..., description="the hosted pay page while the payment is open")
    created_at: datetime.datetime
    expires_at: datetime.datetime
    paid_at: datetime.datetime | None
    refunds: list[RefundOut]


payment_for_viewer = selectors.payment_for_viewer


def payment_out(payment: Payment) -> dict[str, Any]:
    is_open = selectors.is_open(payment)
    return {
        "id": payment.public_id,
        "reference_kind": payment.reference_kind,
        "reference_id": payment.reference_id,
        "status": payment.status,
        "status_label": str(PaymentStatus(payment.status).label),
        "amount": f"{payment.amount:.2f}",
        "refunded_amount": f"{payment.refunded_amount:.2f}",
        "failure_reason": payment.failure_reason,
        "checkout_url": payment.checkout_url if is_open else None,
        "created_at": payment.created_at,
        "expires_at": payment.expires_at,
        "paid_at": payment.paid_at,
        "refunds": [
            {
                "id": r.public_id,
                "amount": f"{r.amount:.2f}",
                "reason": r.reason,
                "status": r.status,
                "status_label": str(RefundStatus(r.status).label),
                "created_at": r.created_at,
            }
            for r in payment.refunds.order_by("id")
        ],
    }


@router.get(
    "/payments/{public_id}",
    response={200: PaymentOut, **errors(404)},
    summary="支付详情",
    description="Status, amount, time paid and refunds of one of the caller's payments.",
)
def get_payment(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    return payment_out(payment_for_viewer(request.user, public_id))
