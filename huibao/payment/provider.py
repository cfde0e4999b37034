"""The payment-provider port: its interface and the registry of its adapters.

A provider creates a hosted checkout, verifies and parses the provider's notifications, refunds
and answers status queries; one that supports stored authorisations (代扣) also signs, revokes
and charges mandates (`MandateProvider`, registered with `register_mandate_provider`).
Adapters register themselves (`register_provider`) from their app's `AppConfig.ready()`: the
sandbox gateway's adapter is the `sandbox` app's; a real gateway's is one more class with the
same methods. `settings.PAYMENT_PROVIDER` names the one new payments use.
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


@dataclass(frozen=True, slots=True)
class Mandate:
    """A stored payment authorisation (代扣协议) the payer signed at the provider."""

    agreement_id: str
    masked_account: str


@dataclass(frozen=True, slots=True)
class ChargeAccepted:
    """The provider took a mandate charge; its outcome comes later by the usual signed
    notification (success, or failed with a reason such as insufficient_funds, mandate_revoked)."""

    provider_txn_id: str


class MandateProvider(Protocol):
    """A provider that charges stored authorisations. `charge_mandate` is idempotent on
    `out_trade_no`: the same reference names the same charge, never a second one."""

    name: str

    def create_mandate(self, *, payer_name: str, payer_id_number: str, account_number: str) -> Mandate: ...

    def revoke_mandate(self, agreement_id: str) -> None: ...

    def charge_mandate(self, agreement_id: str, amount: Decimal, out_trade_no: str) -> ChargeAccepted: ...


_PROVIDERS: dict[str, PaymentProvider] = {}
_MANDATE_PROVIDERS: dict[str, MandateProvider] = {}


def register_provider(provider: PaymentProvider) -> None:
    """Adds (or replaces) an adapter under its name."""
    _PROVIDERS[provider.name] = provider


def register_mandate_provider(provider: MandateProvider) -> None:
    """Adds (or replaces) an adapter that charges stored authorisations."""
    _MANDATE_PROVIDERS[provider.name] = provider


def get_mandate_provider(name: str) -> MandateProvider:
    try:
        return _MANDATE_PROVIDERS[name]
    except KeyError:
        raise InvalidSignature(
            f"payment provider '{name}' does not charge mandates", code="unknown_provider"
        ) from None


def get_provider(name: str) -> PaymentProvider:
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise InvalidSignature(f"unknown payment provider '{name}'", code="unknown_provider") from None


def default_provider_name() -> str:
    return str(settings.PAYMENT_PROVIDER)
