"""Appeals (申诉): the customer appeals a denial or a partial payment with a reason (and new
materials, uploaded while the appeal is open); it goes to a senior adjuster who did not make the
decision; upheld → the earlier benefit is released and the claim is reviewed and decided anew
(`decisions.decide`; what was already paid is deducted from the new payment); dismissed → the
decision stands and the claim is closed. Every step is on the timeline and audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from huibao.claim import limits
from huibao.claim.decisions import desk_for_claim
from huibao.claim.lifecycle import lock_claim, transition
from huibao.claim.models import AppealStatus, Claim, ClaimAppeal
from huibao.claim.selectors import claim_for_customer
from huibao.claim.services.review import pick_adjuster
from huibao.claim.states import ClaimStatus, DecisionKind
from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, PermissionDenied, ValidationFailed

REASON_MAX = 1000


def _refuse(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, errors=[FieldError(field, code, message)])


def appealable(claim: Claim) -> bool:
    """A denial, or a partial payment once paid."""
    return claim.status == ClaimStatus.DENIED or (
        claim.status == ClaimStatus.PAID and claim.decision_kind == DecisionKind.PARTIAL
    )


def open_appeal(claim: Claim) -> ClaimAppeal | None:
    return ClaimAppeal.objects.filter(claim=claim, status=AppealStatus.OPEN).first()


def file_appeal(user: Any, claim_id: Any, *, reason: str) -> ClaimAppeal:
    """The customer appeals their claim's denial or partial payment."""
    reason = (reason or "").strip()
    if not reason:
        raise _refuse("reason", "reason_required", "请填写申诉理由")
    if len(reason) > REASON_MAX:
        raise _refuse("reason", "reason_too_long", f"申诉理由最多{REASON_MAX}个字")
    found = claim_for_customer(user, claim_id)
    with transaction.atomic():
        claim = lock_claim(found.public_id)
        if not appealable(claim):
            raise Conflict("只有拒赔或部分赔付的案件可以申诉", code="not_appealable")
        senior = pick_adjuster(
            claim, senior=True, exclude=[claim.decided_by_id] if claim.decided_by_id else []
        )
        appeal = ClaimAppeal.objects.create(
            claim=claim,
            reason=reason,
            filed_by=user,
            filed_at=timezone.now(),
            from_status=claim.status,
            decision={
                "kind": claim.decision_kind,
                "amount": str(claim.approved_amount) if claim.approved_amount is not None else None,
                "reason_code": claim.reason_code,
                "clause": claim.clause,
                "decided_by": claim.decided_by_id,
            },
            assigned_to_id=senior.user_id if senior else None,
        )
        transition(claim, ClaimStatus.APPEALED, actor=user, note="您可以继续上传新的材料，资深理赔人员将复审")
        audit.record(
            "claim.appealed",
            "claim",
            claim.number,
            actor=user,
            after={"appeal": appeal.pk, "from": appeal.from_status, "assigned_to": appeal.assigned_to_id},
        )
    return appeal


def _senior_for(claim: Claim, actor: Any) -> ClaimAppeal:
    desk = desk_for_claim(actor, claim)
    if desk is None or not desk.senior:
        raise PermissionDenied("申诉须由资深理赔人员处理", code="senior_required")
    appeal = ClaimAppeal.objects.select_for_update().filter(claim=claim, status=AppealStatus.OPEN).first()
    if appeal is None:
        raise Conflict("该案件没有待处理的申诉", code="no_open_appeal")
    if actor.pk in (claim.decided_by_id, appeal.decision.get("decided_by")):
        raise PermissionDenied("原决定人不能处理本案申诉，请由另一位资深理赔人员处理", code="same_adjuster")
    return appeal


def _close(appeal: ClaimAppeal, status: str, *, actor: Any, note: str) -> None:
    appeal.status = status
    appeal.outcome_note = note[:500]
    appeal.decided_by = actor
    appeal.decided_at = timezone.now()
    appeal.save(update_fields=["status", "outcome_note", "decided_by", "decided_at"])


def uphold_appeal(claim: Claim, *, actor: Any, note: str, request: Any = None) -> Claim:
    """The appeal is upheld: the earlier benefit is released and the claim is back under review
    with the senior adjuster, for a new decision."""
    note = (note or "").strip()
    if not note:
        raise _refuse("note", "note_required", "请填写申诉处理意见")
    with transaction.atomic():
        locked = lock_claim(claim.public_id)
        appeal = _senior_for(locked, actor)
        released = limits.release_benefit(locked.number)
        _close(appeal, AppealStatus.UPHELD, actor=actor, note=note)
        locked.assigned_to = actor
        locked.assigned_at = timezone.now()
        locked.save(update_fields=["assigned_to", "assigned_at", "updated_at"])
        transition(
            locked,
            ClaimStatus.UNDER_REVIEW,
            actor=actor,
            line=gettext_noop("申诉成立，案件重新审核"),
            note=note,
        )
        audit.record(
            "claim.appeal_upheld",
            "claim",
            locked.number,
            actor=actor,
            after={"appeal": appeal.pk, "released": released, "note": note[:200]},
            request=request,
        )
    claim.refresh_from_db()
    return claim


def dismiss_appeal(claim: Claim, *, actor: Any, note: str, request: Any = None) -> Claim:
    """The appeal is dismissed with reasons: the decision stands and the claim is closed."""
    note = (note or "").strip()
    if not note:
        raise _refuse("note", "note_required", "请填写驳回理由")
    with transaction.atomic():
        locked = lock_claim(claim.public_id)
        appeal = _senior_for(locked, actor)
        _close(appeal, AppealStatus.DISMISSED, actor=actor, note=note)
        transition(
            locked,
            ClaimStatus.CLOSED,
            actor=actor,
            line=gettext_noop("申诉未成立，维持原理赔决定"),
            note=note,
        )
        audit.record(
            "claim.appeal_dismissed",
            "claim",
            locked.number,
            actor=actor,
            after={"appeal": appeal.pk, "note": note[:200]},
            request=request,
        )
    claim.refresh_from_db()
    return claim
