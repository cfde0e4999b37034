"""The claim decision (理赔决定): approve, approve in part or deny — by an adjuster, by the
system (the fast track) or by an insurer's own system (the connector) — and the money that
follows it.

`decide(claim, Decision(...), actor=…)` in one transaction with the claim's row locked:

1. the decision is checked (a denial and a partial payment need a reason code; a partial amount
   is above zero, to the fen and at most the calculated benefit) and the move is checked against
   the transition table; a human actor must hold an active `ClaimsDesk` that sees the claim's
   insurer (another insurer's claim is "not found");
2. an approval computes the benefit on the ledger (`limits.record_benefit`, coverage by
   coverage in the order the claim lists them, each covering what the previous left of the
   amount claimed; a partial approval caps it under the ledger's lock), so remaining limits
   stay right under concurrent claims; the explanation is stored line by line on the claim;
3. an approval above the four-eyes amount (the least of the insurer's setting, the version's
   `four_eyes_amount` and the deciding adjuster's own approval limit) waits for a second
   adjuster: a pending `ClaimApproval`, the claim under review, nothing paid. Another adjuster
   (never the one who proposed it) confirms it (`confirm_approval`) or sends it back
   (`reject_approval`, the benefit released);
4. otherwise (or once confirmed) the claim is approved and the payout requested
   (`payment.payouts.request_payout`, kind "claim", reference the claim number) → paying. The
   payout hooks move it to paid, or to payment_failed with the benefit released (a payout
   given up); `retry_payment` records it again and pays under a new reference.

A decision by an insurer's own system (an actor label such as "insurer:pingan") skips the
platform's four eyes: the insurer decided under its own controls. Every step writes the
timeline (the customer is told by `lifecycle.transition`) and an audit entry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from huibao.catalog.claim_terms import ClaimTerms
from huibao.claim import limits, recoveries, selectors
from huibao.claim.lifecycle import SYSTEM, lock_claim, transition
from huibao.claim.models import (
    ApprovalStatus,
    Claim,
    ClaimApproval,
    ClaimsDesk,
    ClaimTriage,
)
from huibao.claim.rules import Benefit, Loss, benefit_as_json, calculate_benefit
from huibao.claim.selectors import DEFAULT_DECISION_DAYS, terms_of
from huibao.claim.states import DECIDABLE_STATUSES, TRANSITIONS, ClaimStatus, DecisionKind, DecisionReason
from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from huibao.core.money import format_cny, to_fen
from huibao.core.states import check_transition
from huibao.core.validators import validate_bank_card
from huibao.fraud import selectors as fraud_selectors
from huibao.payment import payouts
from huibao.payment.models import Payout

log = logging.getLogger(__name__)

PAYOUT_KIND = "claim"
DEFAULT_FOUR_EYES_AMOUNT = Decimal("10000.00")
ZERO = Decimal("0")


@dataclass(frozen=True, slots=True)
class Decision:
    kind: DecisionKind  # approve | partial | deny
    reason_code: str = ""  # DecisionReason (deny and partial need one)
    clause: str = ""  # the clause quoted
    note: str = ""  # the adjuster's note (shown to the customer for a denial or a partial payment)
    amount: Decimal | None = None  # partial: the amount approved; approve: None = the calculated benefit
    # What the claim proves when the adjuster found more than the report says (hospital days, a
    # disability grade, a delay, invoice lines); None: the report's amount, settlement and cause.
    loss: Loss | None = None


@dataclass(frozen=True, slots=True)
class CoverageBenefit:
    code: str
    name: str
    benefit: Benefit


@dataclass(frozen=True, slots=True)
class ClaimBenefit:
    """The benefit of a claim across its coverages (a preview, or what was recorded)."""

    payable: Decimal
    parts: tuple[CoverageBenefit, ...]
    # A locked preview's usage rows by coverage (`preview(lock=True)`), for `decide_locked` to
    # record on without reading them again; empty otherwise.
    held: Mapping[str, limits.HeldUsage] = field(default_factory=dict, compare=False)

    @property
    def refusal(self) -> str:
        return "；".join(p.benefit.refusal for p in self.parts if p.benefit.refusal)

    def as_json(self) -> dict[str, Any]:
        return {
            "payable": str(self.payable),
            "coverages": [{"code": p.code, "name": p.name, **benefit_as_json(p.benefit)} for p in self.parts],
        }


# --- who decides --------------------------------------------------------------------------------


def is_person(actor: Any) -> bool:
    return actor is not None and not isinstance(actor, str) and getattr(actor, "pk", None) is not None


def desk_of(user: Any) -> ClaimsDesk | None:
    if not is_person(user):
        return None
    return ClaimsDesk.objects.filter(user_id=user.pk, active=True).select_related("insurer").first()


def desk_for_claim(actor: Any, claim: Claim) -> ClaimsDesk | None:
    """The human actor's desk, which must see the claim's insurer; None for the system."""
    if not is_person(actor):
        return None
    desk = desk_of(actor)
    if desk is None:
        raise PermissionDenied("您没有理赔岗位，不能处理理赔案件", code="no_claims_desk")
    if desk.insurer_id is not None and desk.insurer_id != claim.insurer_id:
        raise NotFound("理赔案件不存在", code="claim_not_found")
    return desk


def insurer_settings(insurer_id: int) -> tuple[Decimal, int]:
    """(four-eyes amount, promised decision days) of the insurer, or the defaults."""
    row = selectors.insurer_settings(insurer_id)
    if row is None:
        return DEFAULT_FOUR_EYES_AMOUNT, DEFAULT_DECISION_DAYS
    return Decimal(row.four_eyes_amount), row.decision_days


def four_eyes_amount(claim: Claim, terms: ClaimTerms, desk: ClaimsDesk | None) -> Decimal:
    """Above it an approval needs a second adjuster: the least of the insurer's setting, the
    version's `four_eyes_amount` and the deciding adjuster's own approval limit."""
    amounts = [insurer_settings(claim.insurer_id)[0]]
    if terms.four_eyes_amount is not None:
        amounts.append(terms.four_eyes_amount)
    if desk is not None and desk.approval_limit is not None:
        amounts.append(Decimal(desk.approval_limit))
    return min(amounts)


# --- the benefit --------------------------------------------------------------------------------


def loss_of(claim: Claim) -> Loss:
    """What the report proves: the amount claimed, the social-insurance settlement, the cause."""
    return Loss(
        amount_claimed=Decimal(claim.amount_claimed),
        social_insurance_settled=claim.social_insurance_settled,
        cause=claim.cause_code,
    )


def preview(
    claim: Claim, loss: Loss | None = None, *, terms: ClaimTerms | None = None, lock: bool = False
) -> ClaimBenefit:
    """The benefit the claim would get now (a read: nothing recorded, no lock) — the review page's
    preview and a denial's explanation. `lock=True` (inside the transaction that may decide it:
    the fast track's): the usage rows read are locked with the read and kept on the answer
    (`held`), for `decide_locked` to record on without reading them again."""
    terms = terms or terms_of(claim.policy)
    loss = loss or loss_of(claim)
    left = loss.amount_claimed
    parts: list[CoverageBenefit] = []
    held: dict[str, limits.HeldUsage] = {}
    for code in claim.coverage_codes:
        coverage = terms.coverage(code)
        if coverage is None or left <= ZERO:
            continue
        if lock:
            held[code] = limits.lock_usage(claim.policy, code, claim.incident_date)
            usage = held[code].so_far
        else:
            usage = limits.usage_for(claim.policy, code, claim.incident_date)
        benefit = calculate_benefit(coverage, replace(loss, amount_claimed=left), usage)
        parts.append(CoverageBenefit(code, coverage.name, benefit))
        left -= benefit.payable
    return ClaimBenefit(sum((p.benefit.payable for p in parts), ZERO), tuple(parts), held)


def _record(
    claim: Claim,
    terms: ClaimTerms,
    loss: Loss,
    cap: Decimal | None,
    held: Mapping[str, limits.HeldUsage] | None = None,
    first: bool = False,
) -> ClaimBenefit:
    """Records the claim's benefit on the ledger, coverage by coverage (in the caller's
    transaction); `held`: the usage rows this transaction locked by coverage (a locked preview);
    `first`: the claim's first approval (no entry of it exists)."""
    left = loss.amount_claimed
    cap_left = cap
    parts: list[CoverageBenefit] = []
    for code in claim.coverage_codes:
        coverage = terms.coverage(code)
        if coverage is None or left <= ZERO or (cap_left is not None and cap_left <= ZERO):
            continue
        benefit = limits.record_benefit(
            claim.policy,
            coverage,
            replace(loss, amount_claimed=left),
            reference=claim.number,
            incident_date=claim.incident_date,
            cap=cap_left,
            held=(held or {}).get(code),
            first=first,
        )
        parts.append(CoverageBenefit(code, coverage.name, benefit))
        left -= benefit.payable
        if cap_left is not None:
            cap_left -= benefit.payable
    return ClaimBenefit(sum((p.benefit.payable for p in parts), ZERO), tuple(parts))


