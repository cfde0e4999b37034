"""Payment use-cases: create, handle provider notifications, expire, refund.

`handle_notification` is the one entry for provider notifications. It verifies the signature
(forged → rejected, nothing stored but a forensic row), refuses stale timestamps, treats a
notify_id already processed as an idempotent duplicate, then — in one transaction holding the
payment row lock — checks amount and real name, moves the status through TRANSITIONS, writes
the event and audit rows and runs the "on paid" hooks. Hooks run only on the pending → succeeded
move, which the row lock and the guard make happen at most once per payment.

A notification must name the gateway transaction the payment recorded when its checkout was
opened (`provider_txn_id`): one naming another transaction is refused — not applied, not
acknowledged (the gateway's answer for a rejected notification), the payment left as it was, a
warning logged and a `payment.notification_refused` entry in the audit chain.
"""

from __future__ import annotations

import datetime
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from huibao.core.fields import lookup_hash
from huibao.core.hooks import KeyedHook
from huibao.core.masking import mask_name
from huibao.core.money import as_decimal, to_fen, to_fen_int
from huibao.core.receipts import notify_id_of
from huibao.core.states import check_transition
from huibao.core.validators import validate_person_name, validate_resident_id
from huibao.payment import rules
from huibao.payment.errors import InvalidAmount, InvalidSignature, PaymentNotRefundable, TransactionMismatch
from huibao.payment.models import Payment, PaymentEvent, ProviderNotification, Refund
from huibao.payment.provider import (
    BatchMandateProvider,
    MandateChargeRequest,
    Notification,
    default_provider_name,
    get_mandate_provider,
    get_provider,
)
from huibao.payment.states import OPEN_STATUSES, TRANSITIONS, PaymentStatus, RefundStatus

log = logging.getLogger(__name__)

ID_HASH_CONTEXT = "payment.payer_id_number"
PaidHook = Callable[[Payment], None]
# A listener runs inside the transaction that marks a payment of its reference kind paid (once
# per payment); the domain that owns the reference registers it in its `AppConfig.ready()`.
payment_paid: KeyedHook[Payment, None] = KeyedHook("payment.paid")
# Announced inside the transaction that moves a payment of its reference kind to failed or expired,
# or to refused (the money came from someone else or did not match, and was given back): each
# ended without the money being kept, so what it was for may be paid again.
payment_failed: KeyedHook[Payment, None] = KeyedHook("payment.failed")


@dataclass(frozen=True, slots=True)
class RefundSucceeded:
    """A refund the provider made (inside the refunding transaction). `policy_id`: the policy it
    is for, when the caller says so (a payment of an application pays for several policies; the
    ledger books the refund against the one cancelled or endorsed)."""

    refund: Refund
    payment: Payment
    policy_id: int | None = None


# Keyed by the payment's reference kind, like `payment_paid` (the finance ledger listens).
refund_succeeded: KeyedHook[RefundSucceeded, None] = KeyedHook("payment.refund_succeeded")


def register_paid_hook(reference_kind: str, fn: PaidHook) -> None:
    """`fn(payment)` runs inside the transaction that marks a payment of `reference_kind` paid."""
    payment_paid.register(reference_kind, fn)


def unregister_paid_hook(reference_kind: str, fn: PaidHook) -> None:
    payment_paid.unregister(reference_kind, fn)


@dataclass(frozen=True, slots=True)
class NotificationOutcome:
    """`acknowledge` tells the view to answer 'success' (the provider stops retrying)."""

    acknowledge: bool
    code: str
    payment_id: int | None = None
    message: str = ""


def _new_merchant_ref() -> str:
    return "HB" + timezone.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(6).upper()


