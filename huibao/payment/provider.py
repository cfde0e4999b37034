"""The payment-provider port: its interface and the registry of its adapters.

A provider creates a hosted checkout, verifies and parses the provider's notifications, refunds
and answers status queries. Adapters register themselves (`register_provider`) from their app's
`AppConfig.ready()`: the sandbox gateway's adapter is the `sandbox` app's; a real gateway's is one
more class with the same methods. `settings.PAYMENT_PROVIDER` names the one new payments use.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

from django.conf import settings

from huibao.payment.errors import InvalidSignature
from huibao.payment.models import Payment

NotificationStatus = Literal["success", "failed", "expired"]
# What the notify endpoint answers a notification it has taken (the providers stop retrying).
ACK = "success"


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


_PROVIDERS: dict[str, PaymentProvider] = {}


def register_provider(provider: PaymentProvider) -> None:
    """Adds (or replaces) an adapter under its name."""
    _PROVIDERS[provider.name] = provider


def get_provider(name: str) -> PaymentProvider:
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise InvalidSignature(f"unknown payment provider '{name}'", code="unknown_provider") from None


def default_provider_name() -> str:
    return str(settings.PAYMENT_PROVIDER)