# --- checking a decision ------------------------------------------------------------------------


def _refuse(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, errors=[FieldError(field, code, message)])


def check_decision(decision: Decision) -> list[FieldError]:
    """What is wrong with the decision itself (before any read), each naming its field."""
    errors: list[FieldError] = []
    try:
        kind = DecisionKind(decision.kind)
    except ValueError:
        return [FieldError("kind", "kind_invalid", "请选择赔付、部分赔付或拒赔")]
    if decision.reason_code and decision.reason_code not in DecisionReason.values:
        errors.append(FieldError("reason_code", "reason_invalid", "拒赔/部分赔付原因不正确"))
    elif kind is not DecisionKind.APPROVE and not decision.reason_code:
        errors.append(FieldError("reason_code", "reason_required", "拒赔或部分赔付必须选择原因"))
    if len(decision.clause) > 120:
        errors.append(FieldError("clause", "clause_too_long", "条款引用最多120个字"))
    if len(decision.note) > 500:
        errors.append(FieldError("note", "note_too_long", "说明最多500个字"))
    if kind is DecisionKind.PARTIAL:
        amount = decision.amount
        try:
            bad = amount is None or amount <= ZERO or amount != to_fen(amount)
        except (InvalidOperation, TypeError):
            bad = True
        if bad:
            errors.append(FieldError("amount", "amount_invalid", "部分赔付金额必须大于零，最多两位小数"))
    elif decision.amount is not None:
        errors.append(FieldError("amount", "amount_not_allowed", "只有部分赔付需要填写核定金额"))
    return errors


