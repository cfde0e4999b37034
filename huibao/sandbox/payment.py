"""The sandbox payment gateway: what a remote gateway does, run in-process for development and tests.

It keeps its own ledger (`SandboxCheckout`), serves a hosted pay page (`views.pay`), and tells the
merchant the outcome by an HMAC-SHA256 signed POST to the merchant's notify URL (channel
"payment" of `notifications`), retried on the schedule in `payment.rules.RETRY_DELAYS` until the
merchant answers `success`.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from huibao.core.errors import FieldError, ValidationFailed
from huibao.core.validators import validate_bank_card, validate_resident_id
from huibao.payment import rules
from huibao.sandbox import notifications
from huibao.sandbox.faults import FaultInjector
from huibao.sandbox.models import SandboxCheckout, SandboxCheckoutStatus, SandboxMandate
from huibao.sandbox.notifications import SandboxError

HEADER_TIMESTAMP = "Huibao-Sandbox-Timestamp"
HEADER_NOTIFY_ID = "Huibao-Sandbox-Notify-Id"
HEADER_SIGNATURE = "Huibao-Sandbox-Signature"


def sandbox_secret() -> bytes:
    """settings.PAYMENT_SANDBOX_SECRET, or (development and tests) a key derived from SECRET_KEY."""
    return notifications.derived_secret("PAYMENT_SANDBOX_SECRET", "payment-sandbox")


CHANNEL = notifications.register(
    notifications.Channel(
        name="payment",
        model=SandboxCheckout,
        key_field="txn_id",
        secret=sandbox_secret,
        headers=(HEADER_TIMESTAMP, HEADER_NOTIFY_ID, HEADER_SIGNATURE),
        retry_delay=rules.retry_delay,
    )
)


def open_checkout(
    *,
    merchant_ref: str,
    amount_fen: int,
    notify_url: str,
    expires_at: datetime.datetime,
    bound_name: str = "",
    bound_id_number: str = "",
    return_url: str = "",
) -> str:
    """Opens a hosted checkout. `bound_*`: the real-name binding of the order (the payer the
    merchant expects); `return_url`: where the cashier sends the payer back to."""
    txn_id = "SBX" + secrets.token_hex(12).upper()
    SandboxCheckout.objects.create(
        txn_id=txn_id,
        merchant_ref=merchant_ref,
        amount_fen=amount_fen,
        notify_url=notify_url,
        expires_at=expires_at,
        bound_name=bound_name,
        bound_id_number=bound_id_number,
        return_url=return_url,
    )
    return txn_id


def get_checkout(txn_id: str) -> SandboxCheckout:
    checkout = SandboxCheckout.objects.filter(txn_id=txn_id).first()
    if checkout is None:
        raise SandboxError(f"no sandbox checkout '{txn_id}'")
    return checkout


def checkout_status(txn_id: str) -> str:
    return get_checkout(txn_id).status


def signed_headers(notify_id: str, body: bytes, now: datetime.datetime) -> dict[str, str]:
    return notifications.channel_headers(CHANNEL.name, notify_id, body, now)


def _close(checkout: SandboxCheckout, status: str, *, reason: str = "") -> None:
    """Closes the checkout with `status` and queues the notification the merchant is owed."""
    _decide(checkout, status, reason=reason)
    checkout.save()
    notifications.owe(CHANNEL.name, checkout.txn_id)


def _decide(checkout: SandboxCheckout, status: str, *, reason: str = "") -> None:
    """Sets the checkout's `status` and composes the notification it owes (not saved)."""
    notify_status = {"paid": "success", "failed": "failed", "expired": "expired"}[status]
    checkout.status = status
    checkout.reason = reason
    notify_id = "N" + secrets.token_hex(16)
    body = {
        "notify_id": notify_id,
        "txn_id": checkout.txn_id,
        "merchant_ref": checkout.merchant_ref,
        "status": notify_status,
        "amount_fen": checkout.amount_fen,
        "payer_name": checkout.payer_name,
        "payer_id_number": checkout.payer_id_number or "",
        "reason": reason,
    }
    notifications.compose(checkout, notify_id, body)