def _transition(
    payment: Payment,
    target: str,
    *,
    kind: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Moves a locked payment to `target` through the guard, with its event and audit rows."""
    check_transition(TRANSITIONS, payment.status, target, what="payment")
    before = payment.status
    payment.status = target
    payment.save(
        update_fields=[
            "status",
            "failure_reason",
            "paid_at",
            "refunded_amount",
            "paid_by_name",
            "paid_by_id_number",
            "provider_txn_id",
            "checkout_url",
            "updated_at",
        ]
    )
    event = PaymentEvent(
        payment=payment, kind=kind, from_status=before, to_status=target, detail=detail or {}
    )
    event.save()
    audit.record(
        f"payment.{target}",
        "payment",
        str(payment.public_id),
        actor=f"payment:{payment.provider}",
        before={"status": before},
        after={
            "status": target,
            "amount": payment.amount,
            "reason": payment.failure_reason,
            **(detail or {}),
        },
    )


def create_payment(
    *,
    amount: Decimal,
    payer_name: str,
    payer_id_number: str,
    reference_kind: str,
    reference_id: str,
    expires_in: datetime.timedelta,
    provider: str | None = None,
    return_url: str = "",
) -> Payment:
    """Creates a payment for the applicant (`payer_*`) and opens the provider's hosted checkout.

    The payer's name and ID number go to the provider with the order (real-name payment: the
    provider's page shows the bound payer and does not ask them again); `return_url` is where the
    provider's page sends the payer back to once the payment ended."""
    value = to_fen(as_decimal(amount))
    if value <= 0:
        raise InvalidAmount(
            "amount must be positive", errors=[FieldError("amount", "positive", "支付金额必须大于0")]
        )
    if not payer_name.strip():
        raise ValidationFailed(
            "payer_name is required", errors=[FieldError("payer_name", "required", "请填写付款人姓名")]
        )
    payer_name = validate_person_name(payer_name, field="payer_name")
    resident = validate_resident_id(payer_id_number, field="payer_id_number")
    if expires_in <= datetime.timedelta(0):
        raise ValidationFailed(
            "expires_in must be positive",
            errors=[FieldError("expires_in", "positive", "支付有效期必须大于0")],
        )
    if return_url and not _is_own_url(return_url):
        raise ValidationFailed(
            "return_url must be a path or a URL on this site",
            code="return_url_invalid",
            errors=[FieldError("return_url", "return_url_invalid", "支付完成后的返回地址无效")],
        )
    gateway = get_provider(provider or default_provider_name())
    # No savepoint of its own inside a caller's transaction: a failure aborts that one anyway.
    with transaction.atomic(savepoint=False):
        payment = Payment(
            merchant_ref=_new_merchant_ref(),
            reference_kind=reference_kind,
            reference_id=str(reference_id),
            amount=value,
            payer_name=payer_name,
            payer_id_number=resident.number,
            payer_id_number_hash=lookup_hash(resident.number, context=ID_HASH_CONTEXT),
            provider=gateway.name,
            expires_at=timezone.now() + expires_in,
            return_url=return_url[:300],
        )
        # The checkout is opened from the unsaved payment (its public id, merchant reference,
        # amount, payer and expiry are set), then the payment is written once, already pending
        # with the checkout's transaction and address: one INSERT instead of an INSERT and an
        # UPDATE. Its created and checkout-opened events and audit entries are as they were.
        check_transition(TRANSITIONS, payment.status, PaymentStatus.PENDING, what="payment")
        checkout = gateway.create_checkout(payment)
        payment.provider_txn_id = checkout.provider_txn_id
        payment.checkout_url = checkout.url
        payment.status = PaymentStatus.PENDING
        payment.save(force_insert=True)
        as_created = {
            **audit.snapshot(payment),
            "status": PaymentStatus.CREATED,
            "provider_txn_id": "",
            "checkout_url": "",
            # the payer's name is personal data: the chain keeps it masked, like ID numbers
            "payer_name": mask_name(payment.payer_name),
        }
        detail = {"provider_txn_id": checkout.provider_txn_id}
        PaymentEvent.objects.bulk_create(
            [
                PaymentEvent(payment=payment, kind="created", to_status=PaymentStatus.CREATED),
                PaymentEvent(
                    payment=payment,
                    kind="checkout_opened",
                    from_status=PaymentStatus.CREATED,
                    to_status=PaymentStatus.PENDING,
                    detail=detail,
                ),
            ]
        )
        audit.record("payment.created", "payment", str(payment.public_id), actor="system", after=as_created)
        audit.record(
            f"payment.{PaymentStatus.PENDING}",
            "payment",
            str(payment.public_id),
            actor=f"payment:{payment.provider}",
            before={"status": PaymentStatus.CREATED},
            after={
                "status": PaymentStatus.PENDING,
                "amount": payment.amount,
                "reason": payment.failure_reason,
                **detail,
            },
        )
    return payment


def _is_own_url(url: str) -> bool:
    """A path, or a URL on HUIBAO_PUBLIC_URL's host: the provider never sends the payer elsewhere."""
    allowed = {urlsplit(str(settings.HUIBAO_PUBLIC_URL)).netloc}
    return len(url) <= 300 and url_has_allowed_host_and_scheme(url, allowed_hosts=allowed)


def charge_mandate(
    *,
    agreement_id: str,
    amount: Decimal,
    out_trade_no: str,
    payer_name: str,
    payer_id_number: str,
    reference_kind: str,
    reference_id: str,
    provider: str,
    expires_in: datetime.timedelta = datetime.timedelta(days=1),
) -> Payment:
    """Charges a stored authorisation: a payment whose merchant reference is `out_trade_no`,
    pending until the provider's notification (the same `handle_notification`, hooks included).

    Idempotent: a second call with the same `out_trade_no` returns the first payment and charges
    nothing (the unique merchant reference holds it even between two processes)."""
    value = to_fen(as_decimal(amount))
    if value <= 0:
        raise InvalidAmount(
            "amount must be positive", errors=[FieldError("amount", "positive", "支付金额必须大于0")]
        )
    existing = Payment.objects.filter(merchant_ref=out_trade_no).first()
    if existing is not None:
        return existing
    gateway = get_mandate_provider(provider)
    with transaction.atomic():
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    merchant_ref=out_trade_no,
                    reference_kind=reference_kind,
                    reference_id=str(reference_id),
                    amount=value,
                    payer_name=payer_name,
                    payer_id_number=payer_id_number,
                    payer_id_number_hash=lookup_hash(payer_id_number, context=ID_HASH_CONTEXT),
                    provider=gateway.name,
                    expires_at=timezone.now() + expires_in,
                )
        except IntegrityError:
            return Payment.objects.get(merchant_ref=out_trade_no)
        PaymentEvent.objects.create(payment=payment, kind="created", to_status=payment.status)
        audit.record(
            "payment.created",
            "payment",
            str(payment.public_id),
            actor="system",
            after={**audit.snapshot(payment), "payer_name": mask_name(payment.payer_name), "mandate": True},
        )
        accepted = gateway.charge_mandate(agreement_id, value, out_trade_no)
        payment.provider_txn_id = accepted.provider_txn_id
        _transition(
            payment,
            PaymentStatus.PENDING,
            kind="mandate_charged",
            detail={"provider_txn_id": accepted.provider_txn_id},
        )
    return payment