def customer_note(reason_code: str, clause: str, note: str) -> str:
    """What the customer reads under a denial or a partial payment: the reason, the clause, the note."""
    parts = []
    if reason_code:
        parts.append(str(DecisionReason(reason_code).label))
    if clause:
        parts.append(f"依据{clause}")
    text = "，".join(parts)
    if note:
        text = f"{text}。{note}" if text else note
    return text[:500]


# --- the use-cases ------------------------------------------------------------------------------


def decide(
    claim: Claim, decision: Decision, *, actor: Any, auto: bool = False, request: Any = None, pay: bool = True
) -> Claim:
    """Approves, approves in part or denies the claim (see the module's docstring). Bad input
    raises ValidationFailed naming the field; nothing is changed then. `pay=False`: an approval
    stays approved with no payout requested — the insurer pays the customer itself and reports
    it (`insurer.handle_claim_notice`)."""
    errors = check_decision(decision)
    if errors:
        raise ValidationFailed(errors[0].message, errors=errors)
    with transaction.atomic():
        locked = lock_claim(claim.public_id)
        _decide(locked, decision, actor=actor, auto=auto, request=request, pay=pay)
    claim.refresh_from_db()
    return claim


def decide_locked(
    claim: Claim,
    decision: Decision,
    *,
    actor: Any,
    terms: ClaimTerms,
    held: bool,
    usages: Mapping[str, limits.HeldUsage] | None = None,
) -> Claim:
    """`decide` for a caller that already holds the claim's row lock in its transaction (the
    fast track's triage): `claim` is that locked row, decided in place (not read again), with
    the claim terms the caller read, whether its triage holds it (`held`) and the ledger's usage
    rows it locked (`usages`, a locked preview's `held`) — the same checks, the same rows, fewer
    round trips. Decided by the system (`auto`)."""
    errors = check_decision(decision)
    if errors:
        raise ValidationFailed(errors[0].message, errors=errors)
    _decide(
        claim, decision, actor=actor, auto=True, request=None, pay=True, terms=terms, held=held, usages=usages
    )
    return claim