# What the cashier tells the payer when a payment did not go through (never the raw code).
REASON_TEXTS = {
    "card_declined": "发卡行拒绝了本次交易，请换一张银行卡重新支付",
    "payer_cancelled": "您已取消支付",
    "transaction_expired": "交易超时，已关闭",
    "checkout_expired": "订单已超过支付时间，已关闭",
    "insufficient_funds": "银行卡余额不足",
    "mandate_revoked": "代扣协议已解除",
}


def reason_text(reason: str) -> str:
    return REASON_TEXTS.get(reason, "交易未完成") if reason else ""


def submit_payment(
    txn_id: str, *, card_number: str, action: str, payer_name: str = "", id_number: str = ""
) -> SandboxCheckout:
    """The payer's submission on the hosted page: pays (or fails) the checkout.

    The payer is the order's real-name binding unless `payer_name` and `id_number` name someone
    else (paying with another person's card: the gateway reports that payer, and the merchant
    decides). Card numbers ending 0002 are declined, ending 0069 make the transaction expire;
    `action` 'fail' is the payer abandoning the payment.
    """
    with transaction.atomic():
        checkout = SandboxCheckout.objects.select_for_update().filter(txn_id=txn_id).first()
        if checkout is None:
            raise SandboxError(f"no sandbox checkout '{txn_id}'")
        if checkout.status != SandboxCheckoutStatus.OPEN:
            raise ValidationFailed(
                "该笔交易已结束",
                code="checkout_closed",
                errors=[FieldError("txn_id", "checkout_closed", "该笔交易已结束，不能再次支付")],
            )
        if timezone.now() >= checkout.expires_at:
            _close(checkout, SandboxCheckoutStatus.EXPIRED, reason="checkout_expired")
            return checkout
        if not payer_name.strip() and not id_number.strip() and checkout.bound_id_number:
            payer_name, id_number = checkout.bound_name, checkout.bound_id_number
        name = payer_name.strip()
        if not name:
            raise ValidationFailed(
                "付款人姓名必填",
                code="required",
                errors=[FieldError("payer_name", "required", "请填写付款人姓名")],
            )
        resident = validate_resident_id(id_number, field="id_number")
        card = validate_bank_card(card_number, field="card_number")
        checkout.payer_name = name
        checkout.payer_id_number = resident.number
        checkout.card_last4 = card[-4:]
        if action == "fail":
            _close(checkout, SandboxCheckoutStatus.FAILED, reason="payer_cancelled")
            return checkout
        outcome = rules.card_outcome(card)
        if outcome == "declined":
            _close(checkout, SandboxCheckoutStatus.FAILED, reason="card_declined")
        elif outcome == "expired":
            _close(checkout, SandboxCheckoutStatus.EXPIRED, reason="transaction_expired")
        else:
            _close(checkout, SandboxCheckoutStatus.PAID)
        return checkout


def deliver(txn_id: str, *, now: datetime.datetime | None = None) -> bool:
    """One delivery attempt of the checkout's notification (see `notifications.deliver`)."""
    return notifications.deliver(CHANNEL.name, txn_id, now=now)


def refund(txn_id: str, amount_fen: int) -> str:
    with transaction.atomic():
        checkout = SandboxCheckout.objects.select_for_update().filter(txn_id=txn_id).first()
        if checkout is None or checkout.status != SandboxCheckoutStatus.PAID:
            raise SandboxError(f"checkout '{txn_id}' was not paid")
        if amount_fen <= 0 or checkout.refunded_fen + amount_fen > checkout.amount_fen:
            raise SandboxError(f"refund of {amount_fen} fen exceeds what is left on '{txn_id}'")
        checkout.refunded_fen += amount_fen
        checkout.save(update_fields=["refunded_fen"])
    return "R" + secrets.token_hex(12).upper()


