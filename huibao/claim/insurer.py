"""Claims decided by the insurer in its own system (connector mode, issue 11 item 3a(a)) and the
agency chasing a slow insurer — the use-cases.

- `save_setting`: an operator sets how an insurer's claims are decided (`InsurerClaimSettings`).
- `open_delivery` (on `claim_status_changed` → materials_complete, registered by
  `insurer_tasks`): a claim of a connector-mode insurer gets its `InsurerClaimDelivery`, sent by
  `deliver_claim` after commit — durable, retried with back-off (`insurer_rules.retry_delay`),
  given up after `max_attempts()` (the board shows it; a chase sends it again). The first
  successful send moves the claim to under_review with the line 已转保险公司审核.
- `handle_claim_notice`: the insurer's signed notices (received, decision, paid). Verified by
  the connector; a notify id already taken is a duplicate (nothing changes); a notice of a step
  the delivery has passed is stale (nothing changes); a payment notice before the decision is
  kept (deferred) and applied when the decision comes. The decision is applied once with
  `decisions.decide` (the one decision path); "insurer paid" moves the claim approved → paying →
  paid with the insurer's payment reference.
- `chase`: a 催办 — recorded, and the insurer is sent the claim again (not yet taken) or asked
  where it stands (taken), in connector mode.
- `flag_overdue`: the daily job's work — undecided claims past their insurer's promised time
  (from complete materials) are flagged once and the claims staff told.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from huibao.account.models import User, UserKind
from huibao.catalog.models import Insurer
from huibao.claim import insurer_rules, lifecycle, limits, selectors
from huibao.claim.decisions import Decision, decide
from huibao.claim.insurer_models import (
    MAX_DECISION_DAYS,
    ClaimChase,
    ClaimOverdue,
    InsurerClaimDelivery,
    InsurerClaimNotice,
)
from huibao.claim.insurer_rules import InsurerTerms
from huibao.claim.insurer_states import (
    AWAITING_DECISION,
    DELIVERY_TRANSITIONS,
    FORWARDED_LINE,
    INSURER_PAID_LINE,
    INSURER_PAYING_LINE,
    NOTICE_STAGE,
    STATUS_STAGE,
    ClaimDeliveryStatus,
    DecisionMode,
    NoticeOutcome,
    Payer,
)
from huibao.claim.models import Claim, InsurerClaimSettings
from huibao.claim.rules import Loss, calculate_benefit
from huibao.claim.states import ClaimStatus, DecisionKind, DecisionReason
from huibao.core import audit
from huibao.core.audit import json_safe
from huibao.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from huibao.core.receipts import keep_refused, notify_id_of
from huibao.core.retrying import ConnectorRetry
from huibao.core.states import check_transition
from huibao.fraud.models import Screening
from huibao.notification import services as notification
from huibao.policy.connector import ClaimNotice, connector_for, get_connector, public_url
from huibao.policy.errors import DeliveryFailed, InvalidAck

logger = logging.getLogger(__name__)

OBJ_TYPE = "claim"
ERROR_MAX = 200
D = ClaimDeliveryStatus
# Undecided: the insurer's clock runs (保险法 Art. 23 counts from complete materials).
UNDECIDED = frozenset(
    {
        ClaimStatus.MATERIALS_COMPLETE,
        ClaimStatus.UNDER_REVIEW,
        ClaimStatus.INFO_REQUESTED,
        ClaimStatus.INVESTIGATING,
    }
)
MATERIAL_URL_MAX_AGE = datetime.timedelta(days=7)
MATERIAL_SALT = "huibao.claim.insurer-material"
OVERDUE_TEMPLATE = "claim.overdue_staff"


def max_attempts() -> int:
    return int(getattr(settings, "HUIBAO_CLAIM_DELIVERY_MAX_ATTEMPTS", insurer_rules.DEFAULT_MAX_ATTEMPTS))


# Sent: the insurer's first notice is due within NOTICE_TIMEOUT, else it is sent again; failed:
# again on the back-off; given up after `max_attempts()` (a chase sends it again).
RETRY = ConnectorRetry(
    sent=ClaimDeliveryStatus.SENT,
    failed=ClaimDeliveryStatus.FAILED,
    gave_up=ClaimDeliveryStatus.GAVE_UP,
    max_attempts=max_attempts,
    retry_delay=insurer_rules.retry_delay,
    answer_timeout=insurer_rules.NOTICE_TIMEOUT,
    unanswered="no_notice: 已发送{attempts}次，保险公司仍未受理",
    expected=(DeliveryFailed, InvalidAck),
    failure_log="insurer connector %s failed on a claim",
)


# --- the insurer's setting ------------------------------------------------------------------------


def terms_for(insurer_id: int) -> InsurerTerms:
    """How an insurer's claims are decided: its setting, or the defaults (back office, 30 days,
    Huibao pays)."""
    row = selectors.insurer_settings(insurer_id)
    if row is None:
        return insurer_rules.DEFAULTS
    return InsurerTerms(mode=row.mode, decision_days=row.decision_days, payer=row.payer)


def save_setting(
    insurer: Insurer,
    *,
    mode: str,
    decision_days: Any,
    payer: str,
    actor: Any,
    request: HttpRequest | None = None,
) -> InsurerClaimSettings:
    """Sets how `insurer`'s claims are decided; refuses bad input naming the field (nothing saved)."""
    errors: list[FieldError] = []
    if mode not in DecisionMode.values:
        errors.append(FieldError("mode", "invalid", "审核方式：请选择“接口对接”或“汇保后台审核”"))
    if payer not in Payer.values:
        errors.append(FieldError("payer", "invalid", "赔款支付方：请选择“保险公司”或“汇保代付”"))
    try:
        days = int(str(decision_days).strip())
    except ValueError:
        days = 0
        errors.append(FieldError("decision_days", "invalid", "承诺审核时效：请填写天数（整数）"))
    else:
        if not 1 <= days <= MAX_DECISION_DAYS:
            errors.append(
                FieldError(
                    "decision_days",
                    "out_of_range",
                    f"承诺审核时效：须为1至{MAX_DECISION_DAYS}天（保险法第二十三条：材料齐全后30日内作出核定）",
                )
            )
    if errors:
        raise ValidationFailed("；".join(e.message for e in errors), errors=errors)
    with transaction.atomic():
        row = InsurerClaimSettings.objects.select_for_update().filter(insurer=insurer).first()
        before = {"mode": row.mode, "decision_days": row.decision_days, "payer": row.payer} if row else {}
        if row is None:
            row = InsurerClaimSettings(insurer=insurer)
        row.mode, row.decision_days, row.payer = mode, days, payer
        row.save()
        audit.record(
            "claim.insurer_setting_changed",
            "insurer",
            insurer.code,
            actor=actor,
            request=request,
            before=before,
            after={"mode": mode, "decision_days": days, "payer": payer},
        )
    return row