def _decide(
    locked: Claim,
    decision: Decision,
    *,
    actor: Any,
    auto: bool,
    request: Any,
    pay: bool,
    terms: ClaimTerms | None = None,
    held: bool | None = None,
    usages: Mapping[str, limits.HeldUsage] | None = None,
) -> None:
    kind = DecisionKind(decision.kind)
    desk = desk_for_claim(actor, locked)
    if locked.status not in DECIDABLE_STATUSES:
        raise Conflict("该案件当前不能做出理赔决定", code="not_decidable")
    # A pending approval moved its claim to under_review first (`_approve`): a claim still at
    # materials_complete (the fast track's) has none, and is not asked.
    if (
        locked.status != ClaimStatus.MATERIALS_COMPLETE
        and ClaimApproval.objects.filter(claim=locked, status=ApprovalStatus.PENDING).exists()
    ):
        raise Conflict("该案件的赔付正在等待复核", code="approval_pending")
    if kind is not DecisionKind.DENY:
        if held is None:
            held = ClaimTriage.objects.filter(claim=locked, held=True).exists()
        if held:
            # A fraud review holds it: money moves only once an analyst has cleared it.
            raise Conflict("该案件正在风控复核中，复核结束前不能批准赔付", code="fraud_review_pending")
    target = ClaimStatus.DENIED if kind is DecisionKind.DENY else ClaimStatus.APPROVED
    check_transition(TRANSITIONS, locked.status, target, what=f"claim {locked.number}")
    terms = terms or terms_of(locked.policy)
    loss = decision.loss or loss_of(locked)
    # A claim decided at materials_complete (reachable from reported only) was never approved
    # before: it has no payout yet, and its payouts are not read.
    first = locked.status == ClaimStatus.MATERIALS_COMPLETE
    if kind is DecisionKind.DENY:
        _deny(locked, decision, preview(locked, loss, terms=terms), actor=actor, auto=auto, request=request)
    else:
        _approve(
            locked,
            decision,
            kind,
            terms,
            loss,
            desk,
            actor=actor,
            auto=auto,
            request=request,
            pay=pay,
            usages=usages,
            first=first,
        )


def _deny(
    claim: Claim, decision: Decision, explained: ClaimBenefit, *, actor: Any, auto: bool, request: Any
) -> None:
    _store_decision(
        claim,
        kind=DecisionKind.DENY,
        amount=None,
        reason_code=decision.reason_code,
        clause=decision.clause,
        note=decision.note,
        benefit=explained.as_json(),
        decided_by=actor,
        auto=auto,
    )
    transition(
        claim,
        ClaimStatus.DENIED,
        actor=actor,
        note=customer_note(decision.reason_code, decision.clause, decision.note),
    )
    paid = paid_so_far(claim)
    if paid > ZERO:
        # Denied after payment (fraud found later): the benefit goes back to the ledger and what
        # was paid is to be recovered from the payee — by a person, never automatically.
        limits.release_benefit(claim.number)
        recoveries.open_recovery(claim, paid, actor=actor, reason_code=decision.reason_code)
    _audit(
        "claim.denied",
        claim,
        actor,
        request,
        {"reason_code": decision.reason_code, "clause": decision.clause},
    )


def _approve(
    claim: Claim,
    decision: Decision,
    kind: DecisionKind,
    terms: ClaimTerms,
    loss: Loss,
    desk: ClaimsDesk | None,
    *,
    actor: Any,
    auto: bool,
    request: Any,
    pay: bool = True,
    usages: Mapping[str, limits.HeldUsage] | None = None,
    first: bool = False,
) -> None:
    cap = decision.amount if kind is DecisionKind.PARTIAL else None
    recorded = _record(claim, terms, loss, cap, usages, first)
    if recorded.payable <= ZERO:
        why = recorded.refusal or "核算应赔付金额为零"
        raise _refuse("kind", "nothing_payable", f"核算应赔付金额为零（{why}），不能批准赔付，请选择拒赔")
    if cap is not None and recorded.payable < cap:
        raise _refuse(
            "amount",
            "amount_above_benefit",
            f"部分赔付金额不能超过核算的应赔付金额 {format_cny(recorded.payable)}",
        )
    external = isinstance(actor, str) and actor != SYSTEM
    if not external and recorded.payable > four_eyes_amount(claim, terms, desk):
        if claim.status == ClaimStatus.MATERIALS_COMPLETE:
            transition(claim, ClaimStatus.UNDER_REVIEW, actor=actor)
        approval = ClaimApproval.objects.create(
            claim=claim,
            kind=kind,
            amount=recorded.payable,
            proposed_by=actor if is_person(actor) else None,
            proposed_at=timezone.now(),
            reason_code=decision.reason_code,
            clause=decision.clause,
            decision_note=decision.note,
            benefit=recorded.as_json(),
            auto=auto,
        )
        _audit(
            "claim.approval_proposed",
            claim,
            actor,
            request,
            {"approval": approval.pk, "kind": kind.value, "amount": str(recorded.payable)},
        )
        return
    decided = _store_decision(
        claim,
        kind=kind,
        amount=recorded.payable,
        reason_code=decision.reason_code,
        clause=decision.clause,
        note=decision.note,
        benefit=recorded.as_json(),
        decided_by=actor,
        auto=auto,
        save=False,
    )
    _approved_then_pay(claim, actor=actor, request=request, pay=pay, fields=decided, first=first)


