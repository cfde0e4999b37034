"""Risk-control endpoints under /api/v1/fraud/: the analysts' case queue (read, take, release,
clear, confirm with the blacklist), the rules (read, change = a new version), the route
thresholds (read; leads propose, another lead approves or rejects), the held claims (read,
release) and the shared blacklist (read, add, remove). Verified staff (`is_api_staff`) with the
fraud permissions only."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.security import django_auth

from huibao.account.access import is_api_staff
from huibao.core.api_schemas import errors
from huibao.core.errors import PermissionDenied
from huibao.fraud import holds, selectors, services, thresholds
from huibao.fraud.models import BlacklistEntry, FraudCase, FraudHold, FraudPolicy, FraudRule
from huibao.fraud.rules import RULES

router = Router(tags=["fraud"])
VIEW = "fraud.view_fraudcase"
DECIDE = "fraud.change_fraudcase"
RULES_CHANGE = "fraud.change_fraudrule"
BLACKLIST_CHANGE = "fraud.change_blacklistentry"


def _analyst(request: HttpRequest, permission: str) -> Any:
    if not is_api_staff(request):
        raise PermissionDenied("仅限已通过动态验证码验证的员工账号使用", code="staff_only")
    if not request.user.has_perm(permission):
        raise PermissionDenied("无风控权限", code="not_allowed")
    return request.user


class FiredOut(Schema):
    code: str
    version: int
    name: str
    score: int
    route: str
    summary: str
    facts: dict[str, Any]
    matches: list[dict[str, Any]] = Field(
        description="the earlier claims / invoices / entries the rule matched"
    )


class CaseOut(Schema):
    id: uuid.UUID
    status: str
    status_label: str
    reference: str = Field(description="the claim's number")
    policy_reference: str
    insurer_code: str
    amount: str
    region_code: str
    institution: str
    score: int
    route: str
    screening_id: uuid.UUID
    fired: list[FiredOut]
    assigned_to: str | None
    note: str
    created_at: datetime.datetime
    resolved_at: datetime.datetime | None


def case_out(case: FraudCase) -> dict[str, Any]:
    claim, screening = case.claim, case.screening
    return {
        "id": case.public_id,
        "status": case.status,
        "status_label": str(case.get_status_display()),
        "reference": claim.reference,
        "policy_reference": claim.policy_reference,
        "insurer_code": claim.insurer_code,
        "amount": str(claim.amount),
        "region_code": claim.region_code,
        "institution": claim.institution,
        "score": screening.score,
        "route": screening.route,
        "screening_id": screening.public_id,
        "fired": screening.fired,
        "assigned_to": case.assigned_to.get_username() if case.assigned_to else None,
        "note": case.note,
        "created_at": case.created_at,
        "resolved_at": case.resolved_at,
    }


class CaseFilter(Schema):
    status: str = Field(
        "", description="open | in_review | cleared | confirmed (default: open and in review)"
    )
    rule: str = Field("", description="a rule code that fired")
    insurer: str = ""
    route: str = ""


@router.get(
    "/fraud/cases", response={200: list[CaseOut], **errors(403)}, auth=django_auth, summary="风控复核队列"
)
def cases(request: HttpRequest, filters: Query[CaseFilter]) -> list[dict[str, Any]]:
    _analyst(request, VIEW)
    found = selectors.case_queue(
        status=filters.status, rule=filters.rule, insurer=filters.insurer, route=filters.route
    )
    return [case_out(c) for c in found[:200]]


@router.get(
    "/fraud/cases/{case_id}",
    response={200: CaseOut, **errors(403, 404)},
    auth=django_auth,
    summary="风控案件",
)
def case(request: HttpRequest, case_id: uuid.UUID) -> dict[str, Any]:
    _analyst(request, VIEW)
    return case_out(selectors.case_by_public_id(case_id))


class NoteIn(Schema):
    note: str = Field(max_length=2000, description="处理意见（必填）")


class ConfirmIn(NoteIn):
    blacklist_reason: str = Field("", max_length=500, description="非空时将申请人和被保险人加入黑名单")


@router.post(
    "/fraud/cases/{case_id}/take",
    response={200: CaseOut, **errors(403, 404, 409)},
    auth=django_auth,
    summary="领取案件",
)
def take(request: HttpRequest, case_id: uuid.UUID) -> dict[str, Any]:
    actor = _analyst(request, DECIDE)
    return case_out(services.take_case(selectors.case_by_public_id(case_id), actor=actor, request=request))


@router.post(
    "/fraud/cases/{case_id}/release",
    response={200: CaseOut, **errors(403, 404, 409)},
    auth=django_auth,
    summary="退回队列",
)
def release(request: HttpRequest, case_id: uuid.UUID) -> dict[str, Any]:
    actor = _analyst(request, DECIDE)
    return case_out(services.release_case(selectors.case_by_public_id(case_id), actor=actor, request=request))


@router.post(
    "/fraud/cases/{case_id}/clearance",
    response={200: CaseOut, **errors(403, 404, 409, 422)},
    auth=django_auth,
    summary="排除嫌疑（理赔继续）",
)
def clear(request: HttpRequest, case_id: uuid.UUID, payload: NoteIn) -> dict[str, Any]:
    actor = _analyst(request, DECIDE)
    found = selectors.case_by_public_id(case_id)
    return case_out(services.clear_case(found, actor=actor, note=payload.note, request=request))


@router.post(
    "/fraud/cases/{case_id}/confirmation",
    response={200: CaseOut, **errors(403, 404, 409, 422)},
    auth=django_auth,
    summary="确认欺诈（理赔拒赔），可加入黑名单",
)
def confirm(request: HttpRequest, case_id: uuid.UUID, payload: ConfirmIn) -> dict[str, Any]:
    actor = _analyst(request, DECIDE)
    if payload.blacklist_reason.strip():
        _analyst(request, BLACKLIST_CHANGE)
    found = selectors.case_by_public_id(case_id)
    return case_out(
        services.confirm_case(
            found, actor=actor, note=payload.note, blacklist_reason=payload.blacklist_reason, request=request
        )
    )


class RuleOut(Schema):
    code: str
    version: int
    subject_kind: str
    name: str
    description: str
    enabled: bool
    score: int
    route: str
    parameters: dict[str, Any]
    parameter_schema: list[dict[str, Any]]


def rule_out(rule: FraudRule) -> dict[str, Any]:
    spec = RULES.get(rule.code)
    schema = [
        {
            "name": p.name,
            "label": p.label,
            "type": p.kind.__name__.lower(),
            "min": str(p.minimum),
            "max": str(p.maximum),
        }
        for p in (spec.params if spec else ())
    ]
    return {
        "code": rule.code,
        "version": rule.version,
        "subject_kind": rule.subject_kind,
        "name": rule.name,
        "description": rule.description,
        "enabled": rule.enabled,
        "score": rule.score,
        "route": rule.route,
        "parameters": rule.parameters,
        "parameter_schema": schema,
    }


@router.get(
    "/fraud/rules", response={200: list[RuleOut], **errors(403)}, auth=django_auth, summary="风控规则"
)
def rule_list(request: HttpRequest) -> list[dict[str, Any]]:
    _analyst(request, VIEW)
    return [rule_out(r) for r in FraudRule.objects.filter(is_current=True).order_by("subject_kind", "code")]


class RuleChangeIn(Schema):
    parameters: dict[str, Any] | None = Field(
        None, description="all the rule's parameters (see parameter_schema)"
    )
    enabled: bool | None = None
    score: int | None = Field(None, ge=0, le=1000)
    route: str | None = Field(None, description="pass | review | block: the route it forces at least")
    reason: str = Field("", max_length=200)


@router.put(
    "/fraud/rules/{code}",
    response={200: RuleOut, **errors(403, 404, 422)},
    auth=django_auth,
    summary="修改规则（生成新版本）",
)
def change_rule(request: HttpRequest, code: str, payload: RuleChangeIn) -> dict[str, Any]:
    actor = _analyst(request, RULES_CHANGE)
    selectors.current_rule(code)
    rule = services.update_rule(
        code,
        actor=actor,
        parameters=payload.parameters,
        enabled=payload.enabled,
        score=payload.score,
        route=payload.route,
        reason=payload.reason,
        request=request,
    )
    return rule_out(rule)


class EntryOut(Schema):
    id: uuid.UUID
    name: str = Field(description="masked")
    id_number: str = Field(description="masked")
    reason: str
    source: str
    insurer_code: str
    valid_from: datetime.date
    valid_until: datetime.date | None
    removed_at: datetime.datetime | None
    removal_reason: str


def entry_out(entry: BlacklistEntry) -> dict[str, Any]:
    return {
        "id": entry.public_id,
        "name": entry.name_masked,
        "id_number": entry.id_masked,
        "reason": entry.reason,
        "source": entry.source,
        "insurer_code": entry.insurer_code,
        "valid_from": entry.valid_from,
        "valid_until": entry.valid_until,
        "removed_at": entry.removed_at,
        "removal_reason": entry.removal_reason,
    }


@router.get(
    "/fraud/blacklist", response={200: list[EntryOut], **errors(403)}, auth=django_auth, summary="黑名单"
)
def blacklist(request: HttpRequest, include_removed: bool = False) -> list[dict[str, Any]]:
    _analyst(request, "fraud.view_blacklistentry")
    return [entry_out(e) for e in selectors.blacklist_entries(include_removed=include_removed)[:500]]


class EntryIn(Schema):
    id_number: str = Field(max_length=32, description="居民身份证号（仅保存其散列与脱敏形式）")
    name: str = Field("", max_length=64)
    reason: str = Field(max_length=500)
    source: str = Field("platform", description="platform | insurer")
    insurer_code: str = Field("", max_length=32)
    valid_until: datetime.date | None = None


@router.post(
    "/fraud/blacklist",
    response={201: EntryOut, **errors(403, 409, 422)},
    auth=django_auth,
    summary="加入黑名单",
)
def add_entry(request: HttpRequest, payload: EntryIn) -> Status:
    actor = _analyst(request, BLACKLIST_CHANGE)
    entry = services.add_to_blacklist(
        id_number=payload.id_number,
        name=payload.name,
        reason=payload.reason,
        source=payload.source,
        insurer_code=payload.insurer_code,
        valid_until=payload.valid_until,
        actor=actor,
        request=request,
    )
    return Status(201, entry_out(entry))


class RemovalIn(Schema):
    reason: str = Field(max_length=500)


@router.post(
    "/fraud/blacklist/{entry_id}/removal",
    response={200: EntryOut, **errors(403, 404, 409, 422)},
    auth=django_auth,
    summary="移出黑名单（记录保留）",
)
def remove_entry(request: HttpRequest, entry_id: uuid.UUID, payload: RemovalIn) -> dict[str, Any]:
    actor = _analyst(request, BLACKLIST_CHANGE)
    entry = selectors.blacklist_entry(entry_id)
    return entry_out(
        services.remove_from_blacklist(entry, reason=payload.reason, actor=actor, request=request)
    )


# --- route thresholds ----------------------------------------------------------------------------


class ThresholdsOut(Schema):
    version: int = Field(description="0: the defaults in code")
    review_at: int
    block_at: int
    hold_enabled: bool


class PolicyOut(ThresholdsOut):
    status: str
    effective_from: datetime.datetime
    reason: str
    proposed_by: str
    proposed_at: datetime.datetime
    decided_by: str | None
    decided_at: datetime.datetime | None
    decision_note: str


class ThresholdsPageOut(Schema):
    in_force: ThresholdsOut
    versions: list[PolicyOut]


def policy_out(row: FraudPolicy) -> dict[str, Any]:
    return {
        "version": row.version,
        "review_at": row.review_at,
        "block_at": row.block_at,
        "hold_enabled": row.hold_enabled,
        "status": row.status,
        "effective_from": row.effective_from,
        "reason": row.reason,
        "proposed_by": row.proposed_by.get_username(),
        "proposed_at": row.proposed_at,
        "decided_by": row.decided_by.get_username() if row.decided_by else None,
        "decided_at": row.decided_at,
        "decision_note": row.decision_note,
    }


@router.get(
    "/fraud/thresholds",
    response={200: ThresholdsPageOut, **errors(403)},
    auth=django_auth,
    summary="风控阈值",
)
def threshold_list(request: HttpRequest) -> dict[str, Any]:
    _analyst(request, "fraud.view_fraudpolicy")
    current = selectors.thresholds_in_force()
    return {
        "in_force": {
            "version": current.version,
            "review_at": current.review_at,
            "block_at": current.block_at,
            "hold_enabled": current.hold_enabled,
        },
        "versions": [policy_out(r) for r in selectors.policy_versions()[:100]],
    }


class ProposalIn(Schema):
    review_at: int = Field(description="复核分数线")
    block_at: int = Field(description="拦截分数线（高于复核分数线）")
    hold_enabled: bool = True
    reason: str = Field(max_length=200)
    effective_from: datetime.datetime | None = Field(None, description="缺省：审批后立即生效")


@router.post(
    "/fraud/thresholds",
    response={201: PolicyOut, **errors(403, 409, 422)},
    auth=django_auth,
    summary="提交新阈值版本（待另一位风控主管审批）",
)
def propose_thresholds(request: HttpRequest, payload: ProposalIn) -> Status:
    actor = _analyst(request, thresholds.PROPOSE)
    row = thresholds.propose(
        actor=actor,
        review_at=payload.review_at,
        block_at=payload.block_at,
        hold_enabled=payload.hold_enabled,
        reason=payload.reason,
        effective_from=payload.effective_from,
        request=request,
    )
    return Status(201, policy_out(row))


class DecisionIn(Schema):
    note: str = Field("", max_length=200)


@router.post(
    "/fraud/thresholds/{version}/approval",
    response={200: PolicyOut, **errors(403, 404, 409, 422)},
    auth=django_auth,
    summary="批准阈值版本（非提交人）",
)
def approve_thresholds(request: HttpRequest, version: int, payload: DecisionIn) -> dict[str, Any]:
    actor = _analyst(request, thresholds.APPROVE)
    found = selectors.policy_by_version(version)
    return policy_out(thresholds.approve(found, actor=actor, note=payload.note, request=request))


@router.post(
    "/fraud/thresholds/{version}/rejection",
    response={200: PolicyOut, **errors(403, 404, 409, 422)},
    auth=django_auth,
    summary="驳回或撤回阈值版本",
)
def reject_thresholds(request: HttpRequest, version: int, payload: DecisionIn) -> dict[str, Any]:
    actor = _analyst(request, "fraud.view_fraudpolicy")
    found = selectors.policy_by_version(version)
    return policy_out(thresholds.reject(found, actor=actor, note=payload.note, request=request))


# --- held claims ---------------------------------------------------------------------------------


class HoldOut(Schema):
    id: uuid.UUID
    status: str
    reference: str = Field(description="the claim's number")
    insurer_code: str
    amount: str
    reason: str
    waiting_on: list[str] = Field(description="the open cases it waits for")
    then_route: str
    released_to: str
    note: str
    created_at: datetime.datetime
    released_at: datetime.datetime | None


def hold_out(hold: FraudHold) -> dict[str, Any]:
    return {
        "id": hold.public_id,
        "status": hold.status,
        "reference": hold.claim.reference,
        "insurer_code": hold.claim.insurer_code,
        "amount": str(hold.claim.amount),
        "reason": hold.reason,
        "waiting_on": list(hold.waiting_on),
        "then_route": hold.then_route,
        "released_to": hold.released_to,
        "note": hold.note,
        "created_at": hold.created_at,
        "released_at": hold.released_at,
    }


@router.get(
    "/fraud/holds", response={200: list[HoldOut], **errors(403)}, auth=django_auth, summary="暂缓案件"
)
def hold_list(request: HttpRequest) -> list[dict[str, Any]]:
    _analyst(request, "fraud.view_fraudhold")
    return [hold_out(h) for h in selectors.hold_queue()[:200]]


class ReleaseIn(Schema):
    to: str = Field(description="review | pass")
    note: str = Field(max_length=2000)


@router.post(
    "/fraud/holds/{hold_id}/release",
    response={200: HoldOut, **errors(403, 404, 409, 422)},
    auth=django_auth,
    summary="放行暂缓案件（转人工复核或通过）",
)
def release_hold(request: HttpRequest, hold_id: uuid.UUID, payload: ReleaseIn) -> dict[str, Any]:
    actor = _analyst(request, "fraud.change_fraudhold")
    found = selectors.hold_by_public_id(hold_id)
    released = holds.release_hold(found, to=payload.to, actor=actor, note=payload.note, request=request)
    return hold_out(selectors.hold_by_public_id(released.public_id))