# --- what the insurer receives --------------------------------------------------------------------


def material_token(material_public_id: str) -> str:
    return signing.dumps(str(material_public_id), salt=MATERIAL_SALT, compress=True)


def material_from_token(token: str) -> str:
    """The material's public id a signed URL names; raises NotFound when forged or expired."""
    try:
        return str(signing.loads(token, salt=MATERIAL_SALT, max_age=MATERIAL_URL_MAX_AGE))
    except signing.BadSignature:
        raise NotFound("链接无效或已过期", code="material_link_invalid") from None


def pre_review(claim: Claim) -> dict[str, Any]:
    """The platform's 协赔: the checklist, the benefit per coverage by `claim.rules` against what
    the policy year has used so far (nothing is recorded in the ledger: the insurer decides),
    and the fraud screen if there was one."""
    checklist = selectors.checklist(claim)
    terms = selectors.terms_of(claim.policy)
    benefits = []
    for code in claim.coverage_codes:
        coverage = terms.coverage(code)
        if coverage is None:
            continue
        usage = limits.usage_for(claim.policy, code, claim.incident_date)
        loss = Loss(
            amount_claimed=claim.amount_claimed,
            social_insurance_settled=claim.social_insurance_settled,
            cause=claim.cause_code,
        )
        benefit = calculate_benefit(coverage, loss, usage)
        benefits.append(
            {
                "coverage_code": code,
                "payable": benefit.payable,
                "deductible_applied": benefit.deductible_applied,
                "refusal": benefit.refusal,
                "clause": benefit.clause,
                "lines": [{"label": ln.label, "amount": ln.amount, "note": ln.note} for ln in benefit.lines],
                "used_so_far": {"paid": usage.paid, "deductible_used": usage.deductible_used},
            }
        )
    screening = Screening.objects.filter(claim__reference=claim.number).order_by("-created_at", "-id").first()
    return json_safe(
        {
            "checklist_complete": checklist.complete,
            "missing": [k.value for k in checklist.missing],
            "benefits": benefits,
            "payable_total": sum((Decimal(str(b["payable"])) for b in benefits), Decimal("0")),
            "screening": None
            if screening is None
            else {
                "id": str(screening.public_id),
                "score": screening.score,
                "route": screening.route,
                "fired": [f.get("code", "") for f in screening.fired],
            },
        }
    )