@dataclass(frozen=True, slots=True)
class MandateCharge:
    """One charge of a batch (`charge_mandates`): what `charge_mandate` takes."""

    agreement_id: str
    amount: Decimal
    out_trade_no: str
    payer_name: str
    payer_id_number: str
    reference_kind: str
    reference_id: str


def charge_mandates(
    charges: Sequence[MandateCharge],
    *,
    provider: str,
    expires_in: datetime.timedelta = datetime.timedelta(days=1),
) -> list[Payment]:
    """`charge_mandate` for a batch of one provider's charges (a day's collection): the
    payments, in order, with the same rows, events, audit entries and hooks as one call each;
    an `out_trade_no` that has a payment already answers it and charges nothing. The provider
    takes the batch in one call when it can (`BatchMandateProvider`), else one call per charge.

    Runs in the caller's transaction, which must hold what makes the references its own (the
    billing run holds the instalments' row locks): the batch is written in a fixed number of
    statements, and a reference taken meanwhile by another process fails the whole batch (the
    unique merchant reference) rather than one charge."""
    if not charges:
        return []
    values = []
    for charge in charges:
        value = to_fen(as_decimal(charge.amount))
        if value <= 0:
            raise InvalidAmount(
                "amount must be positive", errors=[FieldError("amount", "positive", "支付金额必须大于0")]
            )
        values.append(value)
    gateway = get_mandate_provider(provider)
    payments = {
        p.merchant_ref: p for p in Payment.objects.filter(merchant_ref__in=[c.out_trade_no for c in charges])
    }
    expires_at = timezone.now() + expires_in
    new: list[tuple[MandateCharge, Payment]] = []
    for charge, value in zip(charges, values, strict=True):
        if charge.out_trade_no in payments:
            continue
        payment = Payment(
            merchant_ref=charge.out_trade_no,
            reference_kind=charge.reference_kind,
            reference_id=str(charge.reference_id),
            amount=value,
            payer_name=charge.payer_name,
            payer_id_number=charge.payer_id_number,
            payer_id_number_hash=lookup_hash(charge.payer_id_number, context=ID_HASH_CONTEXT),
            provider=gateway.name,
            expires_at=expires_at,
        )
        payments[charge.out_trade_no] = payment
        new.append((charge, payment))
    if new:
        with transaction.atomic(savepoint=False):
            Payment.objects.bulk_create([p for _, p in new])
            for _, payment in new:
                audit.record(
                    "payment.created",
                    "payment",
                    str(payment.public_id),
                    actor="system",
                    after={
                        **audit.snapshot(payment),
                        "payer_name": mask_name(payment.payer_name),
                        "mandate": True,
                    },
                )
            requests = [MandateChargeRequest(c.agreement_id, p.amount, c.out_trade_no) for c, p in new]
            if isinstance(gateway, BatchMandateProvider):
                accepted = gateway.charge_mandates(requests)
            else:
                accepted = [
                    gateway.charge_mandate(r.agreement_id, r.amount, r.out_trade_no) for r in requests
                ]
            now = timezone.now()
            events = []
            for (_, payment), taken in zip(new, accepted, strict=True):
                check_transition(TRANSITIONS, payment.status, PaymentStatus.PENDING, what="payment")
                events.append(PaymentEvent(payment=payment, kind="created", to_status=payment.status))
                detail = {"provider_txn_id": taken.provider_txn_id}
                events.append(
                    PaymentEvent(
                        payment=payment,
                        kind="mandate_charged",
                        from_status=payment.status,
                        to_status=PaymentStatus.PENDING,
                        detail=detail,
                    )
                )
                before = payment.status
                payment.status = PaymentStatus.PENDING
                payment.provider_txn_id = taken.provider_txn_id
                payment.updated_at = now
                audit.record(
                    f"payment.{PaymentStatus.PENDING}",
                    "payment",
                    str(payment.public_id),
                    actor=f"payment:{payment.provider}",
                    before={"status": before},
                    after={
                        "status": PaymentStatus.PENDING,
                        "amount": payment.amount,
                        "reason": payment.failure_reason,
                        **detail,
                    },
                )
            Payment.objects.bulk_update([p for _, p in new], ["status", "provider_txn_id", "updated_at"])
            PaymentEvent.objects.bulk_create(events)
    return [payments[c.out_trade_no] for c in charges]


