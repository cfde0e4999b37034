"""The screening's route thresholds as versioned, audited data (`FraudPolicy`).

A change is a new version: an analyst lead proposes it (review and block score lines, the hold
switch, from when, why), another lead approves it (four eyes: never the proposer — the database
refuses it too) or rejects it; the proposer may withdraw it. An approved version applies from
`effective_from` (the approval time when that is earlier: never retroactively — what was screened
stays routed by the version named on its screening). Earlier versions stay as they were.
Screening reads the version in force once (`selectors.thresholds_in_force`).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone

from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, PermissionDenied, ValidationFailed
from huibao.core.states import check_transition
from huibao.core.validators import text_problem
from huibao.fraud import rules, selectors
from huibao.fraud.models import FraudPolicy
from huibao.fraud.states import POLICY_TRANSITIONS, PolicyStatus

APPROVE = "fraud.approve_fraudpolicy"
PROPOSE = "fraud.add_fraudpolicy"


def _text(value: str, field: str, label: str, *, required: bool) -> tuple[str, FieldError | None]:
    value = (value or "").strip()
    if not value:
        return value, FieldError(field, "required", f"{label}：必填") if required else None
    problem = text_problem(value, max_length=200)
    return value, FieldError(field, problem[0], f"{label}：{problem[1]}") if problem else None


def _as_dict(row: Any) -> dict[str, Any]:
    return {
        "version": row.version,
        "review_at": row.review_at,
        "block_at": row.block_at,
        "hold_enabled": row.hold_enabled,
    }


def propose(
    *,
    actor: Any,
    review_at: Any,
    block_at: Any,
    hold_enabled: bool,
    reason: str,
    effective_from: datetime.datetime | None = None,
    request: HttpRequest | None = None,
) -> FraudPolicy:
    """A new version, waiting for another lead's approval (one proposal at a time)."""
    if not actor.has_perm(PROPOSE):
        raise PermissionDenied("只有风控主管可以修改风控阈值", code="not_fraud_lead")
    cut, errors = rules.check_thresholds(review_at, block_at)
    reason, problem = _text(reason, "reason", "修改原因", required=True)
    if problem:
        errors.append(problem)
    now = timezone.now()
    if effective_from is not None and effective_from < now - datetime.timedelta(minutes=1):
        errors.append(FieldError("effective_from", "in_past", "生效时间：不能早于现在"))
    if errors or cut is None:
        raise ValidationFailed("风控阈值有误：" + "；".join(e.message for e in errors), errors=errors)
    current = selectors.thresholds_in_force(now)
    if (cut[0], cut[1], bool(hold_enabled)) == (current.review_at, current.block_at, current.hold_enabled):
        raise ValidationFailed(
            "与现行版本相同，无需修改",
            code="unchanged",
            errors=[FieldError("review_at", "unchanged", "复核分数线：与现行版本相同，无需修改")],
        )
    try:
        with transaction.atomic():
            if FraudPolicy.objects.select_for_update().filter(status=PolicyStatus.PROPOSED).exists():
                raise Conflict("已有待审批的阈值版本，请先审批或撤回", code="policy_pending")
            last = FraudPolicy.objects.aggregate(v=Max("version"))["v"] or 0
            row = FraudPolicy.objects.create(
                version=last + 1,
                review_at=cut[0],
                block_at=cut[1],
                hold_enabled=bool(hold_enabled),
                effective_from=effective_from or now,
                reason=reason,
                proposed_by=actor,
                proposed_at=now,
            )
            audit.record(
                "fraud.policy_proposed",
                "fraud.policy",
                str(row.version),
                actor=actor,
                request=request,
                before={
                    "version": current.version,
                    "review_at": current.review_at,
                    "block_at": current.block_at,
                },
                after={**_as_dict(row), "effective_from": row.effective_from, "reason": reason},
            )
            return row
    except IntegrityError:  # a concurrent proposal won the one-proposal or the version constraint
        raise Conflict("已有待审批的阈值版本，请先审批或撤回", code="policy_pending") from None


def _decide(
    policy: FraudPolicy, target: str, *, actor: Any, note: str, request: HttpRequest | None
) -> FraudPolicy:
    note, problem = _text(note, "note", "审批意见", required=target == PolicyStatus.REJECTED)
    if problem:
        raise ValidationFailed(problem.message, errors=[problem])
    with transaction.atomic():
        row = FraudPolicy.objects.select_for_update().get(pk=policy.pk)
        check_transition(POLICY_TRANSITIONS, row.status, target, what="fraud policy")
        own = row.proposed_by_id == actor.pk
        if target == PolicyStatus.APPROVED:
            if not actor.has_perm(APPROVE):
                raise PermissionDenied("只有风控主管可以审批风控阈值", code="not_fraud_lead")
            if own:
                raise PermissionDenied(
                    "不能审批自己提交的阈值版本，请由另一位风控主管审批", code="same_person"
                )
        elif not own and not actor.has_perm(APPROVE):
            raise PermissionDenied("只有提交人或另一位风控主管可以驳回", code="not_fraud_lead")
        before = selectors.thresholds_in_force()
        now = timezone.now()
        row.status = target
        row.decided_by, row.decided_at, row.decision_note = actor, now, note
        fields = ["status", "decided_by", "decided_at", "decision_note"]
        if target == PolicyStatus.APPROVED and row.effective_from < now:
            row.effective_from = now  # never retroactive
            fields.append("effective_from")
        row.save(update_fields=fields)
        audit.record(
            f"fraud.policy_{target}",
            "fraud.policy",
            str(row.version),
            actor=actor,
            request=request,
            before={"in_force": before.version, "status": PolicyStatus.PROPOSED},
            after={**_as_dict(row), "status": target, "effective_from": row.effective_from, "note": note},
        )
        return row


def approve(
    policy: FraudPolicy, *, actor: Any, note: str = "", request: HttpRequest | None = None
) -> FraudPolicy:
    """Another lead approves the proposed version: it applies from its `effective_from`."""
    return _decide(policy, PolicyStatus.APPROVED, actor=actor, note=note, request=request)


def reject(policy: FraudPolicy, *, actor: Any, note: str, request: HttpRequest | None = None) -> FraudPolicy:
    """Another lead rejects the proposed version, or its proposer withdraws it (a note is needed)."""
    return _decide(policy, PolicyStatus.REJECTED, actor=actor, note=note, request=request)