def claim_payload(claim: Claim, *, payer: str) -> dict[str, Any]:
    """The claim as the insurer receives it: its data, its materials (digest + a signed URL valid
    7 days), the pre-review, and who pays (the bank account only when the insurer pays)."""
    materials = [
        {
            "kind": m.kind,
            "sha256": m.sha256,
            "content_type": m.content_type,
            "size": m.size,
            "invoice_number": m.invoice_number,
            "duplicate_reason": m.duplicate_reason,
            "url": public_url(reverse("claim:insurer_material", args=[material_token(str(m.public_id))])),
        }
        for m in selectors.materials_of(claim)
    ]
    payee: dict[str, Any] = {
        "name": claim.payee_name,
        "bank": claim.payee_bank,
        "last4": claim.payee_account_last4,
    }
    if payer == Payer.INSURER:
        payee["account"] = claim.payee_account
    return json_safe(
        {
            "claim_number": claim.number,
            "insurer_code": claim.insurer.code,
            "policy_number": claim.policy.number,
            "product_code": claim.policy.product_version.product.code,
            "claim_type": claim.claim_type,
            "coverage_codes": list(claim.coverage_codes),
            "incident_date": claim.incident_date,
            "region_code": claim.region_code,
            "place": claim.place,
            "description": claim.description,
            "cause_code": claim.cause_code,
            "amount_claimed": claim.amount_claimed,
            "social_insurance_settled": claim.social_insurance_settled,
            "reported_at": claim.reported_at,
            "materials_complete_at": claim.materials_complete_at,
            "insurer_pays": payer == Payer.INSURER,
            "payee": payee,
            "materials": materials,
            "pre_review": pre_review(claim),
        }
    )


def callback_url(connector_name: str) -> str:
    return public_url(reverse("claim:insurer_notify", args=[connector_name]))


# --- the delivery ---------------------------------------------------------------------------------


def _move(
    delivery: InsurerClaimDelivery, target: str, *, actor: Any, detail: dict[str, Any] | None = None
) -> None:
    check_transition(DELIVERY_TRANSITIONS, delivery.status, target, what="claim delivery")
    before = delivery.status
    delivery.status = target
    delivery.save()
    audit.record(
        f"claim.insurer_delivery_{target}",
        OBJ_TYPE,
        delivery.claim.number,
        actor=actor,
        before={"status": before},
        after={
            "status": target,
            "connector": delivery.connector,
            "attempts": delivery.attempts,
            "insurer_ref": delivery.insurer_ref,
            "last_error": delivery.last_error,
            "next_attempt_at": delivery.next_attempt_at,
            **(detail or {}),
        },
    )


def open_delivery(claim_id: int, *, claim: Claim | None = None) -> int | None:
    """On materials_complete (inside the claim's transaction): a connector-mode insurer's claim
    gets its delivery, due now; returns its id (None: the back office decides). `claim`: the
    row the caller holds (read otherwise)."""
    if claim is None:
        claim = Claim.objects.select_related("insurer").get(pk=claim_id)
    terms = terms_for(claim.insurer_id)
    if not terms.by_connector:
        return None
    now = timezone.now()
    delivery, created = InsurerClaimDelivery.objects.get_or_create(
        claim=claim,
        defaults={
            "connector": connector_for(claim.insurer.code),
            "payer": terms.payer,
            "created_at": now,
            "next_attempt_at": now,
        },
    )
    if created:
        audit.record(
            "claim.insurer_delivery_pending",
            OBJ_TYPE,
            claim.number,
            actor=lifecycle.SYSTEM,
            after={"connector": delivery.connector, "payer": delivery.payer},
        )
    return delivery.pk


