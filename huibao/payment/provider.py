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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

from django.conf import settings

from huibao.payment.errors import InvalidSignature
from huibao.payment.models import Payment, Payout

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
    # The gateway enforced the order's real-name binding (Alipay `ext_user_info` with
    # need_check_info=T, WeChat Pay `payer.identity`): only the bound payer could pay, and the
    # gateway does not report the payer's name or ID number back.
    payer_bound: bool = False
    # The gateway's own number for the trade when it differs from `provider_txn_id` (Alipay's
    # trade_no, WeChat Pay's transaction_id, assigned only when the payer pays).
    trade_no: str = ""


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


@dataclass(frozen=True, slots=True)
class MandateChargeRequest:
    """One charge of a batch (`BatchMandateProvider.charge_mandates`)."""

    agreement_id: str
    amount: Decimal
    out_trade_no: str


class MandateProvider(Protocol):
    """A provider that charges stored authorisations. `charge_mandate` is idempotent on
    `out_trade_no`: the same reference names the same charge, never a second one."""

    name: str

    def create_mandate(self, *, payer_name: str, payer_id_number: str, account_number: str) -> Mandate: ...

    def revoke_mandate(self, agreement_id: str) -> None: ...

    def charge_mandate(self, agreement_id: str, amount: Decimal, out_trade_no: str) -> ChargeAccepted: ...


@runtime_checkable
class BatchMandateProvider(Protocol):
    """A mandate provider that also takes a day's charges in one call: `charge_mandates` answers
    what `charge_mandate` would for each, in order, with the same idempotency on `out_trade_no`.
    A provider without it is called once per charge."""

    def charge_mandates(self, charges: Sequence[MandateChargeRequest]) -> list[ChargeAccepted]: ...


# --- payouts (money out to a bank account: 企业付款 / 单笔转账) ------------------------------------

PayoutResultStatus = Literal["processing", "success", "failed"]


@dataclass(frozen=True, slots=True)
class PayoutRequest:
    """What one submission sends: `out_biz_no` names the attempt (the provider is idempotent on
    it: the same number never transfers twice)."""

    out_biz_no: str
    amount_fen: int
    payee_name: str
    account_number: str
    bank_name: str
    memo: str


@dataclass(frozen=True, slots=True)
class PayoutAccepted:
    """The provider took the transfer; its result comes later by a signed notification (or a query)."""

    provider_trade_no: str


@dataclass(frozen=True, slots=True)
class PayoutRefused:
    """The provider refused the transfer at once (synchronous answer): nothing was sent."""

    code: str
    reason: str
    retryable: bool


@dataclass(frozen=True, slots=True)
class PayoutResult:
    """A transfer's result, from a verified notification or a query."""

    out_biz_no: str
    provider_trade_no: str
    status: PayoutResultStatus
    amount_fen: int | None = None
    failure_code: str = ""
    reason: str = ""
    retryable: bool = False


@dataclass(frozen=True, slots=True)
class PayoutNotice:
    """A verified payout notification: the signature matched; freshness is checked by the service."""

    notify_id: str
    sent_at: datetime.datetime
    result: PayoutResult


class PayoutProviderUnavailable(Exception):
    """The provider could not be reached or did not answer: whether it took the transfer is
    unknown, so the same attempt (the same `out_biz_no`) is sent again later."""


class PayoutProvider(Protocol):
    name: str

    def submit_payout(self, request: PayoutRequest) -> PayoutAccepted | PayoutRefused: ...

    def parse_payout_notification(self, headers: Mapping[str, str], body: bytes) -> PayoutNotice:
        """Verifies the signature (raises `InvalidSignature`) and reads the result."""
        ...

    def query_payout(self, payout: Payout) -> PayoutResult:
        """The result of the payout's current attempt (`payout.out_biz_no`)."""
        ...


_PAYOUT_PROVIDERS: dict[str, PayoutProvider] = {}


def register_payout_provider(provider: PayoutProvider) -> None:
    """Adds (or replaces) a payout adapter under its name."""
    _PAYOUT_PROVIDERS[provider.name] = provider


def get_payout_provider(name: str) -> PayoutProvider:
    try:
        return _PAYOUT_PROVIDERS[name]
    except KeyError:
        raise InvalidSignature(f"unknown payout provider '{name}'", code="unknown_provider") from None


def default_payout_provider_name() -> str:
    return str(settings.PAYOUT_PROVIDER)


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


def takes_mandate_batches(name: str) -> bool:
    """Whether the mandate provider `name` takes a batch of charges in one call
    (`BatchMandateProvider`). A caller charging many without it should charge one per transaction,
    not hold a batch's locks across one network call per charge (the billing run does)."""
    return isinstance(_MANDATE_PROVIDERS.get(name), BatchMandateProvider)


def provider_names() -> list[str]:
    """The names of the registered payment adapters."""
    return sorted(_PROVIDERS)


def get_provider(name: str) -> PaymentProvider:
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise InvalidSignature(f"unknown payment provider '{name}'", code="unknown_provider") from None


def default_provider_name() -> str:
    return str(settings.PAYMENT_PROVIDER)