def _store_decision(
    claim: Claim,
    *,
    kind: DecisionKind,
    amount: Decimal | None,
    reason_code: str,
    clause: str,
    note: str,
    benefit: dict[str, Any],
    decided_by: Any,
    auto: bool,
    save: bool = True,
) -> list[str]:
    """Sets the decision's fields on the claim and saves them — or, `save=False`, leaves them for
    the move that follows to save in its own UPDATE (`transition(..., fields=…)`); the fields."""
    claim.decision_kind = kind
    claim.approved_amount = amount
    claim.reason_code = reason_code
    claim.clause = clause
    claim.decision_note = note
    claim.benefit = benefit
    claim.decided_by = decided_by if is_person(decided_by) else None
    claim.auto_decided = auto
    fields = [
        "decision_kind",
        "approved_amount",
        "reason_code",
        "clause",
        "decision_note",
        "benefit",
        "decided_by",
        "auto_decided",
    ]
    if save:
        claim.save(update_fields=[*fields, "updated_at"])
    return fields


def _approved_then_pay(
    claim: Claim,
    *,
    actor: Any,
    request: Any,
    pay: bool = True,
    fields: Sequence[str] = (),
    first: bool = False,
) -> None:
    """`fields`: the decision's, not saved yet (saved with the move to approved); `first`: the
    claim's first approval (it has no payout yet)."""
    partial = claim.decision_kind == DecisionKind.PARTIAL
    note = customer_note(claim.reason_code, claim.clause, claim.decision_note) if partial else ""
    amount = Decimal(claim.approved_amount or 0)
    transition(
        claim,
        ClaimStatus.APPROVED,
        actor=actor,
        note=f"核定赔付 {format_cny(amount)}" + (f"；{note}" if note else ""),
        fields=fields,
    )
    _audit(
        "claim.approved",
        claim,
        actor,
        request,
        {"kind": claim.decision_kind, "amount": str(amount), "auto": claim.auto_decided},
    )
    if pay:
        _pay(claim, actor=actor, made=[] if first else None)


def _payouts_of(claim: Claim) -> list[tuple[Decimal, str]]:
    """(amount, status) of every payout of the claim, in one read."""
    return list(
        Payout.objects.filter(kind=PAYOUT_KIND, reference__startswith=claim.number).values_list(
            "amount", "status"
        )
    )


def paid_so_far(claim: Claim, made: list[tuple[Decimal, str]] | None = None) -> Decimal:
    """What the claim's payouts have paid (an appeal's re-decision pays only the difference);
    `made`: the claim's payouts when the caller has read them (`_payouts_of`)."""
    made = _payouts_of(claim) if made is None else made
    if not made:
        return ZERO  # nothing paid, so nothing recovered either (a recovery follows a payment)
    paid = sum((Decimal(amount) for amount, status in made if status == "succeeded"), ZERO)
    # What the payee paid back (a recovery recorded recovered) is no longer paid.
    return paid - recoveries.recovered_total(claim)


def _next_reference(claim: Claim, made: list[tuple[Decimal, str]] | None = None) -> str:
    """The claim number for its first payout, then `<number>-2`, `-3`… (a payout's reference is
    unique: a retry or a re-decision is a new payout)."""
    count = len(_payouts_of(claim) if made is None else made)
    return claim.number if count == 0 else f"{claim.number}-{count + 1}"


