"""Cancellation (退保) use-cases: quote, request, confirm with the SMS code, refund, tell the
insurer; withdraw, retry.

- `quote(policy)` writes nothing: the refund of cancelling today, line by line (`refund_rules`).
- `request_cancellation` keeps the quote and the customer's reason on a `Cancellation` (one per
  policy that is not withdrawn: a retried request finds the same row) and sends the code to the
  holder's phone on the policy (`account.services.send_servicing_code`, operation 「退保」).
- `confirm` checks the code (`require_code`), then in one transaction holding the policy's and the
  cancellation's row locks: quotes again for today, refuses a refund larger than what was paid
  and is still refundable, moves the policy (`lifecycle.transition` → cancelled_cooling_off or
  surrendered), cancels its premium schedule (`billing.cancel_schedule`), freezes the lines,
  plans the refund parts (`refund_rules.allocate_refund`: latest payment first, each capped by
  what that payment paid for this policy — a bundle's checkout pays for several), and writes the
  customer's message. A second confirmation (a retry, a double tap, a concurrent request)
  returns the confirmed cancellation and changes nothing.
- After commit, a task refunds the parts through the payment port (`payment.services.refund`,
  back to the account that paid each) under the cancellation's row lock: one refund per part,
  never two; the cancellation is completed when every part is refunded, or `refund_failed`
  (retryable: `retry_refund`, "重试退款" in the back office) when the provider refuses one.
- The insurer is told as it is of policies and endorsements: confirming queues an
  `InsurerDelivery` of kind "cancellation" (`delivery.queue_cancellation`, same transaction),
  sent after the commit by `tasks.deliver_policy` through the connector's `send_cancellation`,
  retried with the deliveries' backoff (`retry_due_deliveries`), acknowledged by the insurer's
  signed callback (`delivery.handle_ack`), and retried by hand from the operators' view of
  failed deliveries.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from huibao.account import services as accounts
from huibao.account.errors import CodeError
from huibao.billing import selectors as billing_selectors
from huibao.billing import services as billing
from huibao.catalog.servicing import RefundMethod, servicing_rules
from huibao.core import audit
from huibao.core.errors import Conflict, DomainError, FieldError, NotFound, ValidationFailed
from huibao.core.hooks import Hook
from huibao.core.money import to_fen
from huibao.core.states import check_transition
from huibao.notification.services import notify
from huibao.payment import services as payments
from huibao.payment.models import Payment
from huibao.payment.states import PaymentStatus, RefundStatus
from huibao.policy import delivery, lifecycle, refund_rules
from huibao.policy.actions import register_action
from huibao.policy.errors import NotCancellable, RefundExceedsPaid
from huibao.policy.lifecycle import Reason
from huibao.policy.models import (
    Cancellation,
    CancellationRefund,
    Endorsement,
    InsurerDelivery,
    Policy,
    PolicyParty,
)
from huibao.policy.refund_rules import PolicyFigures, RefundQuote, RefundSource
from huibao.policy.states import (
    CANCELLATION_CONFIRMED_STATUSES,
    CANCELLATION_PENDING_STATUSES,
    CANCELLATION_REASON_TEXT_MAX,
    CANCELLATION_TRANSITIONS,
    LIVE_POLICY_STATUSES,
    POLICY_TRANSITIONS,
    CancellationKind,
    CancellationReason,
    CancellationStatus,
    DeliveryStatus,
    EndorsementStatus,
    PartyRole,
    PolicyStatus,
    RefundPartStatus,
)

log = logging.getLogger(__name__)

OBJ_TYPE = "cancellation"
POLICY_KIND = "policy"  # billing's reference kind of a policy's schedule
# The payment engine's reference kind of a checkout (the application's, by its public id).
CHECKOUT_KIND = "application"
ENDORSEMENT_KIND = "endorsement"  # payments of an endorsement's premium delta (policy/endorsements.py)
OPERATION = "退保"


@dataclass(frozen=True, slots=True)
class CancellationConfirmed:
    """A policy cancelled (its cancellation confirmed, inside that transaction): the refund it
    gives back, what had been paid for it and was still refundable, and whether it was inside
    the cooling-off period."""

    policy: Policy
    cancellation: Cancellation
    refund: Decimal
    paid: Decimal
    in_cooling_off: bool
    on: datetime.date


# Announced once per confirmed cancellation (finance claws commission back: finance/commissions.py).
cancellation_confirmed: Hook[CancellationConfirmed, None] = Hook("policy.cancellation_confirmed")
ERROR_MAX = 200
REFUNDABLE = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED)

S = CancellationStatus


# --- figures and quote -----------------------------------------------------------------------


def _local_date(value: datetime.datetime | None) -> datetime.date | None:
    return None if value is None else timezone.localdate(value)


@dataclass(frozen=True, slots=True)
class _EndorsementMoney:
    annual_change: Decimal  # the annual premium's change by the applied endorsements
    paid: Decimal  # premium deltas paid (each through its own payment)
    refunded: Decimal  # premium deltas given back (through the checkout payment)


def _endorsement_money(policy: Policy) -> _EndorsementMoney:
    change = paid = refunded = Decimal("0.00")
    for old, new, delta in Endorsement.objects.filter(
        policy=policy, status=EndorsementStatus.APPLIED
    ).values_list("old_premium", "new_premium", "premium_delta"):
        change += new - old
        if delta > 0:
            paid += delta
        else:
            refunded -= delta
    return _EndorsementMoney(annual_change=change, paid=paid, refunded=refunded)


def _paid_for(policy: Policy) -> Decimal:
    """What was paid for the policy: its paid instalments; or the premium paid at checkout (the
    issued premium: today's less the applied endorsements' changes) with the endorsements' premium
    deltas paid, less those given back."""
    paid = billing_selectors.paid_instalments(POLICY_KIND, policy.number)
    if paid:
        return sum((p.amount for p in paid), Decimal("0.00"))
    money = _endorsement_money(policy)
    return to_fen(policy.premium - money.annual_change + money.paid - money.refunded)


def figures(policy: Policy) -> PolicyFigures:
    start = _local_date(policy.effective_at)
    assert start is not None
    return PolicyFigures(
        start=start,
        end=_local_date(policy.expires_at),
        premium=policy.premium,
        paid=_paid_for(policy),
        cooling_off_until=policy.cooling_off_until,
    )


def refund_sources(policy: Policy) -> list[RefundSource]:
    """The payments that paid for the policy and what of each can go back to it: the checkout
    (the policy's share of it: its first instalment or its premium, a bundle's checkout paying
    for several policies) and each instalment collected since, capped by what is left of each
    payment."""
    paid = billing_selectors.paid_instalments(POLICY_KIND, policy.number)
    shares: dict[str, Decimal] = {}
    money = _endorsement_money(policy)
    # the policy's share of its checkout: the premium it was issued with, less the endorsement
    # refunds already taken from that payment
    checkout_share = policy.premium - money.annual_change - money.refunded
    if paid:
        checkout_share = Decimal("0.00")
        for inst in paid:
            shares[inst.payment_reference] = shares.get(inst.payment_reference, Decimal(0)) + inst.amount
    checkout = list(
        Payment.objects.filter(
            reference_kind=CHECKOUT_KIND,
            reference_id=str(policy.application_public_id),
            status__in=REFUNDABLE,
        )
    )
    found = {p.merchant_ref: p for p in checkout}
    # each endorsement's premium delta was a payment of its own, all of it the policy's
    endorsement_payments = {
        p.merchant_ref: p
        for p in Payment.objects.filter(
            reference_kind=ENDORSEMENT_KIND,
            reference_id__in=list(
                Endorsement.objects.filter(policy=policy, status=EndorsementStatus.APPLIED).values_list(
                    "number", flat=True
                )
            ),
            status__in=REFUNDABLE,
        )
    }
    if shares:
        found.update(
            {
                p.merchant_ref: p
                for p in Payment.objects.filter(merchant_ref__in=list(shares), status__in=REFUNDABLE)
            }
        )
    # Already given back to this policy (an earlier cancellation is final, but be exact).
    taken: dict[int, Decimal] = {}
    for payment_id, amount in CancellationRefund.objects.filter(
        cancellation__policy=policy, status=RefundPartStatus.SUCCEEDED
    ).values_list("payment_id", "amount"):
        taken[payment_id] = taken.get(payment_id, Decimal(0)) + amount
    sources = []
    found.update(endorsement_payments)
    for ref, payment in found.items():
        if ref in endorsement_payments:
            share = payment.amount
        else:
            share = shares.get(ref, Decimal(0)) if shares else checkout_share
            if not shares and payment.reference_kind != CHECKOUT_KIND:
                continue
        available = min(share - taken.get(payment.pk, Decimal(0)), payment.amount - payment.refunded_amount)
        if available > 0:
            sources.append(
                RefundSource(
                    key=str(payment.pk),
                    available=to_fen(available),
                    paid_at=payment.paid_at or payment.created_at,
                )
            )
    return sources


def _target(kind: str) -> str:
    return (
        PolicyStatus.CANCELLED_COOLING_OFF
        if kind == CancellationKind.COOLING_OFF
        else PolicyStatus.SURRENDERED
    )


def quote(policy: Policy, *, on: datetime.date | None = None) -> RefundQuote:
    """The refund of cancelling `policy` on `on` (today); writes nothing. Raises NotCancellable
    with the reason when it cannot be cancelled (not live, or the product allows no cancellation
    after the cooling-off period)."""
    on = on or timezone.localdate()
    rule = servicing_rules(policy.product_version.servicing).cancellation
    result = refund_rules.refund_quote(rule, figures(policy), on)
    status = policy.status
    live = status in LIVE_POLICY_STATUSES or (
        status == PolicyStatus.LAPSED and result.method == RefundMethod.CASH_VALUE
    )
    label = PolicyStatus(status).label
    not_live = NotCancellable(
        f"保单当前状态为“{label}”，不能办理退保",
        errors=[FieldError("policy", "not_live", f"保单当前状态为“{label}”，不能办理退保")],
    )
    if not live:
        raise not_live
    if not result.allowed:
        raise NotCancellable(
            result.refusal,
            code="cancellation_not_allowed",
            errors=[FieldError("policy", "cancellation_not_allowed", result.refusal)],
        )
    if _target(result.kind) not in POLICY_TRANSITIONS.get(status, frozenset()):
        raise not_live
    return result


# --- request, code, withdraw ---------------------------------------------------------------------


def _move(cancellation: Cancellation, target: str, *, actor: Any, **detail: Any) -> None:
    check_transition(CANCELLATION_TRANSITIONS, cancellation.status, target, what="cancellation")
    before = cancellation.status
    cancellation.status = target
    cancellation.save()
    audit.record(
        f"policy.cancellation_{target}",
        OBJ_TYPE,
        str(cancellation.public_id),
        actor=actor,
        before={"status": before},
        after={
            "status": target,
            "policy": cancellation.policy.number,
            "kind": cancellation.kind,
            "amount": cancellation.amount,
            **detail,
        },
    )


def _clean_reason(reason: str, reason_text: str) -> tuple[str, str]:
    if reason not in CancellationReason.values:
        raise ValidationFailed(
            "reason: choose one of the listed reasons",
            errors=[FieldError("reason", "invalid_choice", "请选择退保原因")],
        )
    text = " ".join((reason_text or "").split())
    if len(text) > CANCELLATION_REASON_TEXT_MAX:
        raise ValidationFailed(
            f"reason_text: at most {CANCELLATION_REASON_TEXT_MAX} characters",
            errors=[
                FieldError(
                    "reason_text",
                    "too_long",
                    f"原因说明最多{CANCELLATION_REASON_TEXT_MAX}个字（现为{len(text)}个）",
                )
            ],
        )
    if reason == CancellationReason.OTHER and not text:
        raise ValidationFailed(
            "reason_text: required for another reason",
            errors=[FieldError("reason_text", "required", "选择“其他原因”时请填写原因说明")],
        )
    return reason, text


def holder_phone(policy: Policy) -> str:
    party = PolicyParty.objects.filter(policy=policy, role=PartyRole.HOLDER).first()
    phone = party.phone if party is not None else ""
    if not phone:
        raise Conflict(
            "保单未登记投保人手机号，请联系客服办理退保",
            code="no_holder_phone",
            errors=[FieldError("phone", "missing", "保单未登记投保人手机号，请联系客服办理退保")],
        )
    return phone


def _quote_onto(cancellation: Cancellation, result: RefundQuote, on: datetime.date) -> None:
    cancellation.kind = str(result.kind)
    cancellation.method = result.method
    cancellation.request_date = on
    cancellation.paid = result.paid
    cancellation.amount = result.amount
    cancellation.lines = result.lines_json()


def request_cancellation(
    policy: Policy,
    *,
    user: Any,
    reason: str,
    reason_text: str = "",
    client_address: str | None = None,
    send_code: bool = True,
) -> Cancellation:
    """The customer asks to cancel their policy (the caller checked it is theirs): the quote of
    today and the reason are kept, and the confirmation code is sent to the holder's phone. A
    request again while one is open (not confirmed) updates that one and sends a new code;
    one already confirmed is refused."""
    reason, text = _clean_reason(reason, reason_text)
    on = timezone.localdate()
    with transaction.atomic():
        locked = lifecycle.lock_policy(policy.pk)
        result = quote(locked, on=on)
        phone = holder_phone(locked)
        existing = (
            Cancellation.objects.select_for_update().filter(policy=locked).exclude(status=S.WITHDRAWN).first()
        )
        if existing is not None and existing.status not in CANCELLATION_PENDING_STATUSES:
            raise Conflict(
                "该保单已确认退保，请勿重复申请",
                code="already_cancelled",
                errors=[FieldError("policy", "already_cancelled", "该保单已确认退保，请勿重复申请")],
            )
        cancellation = existing or Cancellation(policy=locked, status=S.QUOTED)
        _quote_onto(cancellation, result, on)
        cancellation.reason, cancellation.reason_text = reason, text
        cancellation.requested_by = user if getattr(user, "pk", None) else None
        try:
            with transaction.atomic():
                cancellation.save()
        except IntegrityError:  # a concurrent request made it first: that one stands
            cancellation = Cancellation.objects.exclude(status=S.WITHDRAWN).get(policy=locked)
            return cancellation
        cancellation.policy = locked
        audit.record(
            "policy.cancellation_requested",
            OBJ_TYPE,
            str(cancellation.public_id),
            actor=user,
            after={
                "policy": locked.number,
                "kind": cancellation.kind,
                "method": cancellation.method,
                "amount": cancellation.amount,
                "reason": reason,
            },
        )
    if send_code:
        send_confirmation_code(cancellation, user=user, client_address=client_address, phone=phone)
    return cancellation


def send_confirmation_code(
    cancellation: Cancellation, *, user: Any, client_address: str | None = None, phone: str | None = None
) -> Cancellation:
    """Sends (again) the code confirming the cancellation to the holder's phone on the policy.
    Raises the SMS errors (`SmsThrottled`…): the request stays, to be confirmed later."""
    if cancellation.status not in CANCELLATION_PENDING_STATUSES:
        raise Conflict("该退保申请已确认，无需再次获取验证码", code="already_confirmed")
    accounts.send_servicing_code(
        phone or holder_phone(cancellation.policy), operation=OPERATION, client_address=client_address
    )
    with transaction.atomic():
        locked = Cancellation.objects.select_for_update().select_related("policy").get(pk=cancellation.pk)
        if locked.status in CANCELLATION_PENDING_STATUSES:
            _move(locked, S.AWAITING_CONFIRMATION, actor=user)
    cancellation.refresh_from_db()
    return cancellation


def withdraw(cancellation: Cancellation, *, user: Any) -> Cancellation:
    """The customer changes their mind before confirming."""
    with transaction.atomic():
        locked = Cancellation.objects.select_for_update().select_related("policy").get(pk=cancellation.pk)
        if locked.status not in CANCELLATION_PENDING_STATUSES:
            raise Conflict("退保已确认，不能撤回", code="already_confirmed")
        _move(locked, S.WITHDRAWN, actor=user)
    return locked


# --- confirmation --------------------------------------------------------------------------------


def _context(policy: Policy, cancellation: Cancellation) -> dict[str, Any]:
    return {
        "policy_number": policy.number,
        "product_name": policy.product_version.product.name,
        "amount": f"{cancellation.amount:.2f}",
        "kind_label": str(CancellationKind(cancellation.kind).label),
    }


def _tell_customer(policy: Policy, cancellation: Cancellation, template: str, key: str) -> None:
    if policy.customer is None:
        return
    notify(
        user=policy.customer,
        template=template,
        context=_context(policy, cancellation),
        category="service",
        dedup_key=f"cancellation:{cancellation.public_id}:{key}",
        reference=policy.number,
    )


def _enqueue(cancellation_id: int, *, refund: bool, delivery_id: int) -> None:
    def enqueue() -> None:
        from huibao.policy.tasks import deliver_policy, refund_cancellation

        if refund:
            refund_cancellation.enqueue(cancellation_id)
        deliver_policy.enqueue(delivery_id)

    transaction.on_commit(enqueue)


def confirm(
    cancellation: Cancellation, *, user: Any, code: str, now: datetime.datetime | None = None
) -> Cancellation:
    """Confirms the cancellation with the SMS code and cancels the policy (see the module's
    docstring). Idempotent: a cancellation already confirmed is returned as it is."""
    current = Cancellation.objects.select_related("policy").get(pk=cancellation.pk)
    if current.status in CANCELLATION_CONFIRMED_STATUSES:
        return current
    now = now or timezone.now()
    on = timezone.localdate(now)
    wrong_code: CodeError | None = None
    with transaction.atomic(), audit.batched():
        # The locks first (the policy's, then the cancellation's, as a request takes them): a
        # second confirmation waits here and then finds the first one's result.
        policy = lifecycle.lock_policy(current.policy_id)
        locked = Cancellation.objects.select_for_update().get(pk=cancellation.pk)
        locked.policy = policy
        if locked.status in CANCELLATION_CONFIRMED_STATUSES:
            return locked
        if locked.status == S.WITHDRAWN:
            raise Conflict("该退保申请已撤回", code="withdrawn")
        if locked.status != S.AWAITING_CONFIRMATION:
            raise Conflict(
                "请先获取短信验证码",
                code="code_not_sent",
                errors=[FieldError("code", "not_sent", "请先获取短信验证码")],
            )
        result = quote(policy, on=on)
        if (str(result.kind), result.amount) != (locked.kind, locked.amount):
            # The quote shown is not today's (the request was made another day): the customer
            # sees the new one first; the code is not used.
            _quote_onto(locked, result, on)
            locked.save()
            message = f"退款金额已按今天重新计算为{result.amount}元，请查看明细后再确认"
            changed: DomainError | None = Conflict(
                message, code="quote_changed", errors=[FieldError("amount", "quote_changed", message)]
            )
        else:
            changed = None
            try:
                accounts.require_code(holder_phone(policy), "servicing", code)
            except CodeError as exc:
                # Committed as it is: the wrong try counts (nothing else was changed).
                wrong_code = exc
            else:
                _confirm_locked(locked, policy, result, user=user, now=now, on=on)
    if changed is not None:
        raise changed
    if wrong_code is not None:
        raise wrong_code
    return locked


def _confirm_locked(
    locked: Cancellation,
    policy: Policy,
    result: RefundQuote,
    *,
    user: Any,
    now: datetime.datetime,
    on: datetime.date,
) -> None:
    """Cancels the locked policy for the locked cancellation whose code was right."""
    sources = refund_sources(policy)
    refundable = sum((s.available for s in sources), Decimal("0.00"))
    if result.amount > refundable:
        message = f"退款金额{result.amount}元超过本保单可退的已缴保费{refundable}元，请联系客服"
        raise RefundExceedsPaid(message, errors=[FieldError("amount", "exceeds_paid", message)])
    parts = refund_rules.allocate_refund(result.amount, sources)
    _quote_onto(locked, result, on)
    locked.confirmed_at = now
    change = lifecycle.transition(
        policy,
        _target(result.kind),
        reason=Reason.COOLING_OFF_CANCELLATION
        if result.kind == CancellationKind.COOLING_OFF
        else Reason.SURRENDER,
        actor=user,
        at=now,
        detail={"cancellation": str(locked.public_id), "refund": result.amount},
    )
    schedule = billing.cancel_schedule(POLICY_KIND, policy.number, on)
    _move(
        locked,
        S.CONFIRMED,
        actor=user,
        method=result.method,
        lines=result.lines_json(),
        status_change=change.pk,
        instalments_cancelled=list(schedule.cancelled),
    )
    CancellationRefund.objects.bulk_create(
        CancellationRefund(cancellation=locked, payment_id=int(key), amount=amount) for key, amount in parts
    )
    cancellation_confirmed.announce(
        CancellationConfirmed(
            policy=policy,
            cancellation=locked,
            refund=result.amount,
            paid=refundable,
            in_cooling_off=result.kind == CancellationKind.COOLING_OFF,
            on=on,
        )
    )
    _tell_customer(policy, locked, "policy.cancellation_confirmed", "confirmed")
    if not parts:  # nothing to give back
        locked.completed_at = now
        _move(locked, S.COMPLETED, actor=user)
    # The insurer is told of it (退保信息回传) by the deliveries' queue, after the commit.
    queued = delivery.queue_cancellation(locked, now=now)
    _enqueue(locked.pk, refund=bool(parts), delivery_id=queued.pk)


# --- refund --------------------------------------------------------------------------------------


def refund(cancellation_id: int) -> str:
    """Refunds every part not yet refunded (the task after confirmation, and each retry); returns
    the cancellation's status after. Holding the cancellation's row lock, so a part is refunded
    once however many workers run it."""
    with transaction.atomic():
        c = (
            Cancellation.objects.select_for_update()
            .select_related("policy")
            .filter(pk=cancellation_id)
            .first()
        )
        if c is None:
            raise NotFound(f"no cancellation {cancellation_id}", code="cancellation_not_found")
        if c.status == S.CONFIRMED:
            _move(c, S.REFUNDING, actor="system")
        elif c.status != S.REFUNDING:
            return c.status
        c.refund_attempts += 1
        errors: list[str] = []
        parts = list(
            CancellationRefund.objects.select_for_update()
            .select_related("payment")
            .filter(cancellation=c, status__in=(RefundPartStatus.PENDING, RefundPartStatus.FAILED))
            .order_by("id")
        )
        for part in parts:
            part.attempts += 1
            try:
                row = payments.refund(
                    part.payment, part.amount, f"退保 {c.policy.number}", policy_id=c.policy_id
                )
            except DomainError as exc:
                part.status, part.last_error = (
                    RefundPartStatus.FAILED,
                    f"{exc.code}: {exc.message}"[:ERROR_MAX],
                )
            except Exception as exc:  # a provider bug must not lose the refund: it stays retryable
                log.exception("refund of cancellation %s failed", c.public_id)
                part.status, part.last_error = RefundPartStatus.FAILED, f"error: {type(exc).__name__}"
            else:
                part.refund = row
                if row.status == RefundStatus.SUCCEEDED:
                    part.status, part.last_error = RefundPartStatus.SUCCEEDED, ""
                    c.refunded += part.amount
                else:
                    part.status, part.last_error = (
                        RefundPartStatus.FAILED,
                        "provider_refused: 支付机构未能退款",
                    )
            if part.last_error:
                errors.append(part.last_error)
            part.save()
        if errors:
            c.refund_error = errors[0][:ERROR_MAX]
            _move(c, S.REFUND_FAILED, actor="system", errors=errors, refunded=c.refunded)
            _tell_customer(c.policy, c, "policy.refund_failed", f"refund_failed:{c.refund_attempts}")
        else:
            c.refund_error = ""
            c.completed_at = timezone.now()
            _move(c, S.COMPLETED, actor="system", refunded=c.refunded)
            _tell_customer(c.policy, c, "policy.refund_completed", "refund_completed")
        return c.status


def retry_refund(cancellation: Cancellation, *, actor: Any) -> str:
    """Tries a failed refund again (the customer's service or staff): refunding, then the parts
    not yet refunded."""
    with transaction.atomic():
        locked = Cancellation.objects.select_for_update().select_related("policy").get(pk=cancellation.pk)
        if locked.status != S.REFUND_FAILED:
            raise Conflict(f"退保状态为“{S(locked.status).label}”，无需重试退款", code="not_refund_failed")
        _move(locked, S.REFUNDING, actor=actor, retry=True)
    return refund(cancellation.pk)


def refunds_of(cancellation: Cancellation) -> list[CancellationRefund]:
    return list(cancellation.refunds.select_related("payment", "refund").order_by("id"))


# --- the insurer ---------------------------------------------------------------------------------


def insurer_delivery(c: Cancellation) -> InsurerDelivery | None:
    """The delivery telling the insurer of a confirmed cancellation (None before confirming)."""
    return InsurerDelivery.objects.filter(cancellation=c).first()


def notify_insurer_now(c: Cancellation, *, actor: Any, request: Any = None) -> bool:
    """An operator's "立即通知保险公司": the cancellation's delivery tried now (`retry_now`);
    True when the insurer took it (sent, or acknowledged before)."""
    found = insurer_delivery(c)
    if found is None:
        return False
    status = delivery.retry_now(found, actor=actor, request=request)
    return status in (DeliveryStatus.SENT, DeliveryStatus.ACKNOWLEDGED)


# --- reads for pages and the API -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CancellationView:
    cancellation: Cancellation
    refunds: Sequence[CancellationRefund]


def open_cancellation(policy: Policy) -> Cancellation | None:
    """The policy's cancellation that is not withdrawn, if any."""
    return Cancellation.objects.filter(policy=policy).exclude(status=S.WITHDRAWN).first()


def cancellation_for_customer(user: Any, public_id: Any) -> Cancellation:
    """The customer's own cancellation by public id; NotFound for anyone else's."""
    found = (
        Cancellation.objects.select_related("policy__product_version__product", "policy__insurer")
        .filter(public_id=public_id, policy__customer_id=getattr(user, "pk", None))
        .first()
        if public_id and getattr(user, "is_authenticated", False)
        else None
    )
    if found is None:
        raise NotFound("退保申请不存在", code="cancellation_not_found")
    return found


# --- the "what can I do" hub -------------------------------------------------------------------


def cancellable(policy: Policy, user: Any = None) -> bool:
    """Whether to offer 退保 on the policy (the page says why when the product refuses)."""
    return policy.status in LIVE_POLICY_STATUSES


def register_cancel_action() -> None:
    register_action(
        "cancel",
        label=gettext_lazy("退保"),
        url_name="policy:cancel",
        order=300,
        available=cancellable,
        icon="cancel",
        group="servicing",
        api_url_name="api:policy_cancellation_quote",
    )


# --- the staff servicing queue -------------------------------------------------------------------

QUEUE_LIMIT = 100


def _needing_attention() -> Any:
    from django.db.models import Q

    # (a notice the insurer never took is a failed delivery: the deliveries' section lists it)
    return Cancellation.objects.filter(Q(status=S.REFUND_FAILED))


def attention_rows(user: Any) -> list[Cancellation]:
    """Cancellations a person must look at: a refund failed."""
    return list(_needing_attention().select_related("policy__insurer").order_by("-updated_at")[:QUEUE_LIMIT])


def attention_count(user: Any) -> int:
    return int(_needing_attention().count())


def register_queue_section() -> None:
    from huibao.policy.queue import register_queue_section as register

    register(
        "cancellations",
        label=gettext_lazy("退款失败的退保"),
        order=35,
        rows=attention_rows,
        count=attention_count,
        template="policy/staff/partials/cancellations.html",
        permission="policy.view_cancellation",
    )
