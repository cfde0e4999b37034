"""The payment-provider interface and the sandbox provider.

A provider creates a hosted checkout, verifies and parses the provider's notifications, refunds
and answers status queries. `SandboxPaymentProvider` talks to the in-process sandbox gateway
(`huibao.payment.sandbox`) the way a real provider talks to its remote gateway: only through the
checkout it opened, the notifications it signs, and its refund/query calls.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

from django.conf import settings
from django.urls import reverse

from huibao.core.money import to_fen_int
from huibao.payment import rules, sandbox
from huibao.payment.errors import InvalidSignature
from huibao.payment.models import Payment

NotificationStatus = Literal["success", "failed", "expired"]

HEADER_TIMESTAMP = sandbox.HEADER_TIMESTAMP
HEADER_NOTIFY_ID = sandbox.HEADER_NOTIFY_ID
HEADER_SIGNATURE = sandbox.HEADER_SIGNATURE
sandbox_secret = sandbox.sandbox_secret


@dataclass(frozen=True, slots=True)
class Checkout:
    url: str
    provider_txn_id: str


@dataclass(frozen=True, slots=True)
class Notification:
    """A verified notification: the signature matched; freshness is checked by the service."""

    notify_id: str
    sent_at: datetime.datetime
    merchant_ref: str
    provider_txn_id: str
    status: NotificationStatus
    amount_fen: int
    payer_name: str
    payer_id_number: str
    reason: str


@dataclass(frozen=True, slots=True)
class RefundResult:
    ok: bool
    provider_refund_id: str
    message: str = ""


class PaymentProvider(Protocol):
    name: str

    def create_checkout(self, payment: Payment) -> Checkout: ...

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification: ...

    def refund(self, payment: Payment, amount: Decimal) -> RefundResult: ...

    def query(self, payment: Payment) -> str: ...


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return str(value)
    raise InvalidSignature(f"notification header {name} is missing", code="missing_header")


class SandboxPaymentProvider:
    """Sandbox gateway: hosted pay page, HMAC-SHA256 signed notifications retried until acknowledged."""

    name = "sandbox"

    def create_checkout(self, payment: Payment) -> Checkout:
        notify_url = settings.HUIBAO_PUBLIC_URL.rstrip("/") + reverse("payment:notify", args=[self.name])
        txn_id = sandbox.open_checkout(
            merchant_ref=payment.merchant_ref,
            amount_fen=to_fen_int(payment.amount),
            notify_url=notify_url,
            expires_at=payment.expires_at,
        )
        url = settings.HUIBAO_PUBLIC_URL.rstrip("/") + reverse("payment:sandbox_pay", args=[txn_id])
        return Checkout(url=url, provider_txn_id=txn_id)

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        timestamp = _header(headers, HEADER_TIMESTAMP)
        notify_id = _header(headers, HEADER_NOTIFY_ID)
        signature = _header(headers, HEADER_SIGNATURE)
        if not rules.signature_valid(sandbox_secret(), timestamp, notify_id, body, signature):
            raise InvalidSignature("notification signature does not verify", code="bad_signature")
        try:
            data = json.loads(body)
            sent_at = datetime.datetime.fromtimestamp(int(timestamp), tz=datetime.UTC)
            notification = Notification(
                notify_id=str(data["notify_id"]),
                sent_at=sent_at,
                merchant_ref=str(data["merchant_ref"]),
                provider_txn_id=str(data["txn_id"]),
                status=data["status"],
                amount_fen=int(data["amount_fen"]),
                payer_name=str(data.get("payer_name", "")),
                payer_id_number=str(data.get("payer_id_number", "")),
                reason=str(data.get("reason", "")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidSignature(f"notification body is malformed: {exc}", code="malformed") from exc
        if notification.notify_id != notify_id:
            raise InvalidSignature("notify_id in the body differs from the header", code="notify_id_mismatch")
        if notification.status not in ("success", "failed", "expired"):
            raise InvalidSignature(f"unknown notification status '{notification.status}'", code="malformed")
        return notification

    def refund(self, payment: Payment, amount: Decimal) -> RefundResult:
        try:
            refund_id = sandbox.refund(payment.provider_txn_id, to_fen_int(amount))
        except sandbox.SandboxError as exc:
            return RefundResult(ok=False, provider_refund_id="", message=str(exc))
        return RefundResult(ok=True, provider_refund_id=refund_id)

    def query(self, payment: Payment) -> str:
        return sandbox.checkout_status(payment.provider_txn_id)


_PROVIDERS: dict[str, PaymentProvider] = {"sandbox": SandboxPaymentProvider()}


def get_provider(name: str) -> PaymentProvider:
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise InvalidSignature(f"unknown payment provider '{name}'", code="unknown_provider") from None


def default_provider_name() -> str:
    return str(getattr(settings, "PAYMENT_PROVIDER", "sandbox"))