def _pay(claim: Claim, *, actor: Any, made: list[tuple[Decimal, str]] | None = None) -> Payout | None:
    """Pays what the approval leaves due; `made`: the claim's payouts when known (none on a
    first approval), else read."""
    if fraud_selectors.open_case_exists(claim.number):
        # One owner of the fact: no money moves while the analysts' case on the claim is open
        # (a review or a block), whoever approved it and however (four eyes, retry, re-decision).
        raise Conflict("该案件有未结的风控案件，结案前不能支付赔款", code="fraud_case_open")
    if made is None:
        made = _payouts_of(claim)
    due = Decimal(claim.approved_amount or 0) - paid_so_far(claim, made)
    if due <= ZERO:
        # A re-decision that pays no more than was paid already: nothing moves; what was paid
        # beyond it is to be recovered (an open recovery is replaced by this decision's).
        if due < ZERO or recoveries.open_recovery_of(claim) is not None:
            recoveries.open_recovery(claim, -due, actor=actor, reason_code=claim.reason_code)
        transition(claim, ClaimStatus.PAYING, actor=actor, note="本次核定金额已全部支付")
        transition(claim, ClaimStatus.PAID, actor=SYSTEM, note="无需另行支付")
        return None
    payout = payouts.request_payout(
        kind=PAYOUT_KIND,
        reference=_next_reference(claim, made),
        amount=due,
        payee_name=claim.payee_name,
        account_number=claim.payee_account,
        bank_name=claim.payee_bank,
        memo=f"赔案{claim.number}赔款",
    )
    transition(
        claim,
        ClaimStatus.PAYING,
        actor=actor,
        note=f"赔款 {format_cny(due)} 将支付至尾号{claim.payee_account_last4}的银行卡",
    )
    return payout


def _audit(action: str, claim: Claim, actor: Any, request: Any, after: dict[str, Any]) -> None:
    audit.record(
        action,
        "claim",
        claim.number,
        actor=actor if is_person(actor) else None,
        after={**after, "actor": actor if isinstance(actor, str) else f"user:{getattr(actor, 'pk', '')}"},
        request=request,
    )


def pending_approval(claim: Claim) -> ClaimApproval | None:
    return ClaimApproval.objects.filter(claim=claim, status=ApprovalStatus.PENDING).first()


def _under_review(claim: Claim, actor: Any) -> tuple[Claim, ClaimsDesk, ClaimApproval]:
    """In the caller's transaction: the claim and its pending approval locked, and the reviewer's
    desk — claims staff, and not the adjuster who proposed it."""
    locked = lock_claim(claim.public_id)
    desk = desk_for_claim(actor, locked)
    if desk is None:
        raise PermissionDenied("复核必须由理赔人员完成", code="reviewer_required")
    approval = (
        ClaimApproval.objects.select_for_update().filter(claim=locked, status=ApprovalStatus.PENDING).first()
    )
    if approval is None:
        raise Conflict("该案件没有待复核的赔付", code="no_pending_approval")
    if approval.proposed_by_id == actor.pk:
        raise PermissionDenied("不能复核自己提出的赔付，请由另一位理赔人员复核", code="same_adjuster")
    return locked, desk, approval


def confirm_approval(claim: Claim, *, actor: Any, note: str = "", request: Any = None) -> Claim:
    """The second adjuster confirms a pending approval: approved, then paid. Never the adjuster
    who proposed it; their own approval limit must reach the amount."""
    with transaction.atomic():
        locked, desk, approval = _under_review(claim, actor)
        if desk.approval_limit is not None and Decimal(desk.approval_limit) < approval.amount:
            raise PermissionDenied(
                f"赔付金额 {format_cny(approval.amount)} 超出您的审批权限", code="over_approval_limit"
            )
        approval.status = ApprovalStatus.CONFIRMED
        approval.reviewed_by = actor
        approval.reviewed_at = timezone.now()
        approval.note = note.strip()[:500]
        approval.save(update_fields=["status", "reviewed_by", "reviewed_at", "note"])
        _store_decision(
            locked,
            kind=DecisionKind(approval.kind),
            amount=approval.amount,
            reason_code=approval.reason_code,
            clause=approval.clause,
            note=approval.decision_note,
            benefit=approval.benefit,
            decided_by=approval.proposed_by,
            auto=approval.auto,
        )
        _audit("claim.approval_confirmed", locked, actor, request, {"approval": approval.pk})
        _approved_then_pay(locked, actor=actor, request=request)
    claim.refresh_from_db()
    return claim