def _forwarded(claim: Claim, *, actor: Any) -> None:
    if claim.status == ClaimStatus.MATERIALS_COMPLETE:
        lifecycle.transition(claim, ClaimStatus.UNDER_REVIEW, actor=actor, line=FORWARDED_LINE)


def deliver_claim(
    delivery_id: int, *, now: datetime.datetime | None = None, force: bool = False, actor: Any = "system"
) -> str:
    """One attempt to send the claim, if due (or `force`); returns the delivery's status after."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            InsurerClaimDelivery.objects.select_for_update()
            .select_related("claim__insurer", "claim__policy__product_version__product")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            raise NotFound(f"no claim delivery {delivery_id}", code="delivery_not_found")
        if delivery.status not in RESENDABLE_NOW:
            return delivery.status
        move = partial(_move, delivery, actor=actor)
        if RETRY.holds(delivery, now=now, force=force, move=move):
            return delivery.status
        claim = lifecycle.lock_claim(delivery.claim.public_id)
        if claim.status not in UNDECIDED:  # decided on the platform in the meantime: nothing to send
            delivery.next_attempt_at = None
            delivery.last_error = f"not_sent: 赔案已{claim.status}，无需发送"[:ERROR_MAX]
            delivery.save(update_fields=["next_attempt_at", "last_error"])
            return delivery.status
        connector = delivery.connector

        def send() -> str:
            return get_connector(connector).send_claim(
                claim_payload(delivery.claim, payer=delivery.payer), callback_url=callback_url(connector)
            )

        def moved(target: str) -> None:
            if target == D.SENT:
                delivery.sent_at = delivery.sent_at or now
            move(target)

        if RETRY.attempt(delivery, send, now=now, move=moved, connector=connector):
            _forwarded(claim, actor=f"insurer:{connector}")
        return delivery.status


RESENDABLE_NOW = frozenset({D.PENDING, D.FAILED, D.GAVE_UP, D.SENT})


def due_claim_deliveries(now: datetime.datetime) -> list[int]:
    return list(
        InsurerClaimDelivery.objects.filter(
            status__in=(D.PENDING, D.FAILED, D.SENT), next_attempt_at__isnull=False, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)
    )


# --- the insurer's notices ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoticeResult:
    """`acknowledge`: answer 'success' (the insurer stops sending it); else `http_status` and the
    error shape."""

    acknowledge: bool
    code: str
    message: str = ""
    http_status: int = 200


INVALID_NOTICE_WINDOW = datetime.timedelta(minutes=10)
INVALID_NOTICES_KEPT_PER_WINDOW = 200
BODY_KEPT = 4_000


def _amount(value: str) -> Decimal | None:
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() and amount > 0 else None


def handle_claim_notice(
    connector_name: str, headers: Mapping[str, str], body: bytes, *, now: datetime.datetime | None = None
) -> NoticeResult:
    now = now or timezone.now()
    try:
        connector = get_connector(connector_name)
        notice = connector.parse_claim_notice(headers, body)
    except InvalidAck as exc:
        keep_refused(  # evidence, within a budget
            InsurerClaimNotice,
            now=now,
            window=INVALID_NOTICE_WINDOW,
            budget=INVALID_NOTICES_KEPT_PER_WINDOW,
            connector=connector_name[:32],
            notify_id=notify_id_of(headers)[:64],
            raw_body=body.decode("utf-8", "replace")[:BODY_KEPT],
            outcome=NoticeOutcome.REFUSED,
            detail=exc.code,
        )
        return NoticeResult(False, exc.code, exc.message, http_status=400)
    if insurer_rules.is_stale_notice(notice.sent_at, now):
        return NoticeResult(False, "stale", "通知时间戳已过期", http_status=400)
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    receipt = InsurerClaimNotice.objects.create(
                        connector=connector.name,
                        notify_id=notice.notify_id[:64],
                        kind=notice.kind,
                        claim_number=notice.claim_number[:20],
                        raw_body=body.decode("utf-8", "replace")[:BODY_KEPT],
                        data=_notice_data(notice),
                        signature_ok=True,
                    )
            except IntegrityError:
                return NoticeResult(True, "duplicate")
            delivery = (
                InsurerClaimDelivery.objects.select_for_update()
                .select_related("claim")
                .filter(claim__number=notice.claim_number, connector=connector.name)
                .first()
            )
            if delivery is None:
                raise NotFound(f"赔案{notice.claim_number}未发送给该保险公司", code="unknown_claim")
            if delivery.insurer_ref and notice.insurer_ref != delivery.insurer_ref:
                raise Conflict(f"保险公司案件号{notice.insurer_ref}与本案不符", code="ref_mismatch")
            receipt.delivery = delivery
            outcome, detail = _apply(delivery, notice, receipt, now=now)
            receipt.outcome, receipt.detail = outcome, detail[:200]
            receipt.applied_at = now if outcome == NoticeOutcome.APPLIED else None
            receipt.save(update_fields=["delivery", "outcome", "detail", "applied_at"])
            if outcome == NoticeOutcome.APPLIED and notice.kind == "decision":
                _apply_deferred(delivery, now=now)
            return NoticeResult(True, str(outcome), detail)
    except (NotFound, Conflict, ValidationFailed) as exc:
        # Not taken: the receipt rolled back with it, so a corrected notice is processed afresh;
        # the claims staff see why on the chase board (the delivery's last error).
        InsurerClaimDelivery.objects.filter(
            claim__number=notice.claim_number, connector=connector.name
        ).update(last_error=f"notice_refused: {notice.kind} {exc.code}: {exc.message}"[:ERROR_MAX])
        return NoticeResult(False, exc.code, exc.message, http_status=exc.http_status)


def _stage(delivery: InsurerClaimDelivery) -> int:
    return STATUS_STAGE.get(delivery.status, 0)


def _apply(
    delivery: InsurerClaimDelivery,
    notice: ClaimNotice,
    receipt: InsurerClaimNotice,
    *,
    now: datetime.datetime,
) -> tuple[str, str]:
    """Applies one verified notice to the locked delivery: (outcome, detail)."""
    actor = f"insurer:{delivery.connector}"
    if delivery.status == D.WITHDRAWN:
        return NoticeOutcome.STALE, "claim withdrawn"
    if NOTICE_STAGE[notice.kind] <= _stage(delivery):
        return NoticeOutcome.STALE, f"delivery already {delivery.status}"
    if notice.kind == "received":
        delivery.insurer_ref = delivery.insurer_ref or notice.insurer_ref[:64]
        delivery.received_at = now
        delivery.next_attempt_at = None
        delivery.last_error = ""
        _move(delivery, D.RECEIVED, actor=actor)
        return NoticeOutcome.APPLIED, "received"
    if notice.kind == "paid":
        if delivery.status != D.DECIDED:
            return NoticeOutcome.DEFERRED, "payment before the decision: kept until it comes"
        return _apply_paid(delivery, notice, actor=actor, now=now)
    return _apply_decision(delivery, notice, actor=actor, now=now)


def _apply_decision(
    delivery: InsurerClaimDelivery, notice: ClaimNotice, *, actor: str, now: datetime.datetime
) -> tuple[str, str]:
    """The insurer's decision, applied once with `decisions.decide` (the one decision path): an
    approval pays the benefit Huibao calculated (the pre-review the insurer was sent); a partial
    payment the insurer's amount; a denial its reason and clause. When the insurer pays itself no
    payout is requested: its "paid" notice completes the claim."""
    kind = notice.decision
    if kind not in DecisionKind.values:
        raise ValidationFailed(
            "决定无效：decision须为approve、partial或deny",
            code="bad_decision",
            errors=[FieldError("decision", "invalid", "保险公司的决定无效")],
        )
    amount = _amount(notice.amount) if kind == DecisionKind.PARTIAL else None
    reason = notice.reason_code if notice.reason_code in DecisionReason.values else ""
    if kind != DecisionKind.APPROVE and not reason:
        reason = DecisionReason.OTHER
    claim = lifecycle.lock_claim(delivery.claim.public_id)
    if claim.status not in UNDECIDED:
        return NoticeOutcome.STALE, f"claim already {claim.status}"
    _forwarded(claim, actor=actor)
    decide(
        claim,
        Decision(
            kind=DecisionKind(kind),
            reason_code=reason,
            clause=notice.clause[:120],
            note=notice.note[:500],
            amount=amount,
        ),
        actor=actor,
        pay=delivery.payer != Payer.INSURER,
    )
    delivery.decided_at = now
    delivery.next_attempt_at = None
    _move(delivery, D.DECIDED, actor=actor, detail={"decision": kind, "amount": amount})
    return NoticeOutcome.APPLIED, kind


def _apply_paid(
    delivery: InsurerClaimDelivery, notice: ClaimNotice, *, actor: str, now: datetime.datetime
) -> tuple[str, str]:
    amount = _amount(notice.amount)
    if amount is None or not notice.payment_ref:
        raise ValidationFailed(
            "赔付通知须有支付流水号与大于0的金额",
            code="bad_payment",
            errors=[FieldError("payment_ref", "required", "支付流水号或金额缺失")],
        )
    claim = lifecycle.lock_claim(delivery.claim.public_id)
    if claim.status != ClaimStatus.APPROVED:
        raise Conflict(
            f"赔案{claim.number}当前状态为{claim.status}，不能登记保险公司赔付", code="not_payable"
        )
    note = f"保险公司支付流水号：{notice.payment_ref}，金额{amount}元"
    lifecycle.transition(claim, ClaimStatus.PAYING, actor=actor, line=INSURER_PAYING_LINE)
    lifecycle.transition(claim, ClaimStatus.PAID, actor=actor, line=INSURER_PAID_LINE, note=note)
    delivery.payment_ref = notice.payment_ref[:64]
    delivery.paid_amount = amount
    delivery.paid_at = now
    _move(delivery, D.PAID, actor=actor, detail={"payment_ref": delivery.payment_ref, "amount": amount})
    return NoticeOutcome.APPLIED, "paid"


def _notice_data(notice: ClaimNotice) -> dict[str, Any]:
    data = {f: getattr(notice, f) for f in ClaimNotice.__dataclass_fields__}
    data["sent_at"] = notice.sent_at.isoformat()
    return data


def _notice_of(data: Mapping[str, Any]) -> ClaimNotice:
    values = dict(data)
    values["sent_at"] = datetime.datetime.fromisoformat(str(values["sent_at"]))
    return ClaimNotice(**values)


def _apply_deferred(delivery: InsurerClaimDelivery, *, now: datetime.datetime) -> None:
    """A payment notice that came before the decision, applied now that the decision is in."""
    for receipt in delivery.notices.filter(outcome=NoticeOutcome.DEFERRED, kind="paid").order_by("id"):
        outcome, detail = _apply(delivery, _notice_of(receipt.data), receipt, now=now)
        receipt.outcome, receipt.detail = outcome, detail[:200]
        receipt.applied_at = now if outcome == NoticeOutcome.APPLIED else None
        receipt.save(update_fields=["outcome", "detail", "applied_at"])


# --- following the claim's own moves ----------------------------------------------------------------


def follow_claim(claim_id: int, to_status: str, *, from_status: str | None = None) -> None:
    """On the claim's own moves: a withdrawal ends its delivery; a decision or a withdrawal
    resolves its overdue flag — once, on the move out of the undecided states (only undecided
    claims are flagged, so a move between decided ones, approved → paying, has none to resolve;
    `from_status` None: not known, resolved anyway)."""
    if to_status == ClaimStatus.WITHDRAWN:
        delivery = InsurerClaimDelivery.objects.select_for_update().filter(claim_id=claim_id).first()
        if delivery is not None and delivery.status in AWAITING_DECISION:
            delivery.next_attempt_at = None
            _move(delivery, D.WITHDRAWN, actor=lifecycle.SYSTEM)
    if to_status not in UNDECIDED and (from_status is None or from_status in UNDECIDED):
        ClaimOverdue.objects.filter(claim_id=claim_id, resolved_at__isnull=True).update(
            resolved_at=timezone.now()
        )


# --- chasing ------------------------------------------------------------------------------------------


CHASEABLE = UNDECIDED | {ClaimStatus.APPROVED}


def chase(
    claim_public_id: Any, *, actor: Any, note: str = "", request: HttpRequest | None = None
) -> ClaimChase:
    """A 催办 by the agency's claims staff: recorded; in connector mode the claim is sent again
    (the insurer has not taken it) or the insurer asked where it stands (taken). Refused
    (nothing written) for a claim no longer waiting on its insurer."""
    now = timezone.now()
    with transaction.atomic():
        claim = lifecycle.lock_claim(claim_public_id)
        if claim.status not in CHASEABLE:
            raise Conflict(f"赔案{claim.number}已不在等待保险公司处理，无需催办", code="not_waiting")
        delivery = InsurerClaimDelivery.objects.select_for_update().filter(claim=claim).first()
        if claim.status == ClaimStatus.APPROVED and (delivery is None or delivery.payer != Payer.INSURER):
            raise Conflict(f"赔案{claim.number}由汇保支付，无需向保险公司催办", code="not_waiting")
        action, answer = "reminded", ""
    if delivery is not None and delivery.status in RESENDABLE_NOW:
        action = "resent"
        status = deliver_claim(delivery.pk, force=True, actor=actor)
        answer = str(ClaimDeliveryStatus(status).label)
        delivery.refresh_from_db()
        if status in (D.FAILED, D.GAVE_UP):
            answer = f"{answer}：{delivery.last_error}"
    elif delivery is not None:
        action = "queried"
        try:
            answer = get_connector(delivery.connector).query_claim(claim.number, delivery.insurer_ref)
        except (DeliveryFailed, InvalidAck) as exc:
            answer = f"{exc.code}: {exc.message}"
    with transaction.atomic():
        claim.refresh_from_db(fields=["status"])
        row = ClaimChase.objects.create(
            claim=claim,
            at=now,
            actor=actor,
            claim_status=claim.status,
            action=action,
            answer=answer[:200],
            note=note.strip()[:200],
        )
        audit.record(
            "claim.chased",
            OBJ_TYPE,
            claim.number,
            actor=actor,
            request=request,
            after={"action": action, "answer": answer[:200], "status": claim.status},
        )
    return row


# --- the daily overdue flags ----------------------------------------------------------------------------


def claims_staff() -> list[User]:
    """Who is told of an overdue claim: active staff who may handle claims."""
    return list(
        User.objects.filter(
            kind=UserKind.STAFF,
            is_active=True,
            groups__permissions__content_type__app_label="claim",
            groups__permissions__codename="change_claim",
        )
        .distinct()
        .order_by("pk")
    )


def flag_overdue(now: datetime.datetime | None = None, *, batch: int = 200) -> list[ClaimOverdue]:
    """Flags every undecided claim past its insurer's promised time (once) and tells the claims
    staff (one message per insurer and run: the flagged claims' numbers). Idempotent."""
    now = now or timezone.now()
    flagged: list[ClaimOverdue] = []
    terms: dict[int, InsurerTerms] = {}
    candidates = (
        Claim.objects.filter(status__in=UNDECIDED, materials_complete_at__isnull=False, overdue__isnull=True)
        .order_by("materials_complete_at", "id")
        .values_list("pk", "insurer_id", "materials_complete_at", "sla_paused", "sla_paused_since")
    )
    due_ids: list[tuple[int, datetime.datetime]] = []
    for pk, insurer_id, complete_at, paused, paused_since in candidates.iterator():
        if complete_at is None:
            continue
        if insurer_id not in terms:
            terms[insurer_id] = terms_for(insurer_id)
        due_at = insurer_rules.decision_due(
            complete_at, terms[insurer_id].decision_days, paused=paused, paused_since=paused_since, now=now
        )
        if insurer_rules.is_overdue(due_at, now):
            due_ids.append((pk, due_at))
    staff = claims_staff()
    for start in range(0, len(due_ids), batch):
        with transaction.atomic():
            chunk = due_ids[start : start + batch]
            rows = []
            for pk, due_at in chunk:
                row, created = ClaimOverdue.objects.get_or_create(
                    claim_id=pk, defaults={"due_at": due_at, "flagged_at": now}
                )
                if created:
                    rows.append(row)
            numbers = dict(
                Claim.objects.filter(pk__in=[r.claim_id for r in rows]).values_list("pk", "number")
            )
            for row in rows:
                audit.record(
                    "claim.overdue_flagged",
                    OBJ_TYPE,
                    numbers[row.claim_id],
                    actor=lifecycle.SYSTEM,
                    after={"due_at": row.due_at},
                )
            if rows:
                listed = "、".join(numbers[r.claim_id] for r in rows[:20])
                for user in staff:
                    notification.notify(
                        user=user,
                        template=OVERDUE_TEMPLATE,
                        context={"count": len(rows), "claims": listed},
                        dedup_key=f"claim-overdue:{rows[0].pk}:{user.pk}",
                        reference=numbers[rows[0].claim_id],
                    )
            flagged.extend(rows)
    return flagged