def _refund_locked(payment: Payment, amount: Decimal, reason: str, *, policy_id: int | None = None) -> Refund:
    result = get_provider(payment.provider).refund(payment, amount)
    refund_row = Refund.objects.create(
        payment=payment,
        amount=amount,
        reason=reason,
        status=RefundStatus.SUCCEEDED if result.ok else RefundStatus.FAILED,
        provider_refund_id=result.provider_refund_id,
    )
    PaymentEvent.objects.create(
        payment=payment,
        kind="refund",
        from_status=payment.status,
        to_status=payment.status,
        detail={"amount": str(amount), "reason": reason, "ok": result.ok, "message": result.message},
    )
    if refund_row.status == RefundStatus.SUCCEEDED:
        refund_succeeded.announce(payment.reference_kind, RefundSucceeded(refund_row, payment, policy_id))
    return refund_row


def _apply(payment: Payment, note: Notification) -> str:
    """Applies a verified, fresh, first-seen notification to the locked payment; returns the outcome code."""
    detail = {"notify_id": note.notify_id, "provider_txn_id": note.provider_txn_id}
    if note.trade_no:
        detail["trade_no"] = note.trade_no
    if note.status == "success":
        if payment.status in (
            PaymentStatus.SUCCEEDED,
            PaymentStatus.REFUNDED,
            PaymentStatus.PARTIALLY_REFUNDED,
        ):
            return "already_succeeded"
        if payment.status not in (PaymentStatus.CREATED, PaymentStatus.PENDING):
            # Money arrived for a payment already closed (expired, failed, refused): give it back.
            payment.paid_at = payment.paid_at or timezone.now()
            _refund_locked(payment, payment.amount, f"late payment on a {payment.status} payment")
            return "late_payment_refunded"
        if payment.status == PaymentStatus.CREATED:
            _transition(payment, PaymentStatus.PENDING, kind="notification", detail=detail)
        payment.paid_at = timezone.now()
        if note.payer_bound:
            # The gateway let only the bound payer (the applicant) pay: that is who paid.
            payment.paid_by_name = payment.payer_name
            payment.paid_by_id_number = payment.payer_id_number
        else:
            payment.paid_by_name = (note.payer_name or "")[:100]
            payment.paid_by_id_number = note.payer_id_number or ""
        if note.amount_fen != to_fen_int(payment.amount):
            payment.failure_reason = "amount_mismatch"
        elif not note.payer_bound and not rules.payer_is_applicant(
            payment.payer_name, payment.payer_id_number, note.payer_name, note.payer_id_number
        ):
            payment.failure_reason = "payer_not_applicant"
        if payment.failure_reason:
            _transition(payment, PaymentStatus.REFUSED, kind="notification", detail=detail)
            # Refunded in full at once: the refund row and the refunded amount say so.
            row = _refund_locked(payment, payment.amount, payment.failure_reason)
            if row.status == RefundStatus.SUCCEEDED:
                payment.refunded_amount = payment.amount
                payment.save(update_fields=["refunded_amount", "updated_at"])
            payment_failed.announce(payment.reference_kind, payment)
            return "refused"
        _transition(payment, PaymentStatus.SUCCEEDED, kind="notification", detail=detail)
        payment_paid.announce(payment.reference_kind, payment)
        return "succeeded"
    target = PaymentStatus.FAILED if note.status == "failed" else PaymentStatus.EXPIRED
    if payment.status == target:
        return "already_" + target
    if payment.status not in (PaymentStatus.CREATED, PaymentStatus.PENDING):
        return "ignored_closed"
    payment.failure_reason = note.reason[:64] or note.status
    _transition(payment, target, kind="notification", detail=detail)
    payment_failed.announce(payment.reference_kind, payment)
    return str(target)


