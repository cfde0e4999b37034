"""Recoveries (追回): money paid on a claim that a later decision no longer owes.

1. `reopen_claim(claim, actor=…, reason=…)`: a senior adjuster reopens a paid claim for a new
   decision (fraud found later, a document proved false): paid → under_review, the benefit the
   claim used is released from the ledger (the year's limits get it back; a new approval records
   afresh), audited, the customer told by the timeline.
2. The new decision (`decisions.decide`) then opens the recovery itself (`open_recovery`): a
   denial recovers everything paid; a partial approval below what was paid recovers the
   difference. Nothing pays twice: a payout asks only what is approved beyond what was paid.
3. Claims staff record the outcome: `mark_recovered` (the payee paid it back — from then on the
   amount no longer counts as paid, so a later approval may pay it again) or `write_off` (given
   up: it stays counted as paid). Open → recovered | written_off, each change audited.

Money is never taken back automatically: asking the payee to return it is a person's act (a
letter, a call, the insurer's legal route); Huibao records what is owed and what came of it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from huibao.claim import limits
from huibao.claim.lifecycle import lock_claim, transition
from huibao.claim.models import Claim, ClaimRecovery, ClaimsDesk
from huibao.claim.states import RECOVERY_TRANSITIONS, ClaimStatus, RecoveryStatus
from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from huibao.core.money import to_fen
from huibao.core.states import check_transition

ZERO = Decimal("0")


def is_person(actor: Any) -> bool:
    return actor is not None and not isinstance(actor, str) and getattr(actor, "pk", None) is not None


def _refuse(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, errors=[FieldError(field, code, message)])


def _desk(actor: Any, claim: Claim, *, senior: bool = False) -> ClaimsDesk:
    desk = ClaimsDesk.objects.filter(user_id=actor.pk, active=True).first() if is_person(actor) else None
    if desk is None:
        raise PermissionDenied("您没有理赔岗位，不能处理理赔案件", code="no_claims_desk")
    if desk.insurer_id is not None and desk.insurer_id != claim.insurer_id:
        raise NotFound("理赔案件不存在", code="claim_not_found")
    if senior and not desk.senior:
        raise PermissionDenied("只有高级理赔人员可以重新打开已赔付的案件", code="senior_required")
    return desk


def recovered_total(claim: Claim) -> Decimal:
    """What the payee has paid back on the claim (no longer counted as paid)."""
    rows = ClaimRecovery.objects.filter(claim=claim, status=RecoveryStatus.RECOVERED)
    return sum((Decimal(r.amount) for r in rows), ZERO)


def open_recovery_of(claim: Claim) -> ClaimRecovery | None:
    return ClaimRecovery.objects.filter(claim=claim, status=RecoveryStatus.OPEN).first()


def reopen_claim(claim: Claim, *, actor: Any, reason: str, request: Any = None) -> Claim:
    """paid → under_review for a new decision (see the module's docstring)."""
    reason = (reason or "").strip()
    if not reason:
        raise _refuse("note", "note_required", "请填写重新审核的原因")
    if len(reason) > 500:
        raise _refuse("note", "note_too_long", "原因最多500个字")
    with transaction.atomic():
        locked = lock_claim(claim.public_id)
        _desk(actor, locked, senior=True)
        if locked.status != ClaimStatus.PAID:
            raise Conflict("只有已赔付的案件可以重新打开审核", code="not_paid")
        released = limits.release_benefit(locked.number)
        locked.assigned_to = actor
        locked.assigned_at = timezone.now()
        locked.save(update_fields=["assigned_to", "assigned_at", "updated_at"])
        transition(
            locked, ClaimStatus.UNDER_REVIEW, actor=actor, line=gettext_noop("案件重新审核"), note=reason
        )
        audit.record(
            "claim.reopened",
            "claim",
            locked.number,
            actor=actor,
            after={"released": released, "reason": reason[:200]},
            request=request,
        )
    claim.refresh_from_db()
    return claim


def open_recovery(claim: Claim, amount: Decimal, *, actor: Any, reason_code: str) -> ClaimRecovery | None:
    """The claim (locked, in the caller's transaction) was paid `amount` more than its new decision
    owes: the recovery opened (an open one is replaced: the latest decision says what is owed)."""
    amount = to_fen(amount)
    current = open_recovery_of(claim)
    if current is not None:
        if Decimal(current.amount) == amount:
            return current
        _resolve(current, RecoveryStatus.WRITTEN_OFF, actor=actor, note="被新的理赔决定取代")
    if amount <= ZERO:
        return None
    recovery = ClaimRecovery.objects.create(
        claim=claim,
        amount=amount,
        reason_code=reason_code,
        payee_name=claim.payee_name,
        payee_account_last4=claim.payee_account_last4,
        opened_by=actor if is_person(actor) else None,
        opened_at=timezone.now(),
    )
    audit.record(
        "claim.recovery_opened",
        "claim",
        claim.number,
        actor=actor,
        after={"recovery": recovery.pk, "amount": str(amount), "reason_code": reason_code},
    )
    return recovery


def _resolve(recovery: ClaimRecovery, status: str, *, actor: Any, note: str) -> None:
    check_transition(RECOVERY_TRANSITIONS, recovery.status, status, what=f"recovery {recovery.pk}")
    recovery.status = status
    recovery.resolved_by = actor if is_person(actor) else None
    recovery.resolved_at = timezone.now()
    recovery.note = note[:500]
    recovery.save(update_fields=["status", "resolved_by", "resolved_at", "note"])
    audit.record(
        "claim.recovery_resolved",
        "claim",
        recovery.claim.number,
        actor=actor,
        after={"recovery": recovery.pk, "status": status, "amount": str(recovery.amount)},
    )


def resolve_recovery(
    claim: Claim, *, status: str, actor: Any, note: str, request: Any = None
) -> ClaimRecovery:
    """The open recovery of the claim recorded recovered or written off by claims staff."""
    if status not in (RecoveryStatus.RECOVERED, RecoveryStatus.WRITTEN_OFF):
        raise _refuse("status", "status_invalid", "请选择已追回或核销")
    note = (note or "").strip()
    if status == RecoveryStatus.WRITTEN_OFF and not note:
        raise _refuse("note", "note_required", "核销必须填写原因")
    with transaction.atomic():
        locked = lock_claim(claim.public_id)
        _desk(actor, locked)
        recovery = (
            ClaimRecovery.objects.select_for_update().filter(claim=locked, status=RecoveryStatus.OPEN).first()
        )
        if recovery is None:
            raise Conflict("该案件没有待追回的款项", code="no_open_recovery")
        _resolve(recovery, status, actor=actor, note=note)
    return recovery
