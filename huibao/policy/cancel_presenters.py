"""What the cancellation pages and the API show: the refund explained line by line (translated
from the msgids the refund rules keep), the status, and the refund's parts with masked references."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext

from huibao.core.money import format_cny
from huibao.policy.models import Cancellation, CancellationRefund, InsurerDelivery
from huibao.policy.refund_rules import RefundQuote
from huibao.policy.states import (
    CancellationKind,
    CancellationReason,
    CancellationStatus,
    DeliveryStatus,
    RefundPartStatus,
)


def insurer_told(c: Cancellation) -> bool:
    """Whether the insurer has acknowledged the cancellation's delivery (退保信息回传)."""
    return InsurerDelivery.objects.filter(cancellation=c, status=DeliveryStatus.ACKNOWLEDGED).exists()


def lines(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The explanation: label, signed amount (string and formatted) and the basis, translated."""
    shown = []
    for row in rows:
        amount = Decimal(str(row["amount"]))
        params = {k: str(v) for k, v in dict(row.get("params") or {}).items()}
        try:
            basis = gettext(str(row["basis"])).format(**params)
        except (KeyError, IndexError, ValueError):
            basis = str(row.get("basis_text", ""))
        shown.append(
            {
                "code": str(row["code"]),
                "label": gettext(str(row["label"])),
                "amount": f"{amount:.2f}",
                "display": ("−" if amount < 0 else "") + format_cny(abs(amount)),
                "basis": basis,
                "deduction": amount < 0,
            }
        )
    return shown


def quote_view(result: RefundQuote) -> dict[str, Any]:
    return {
        "kind": str(result.kind),
        "kind_label": str(CancellationKind(str(result.kind)).label),
        "method": result.method,
        "paid": f"{result.paid:.2f}",
        "amount": f"{result.amount:.2f}",
        "amount_display": format_cny(result.amount),
        "lines": lines(result.lines_json()),
    }


def _part(part: CancellationRefund) -> dict[str, Any]:
    return {
        "amount": f"{part.amount:.2f}",
        "amount_display": format_cny(part.amount),
        "status": part.status,
        "status_label": str(RefundPartStatus(part.status).label),
        # The payment's own reference (not the account): which payment the money goes back to.
        "payment": str(part.payment.public_id),
        "paid_at": timezone.localtime(part.payment.paid_at) if part.payment.paid_at else None,
    }


def cancellation_view(c: Cancellation, parts: Iterable[CancellationRefund] = ()) -> dict[str, Any]:
    return {
        "id": c.public_id,
        "policy_id": c.policy.public_id,
        "policy_number": c.policy.number,
        "kind": c.kind,
        "kind_label": str(CancellationKind(c.kind).label),
        "status": c.status,
        "status_label": str(CancellationStatus(c.status).label),
        "method": c.method,
        "request_date": c.request_date,
        "paid": f"{c.paid:.2f}",
        "amount": f"{c.amount:.2f}",
        "amount_display": format_cny(c.amount),
        "refunded": f"{c.refunded:.2f}",
        "lines": lines(c.lines),
        "reason": c.reason,
        "reason_label": str(CancellationReason(c.reason).label),
        "reason_text": c.reason_text,
        "created_at": timezone.localtime(c.created_at),
        "confirmed_at": timezone.localtime(c.confirmed_at) if c.confirmed_at else None,
        "completed_at": timezone.localtime(c.completed_at) if c.completed_at else None,
        "insurer_notified": insurer_told(c),
        "refunds": [_part(p) for p in parts],
    }