def handle_notification(
    provider_name: str, headers: Mapping[str, str], body: bytes, *, now: datetime.datetime | None = None
) -> NotificationOutcome:
    now = now or timezone.now()
    try:
        provider = get_provider(provider_name)
        note = provider.parse_notification(headers, body)
    except InvalidSignature as exc:
        notify_id = notify_id_of(headers)
        ProviderNotification.objects.create(
            provider=provider_name[:20],
            notify_id=notify_id[:64],
            raw_body=body.decode("utf-8", "replace"),
            signature_ok=False,
            outcome=exc.code,
            processed_at=now,
        )
        return NotificationOutcome(acknowledge=False, code=exc.code, message=exc.message)
    if rules.is_stale(note.sent_at, now):
        return NotificationOutcome(acknowledge=False, code="stale", message="notification timestamp is stale")
    recorded = False
    try:
        # The entries of the payment's move and of its paid hook (the issuance): one insert.
        with transaction.atomic(), audit.batched():
            # First statement, no savepoint: a duplicate (unique provider + notify id) rolls the
            # whole transaction back before anything else happened, and is answered below.
            record = ProviderNotification.objects.create(
                provider=provider.name,
                notify_id=note.notify_id,
                raw_body=body.decode(),
                signature_ok=True,
            )
            recorded = True
            payment = (
                Payment.objects.select_for_update()
                .filter(merchant_ref=note.merchant_ref, provider=provider.name)
                .first()
            )
            if payment is None:
                raise NotFound(f"no payment with merchant_ref '{note.merchant_ref}'", code="unknown_payment")
            if note.provider_txn_id != payment.provider_txn_id:
                raise TransactionMismatch(
                    "the notification names another gateway transaction than the payment's",
                    payment_public_id=str(payment.public_id),
                    status=payment.status,
                    recorded=payment.provider_txn_id,
                    notified=note.provider_txn_id,
                )
            code = _apply(payment, note)
            record.payment = payment
            record.outcome = code
            record.processed_at = timezone.now()
            record.save(update_fields=["payment", "outcome", "processed_at"])
            return NotificationOutcome(acknowledge=True, code=code, payment_id=payment.pk)
    except IntegrityError:
        if recorded:
            raise  # not the notification's own row: a real error
        return NotificationOutcome(acknowledge=True, code="duplicate")
    except NotFound as exc:
        # Not acknowledged: the row rolled back, so a later delivery is processed afresh.
        return NotificationOutcome(acknowledge=False, code=exc.code, message=exc.message)
    except TransactionMismatch as exc:
        # Rolled back like an unknown payment; the refusal itself is kept as evidence.
        _record_refused(provider.name, note, exc)
        return NotificationOutcome(acknowledge=False, code=exc.code, message=exc.message)


def _record_refused(provider_name: str, note: Notification, exc: TransactionMismatch) -> None:
    log.warning(
        "payment notification %s refused: transaction %s differs from the payment's %s (payment %s)",
        note.notify_id,
        note.provider_txn_id,
        exc.recorded,
        exc.payment_public_id,
    )
    with transaction.atomic():
        audit.record(
            "payment.notification_refused",
            "payment",
            exc.payment_public_id,
            actor=f"payment:{provider_name}",
            after={
                "reason": exc.code,
                "notify_id": note.notify_id,
                "notified_status": note.status,
                "notified_txn_id": note.provider_txn_id,
                "recorded_txn_id": exc.recorded,
                "status": exc.status,
            },
        )