def reject_approval(claim: Claim, *, actor: Any, note: str, request: Any = None) -> Claim:
    """The second adjuster sends a pending approval back (with a reason): the benefit recorded for
    it is released and the claim stays under review for a new decision."""
    note = (note or "").strip()
    if not note:
        raise _refuse("note", "note_required", "请填写退回原因")
    with transaction.atomic():
        locked, _desk, approval = _under_review(claim, actor)
        approval.status = ApprovalStatus.REJECTED
        approval.reviewed_by = actor
        approval.reviewed_at = timezone.now()
        approval.note = note[:500]
        approval.save(update_fields=["status", "reviewed_by", "reviewed_at", "note"])
        limits.release_benefit(locked.number)
        _audit(
            "claim.approval_rejected", locked, actor, request, {"approval": approval.pk, "note": note[:200]}
        )
    claim.refresh_from_db()
    return claim


def retry_payment(
    claim: Claim, *, actor: Any, payee_account: str = "", payee_bank: str = "", request: Any = None
) -> Claim:
    """Pays a claim whose payout was given up again (payment_failed → paying): the benefit is
    recorded anew (it was released) for the approved amount, and paid under a new reference —
    to a corrected account when `payee_account` is given (the bank did not know the old one)."""
    account = validate_bank_card(payee_account, field="payee_account") if payee_account.strip() else ""
    with transaction.atomic():
        locked = lock_claim(claim.public_id)
        desk_for_claim(actor, locked)
        if locked.status != ClaimStatus.PAYMENT_FAILED:
            raise Conflict("该案件当前不需要重新支付", code="not_payment_failed")
        if account:
            before = locked.payee_account_last4
            locked.payee_account = account
            locked.payee_account_last4 = account[-4:]
            locked.payee_bank = payee_bank.strip()[:40]
            locked.save(update_fields=["payee_account", "payee_account_last4", "payee_bank", "updated_at"])
            _audit(
                "claim.payee_account_changed",
                locked,
                actor,
                request,
                {"before": before, "after": account[-4:]},
            )
        amount = Decimal(locked.approved_amount or 0)
        recorded = _record(locked, terms_of(locked.policy), loss_of(locked), amount)
        if recorded.payable != amount:
            raise Conflict(
                f"剩余保额已不足核定金额 {format_cny(amount)}"
                f"（现可赔付 {format_cny(recorded.payable)}），请重新审核",
                code="benefit_changed",
            )
        _audit("claim.payment_retried", locked, actor, request, {"reference": _next_reference(locked)})
        _pay(locked, actor=actor)
    claim.refresh_from_db()
    return claim


# --- the payout hooks (registered in ClaimConfig.ready) -----------------------------------------


def _claim_of_payout(payout: Payout) -> Claim | None:
    number = payout.reference.split("-", 1)[0]
    return Claim.objects.select_for_update().filter(number=number).first()


def on_payout_succeeded(payout: Payout) -> None:
    claim = _claim_of_payout(payout)
    if claim is None or claim.status != ClaimStatus.PAYING:
        log.warning("claim payout %s succeeded for a claim not paying", payout.public_id)
        return
    transition(claim, ClaimStatus.PAID, actor=SYSTEM, note=f"赔款 {format_cny(payout.amount)} 已支付")


def on_payout_failed(payout: Payout) -> None:
    """A payout given up: the claim's benefit goes back to the ledger until it is paid again."""
    claim = _claim_of_payout(payout)
    if claim is None or claim.status != ClaimStatus.PAYING:
        log.warning("claim payout %s given up for a claim not paying", payout.public_id)
        return
    limits.release_benefit(claim.number)
    reason = payout.failure_reason or payout.failure_code
    transition(
        claim,
        ClaimStatus.PAYMENT_FAILED,
        actor=SYSTEM,
        note=f"银行退回：{reason}。请核对收款账户，我们将重新支付" if reason else "",
    )