# --- stored payment authorisations (代扣) -----------------------------------------------------
# Mandate charges fail for insufficient funds at `SANDBOX_MANDATE_FAILURE_RATE` (0.0–1.0), or the
# next n charges when forced (`MANDATE_FAULTS.force(n)`); a card ending 0002 always lacks funds.
MANDATE_FAULTS = FaultInjector("SANDBOX_MANDATE_FAILURE_RATE")


def sign_mandate(*, payer_name: str, id_number: str, card_number: str) -> SandboxMandate:
    """The payer authorises the gateway to charge their card (what the signing page submits)."""
    resident = validate_resident_id(id_number, field="id_number")
    card = validate_bank_card(card_number, field="card_number")
    return SandboxMandate.objects.create(
        agreement_id="AGR" + secrets.token_hex(10).upper(),
        payer_name=payer_name.strip(),
        payer_id_number=resident.number,
        card_last4=card[-4:],
    )


def revoke_mandate(agreement_id: str) -> None:
    SandboxMandate.objects.filter(agreement_id=agreement_id).update(revoked=True)


def charge_mandate(*, agreement_id: str, merchant_ref: str, amount_fen: int, notify_url: str) -> str:
    """Charges a mandate: the charge is decided at once and notified asynchronously, signed, on
    the payment channel. The same `merchant_ref` returns the same charge (never a second)."""
    return charge_mandates([MandateCharge(agreement_id, merchant_ref, amount_fen)], notify_url=notify_url)[0]


@dataclass(frozen=True, slots=True)
class MandateCharge:
    agreement_id: str
    merchant_ref: str
    amount_fen: int


def charge_mandates(charges: Sequence[MandateCharge], *, notify_url: str) -> list[str]:
    """`charge_mandate` for a batch (a day's charges): the transaction ids, in order, of the
    charges — an earlier charge of the same `merchant_ref` answered again, never a second — in
    three statements for the whole batch (the earlier charges, the mandates, one insert of the
    new checkouts with the notifications they owe, each decided as `charge_mandate` decides)."""
    if not charges:
        return []
    with transaction.atomic():
        refs = [c.merchant_ref for c in charges]
        existing = dict(
            SandboxCheckout.objects.select_for_update()
            .filter(merchant_ref__in=refs)
            .values_list("merchant_ref", "txn_id")
        )
        mandates = {
            m.agreement_id: m
            for m in SandboxMandate.objects.filter(agreement_id__in={c.agreement_id for c in charges})
        }
        expires_at = timezone.now() + datetime.timedelta(days=1)
        new: list[SandboxCheckout] = []
        txn_ids: list[str] = []
        for charge in charges:
            known = existing.get(charge.merchant_ref)
            if known is not None:
                txn_ids.append(known)
                continue
            mandate = mandates.get(charge.agreement_id)
            if mandate is None:
                raise SandboxError(f"no sandbox mandate '{charge.agreement_id}'")
            checkout = SandboxCheckout(
                txn_id="SBX" + secrets.token_hex(12).upper(),
                merchant_ref=charge.merchant_ref,
                amount_fen=charge.amount_fen,
                notify_url=notify_url,
                expires_at=expires_at,
                payer_name=mandate.payer_name,
                payer_id_number=mandate.payer_id_number,
                card_last4=mandate.card_last4,
            )
            if mandate.revoked:
                _decide(checkout, SandboxCheckoutStatus.FAILED, reason="mandate_revoked")
            elif mandate.card_last4 == "0002" or MANDATE_FAULTS.take():
                _decide(checkout, SandboxCheckoutStatus.FAILED, reason="insufficient_funds")
            else:
                _decide(checkout, SandboxCheckoutStatus.PAID)
            existing[charge.merchant_ref] = checkout.txn_id  # the same reference twice: one charge
            new.append(checkout)
            txn_ids.append(checkout.txn_id)
        SandboxCheckout.objects.bulk_create(new)
        notifications.owe_many(CHANNEL.name, [c.txn_id for c in new])
    return txn_ids