def expire_unpaid(now: datetime.datetime) -> int:
    """Expires every open payment past its `expires_at`; returns how many were expired."""
    expired = 0
    ids = list(
        Payment.objects.filter(
            status__in=[PaymentStatus.CREATED, PaymentStatus.PENDING], expires_at__lte=now
        ).values_list("pk", flat=True)
    )
    for pk in ids:
        with transaction.atomic():
            payment = Payment.objects.select_for_update().get(pk=pk)
            if payment.status in (PaymentStatus.CREATED, PaymentStatus.PENDING) and payment.expires_at <= now:
                payment.failure_reason = "not_paid_in_time"
                _transition(payment, PaymentStatus.EXPIRED, kind="expired")
                payment_failed.announce(payment.reference_kind, payment)
                expired += 1
    return expired


def refund(payment: Payment, amount: Decimal, reason: str, *, policy_id: int | None = None) -> Refund:
    """Refunds `amount` of a succeeded payment (in full or in part) through its provider.
    `policy_id` is passed on to `refund_succeeded` listeners (which policy it is for)."""
    value = to_fen(as_decimal(amount))
    if not reason.strip():
        raise ValidationFailed(
            "reason is required", errors=[FieldError("reason", "required", "请填写退款原因")]
        )
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED):
            raise PaymentNotRefundable(
                f"payment is {locked.status}: only a succeeded payment can be refunded",
                errors=[FieldError("status", "not_refundable", "仅支付成功的订单可以退款")],
            )
        left = locked.amount - locked.refunded_amount
        if value <= 0 or value > left:
            raise InvalidAmount(
                f"refund amount must be between 0.01 and {left}",
                errors=[FieldError("amount", "refund_range", f"退款金额须大于0且不超过可退金额{left}元")],
            )
        row = _refund_locked(locked, value, reason.strip(), policy_id=policy_id)
        if row.status != RefundStatus.SUCCEEDED:
            return row
        locked.refunded_amount += value
        _transition(
            locked,
            rules.status_after_refund(locked.amount, locked.refunded_amount),
            kind="refunded",
            detail={"refund": str(row.public_id), "amount": str(value)},
        )
    payment.refresh_from_db()
    return row


# A payment in one of these is still needed on its own, whatever became of what it paid for: the
# payer may still pay (open), or the platform holds money it has not returned.
STILL_NEEDED_STATUSES = OPEN_STATUSES | {PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED}


def purge_for_reference(reference_kind: str, reference_id: str, *, dry_run: bool = False) -> dict[str, int]:
    """Deletes the payments made for (reference_kind, reference_id) — with their events, refunds
    and the provider notifications matched to them (which hold the payer's ID number, encrypted) —
    once the thing they paid for is deleted at the end of its retention. Returns the counts per
    kind (what would be deleted, with `dry_run`). Runs in the caller's transaction.

    Raises `Conflict` and deletes nothing while any of the payments is still needed
    (`STILL_NEEDED_STATUSES`). Notifications not matched to a payment (forged, unknown) are not
    linked to any reference and stay.
    """
    payments = Payment.objects.filter(reference_kind=reference_kind, reference_id=str(reference_id))
    needed = sorted(payments.filter(status__in=STILL_NEEDED_STATUSES).values_list("merchant_ref", flat=True))
    if needed:
        raise Conflict(
            f"payments still needed: {', '.join(needed)}",
            code="payment_still_needed",
            errors=[FieldError("payments", "still_needed", f"仍有未结清的支付记录（{'、'.join(needed)}）")],
        )
    ids = list(payments.values_list("pk", flat=True))
    notifications = ProviderNotification.objects.filter(payment_id__in=ids)
    events = PaymentEvent.objects.filter(payment_id__in=ids)
    refunds = Refund.objects.filter(payment_id__in=ids)
    counts = {
        "payments": len(ids),
        "payment_events": events.count(),
        "refunds": refunds.count(),
        "payment_notifications": notifications.count(),
    }
    if not dry_run and ids:
        with transaction.atomic(savepoint=False):
            # Children first: every link to a payment is PROTECT. A queryset delete is plain SQL,
            # so `PaymentEvent.delete()`'s append-only guard (meant for single rows) is not in play.
            notifications.delete()
            events.delete()
            refunds.delete()
            Payment.objects.filter(pk__in=ids).delete()
    return counts
