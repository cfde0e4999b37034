"""The insurers' side of claims under /api/v1/claim-insurers/: the chase board (claims waiting on
each insurer, the time since each step, overdue flags), the chase (催办) of one claim, and the
per-insurer settings (read; change: operators). Verified staff (`is_api_staff`) with the
permission named on each endpoint; customers get 403 `staff_only`."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.security import django_auth

from huibao.account.access import is_api_staff
from huibao.claim import insurer, insurer_selectors
from huibao.core.api_schemas import errors
from huibao.core.errors import NotFound, PermissionDenied

router = Router(tags=["claim-insurers"])
VIEW = "claim.view_claim"
CHASE = "claim.change_claim"
SETTINGS = "claim.change_insurerclaimsettings"
SETTINGS_VIEW = "claim.view_insurerclaimsettings"


def _staff(request: HttpRequest, permission: str) -> Any:
    if not is_api_staff(request):
        raise PermissionDenied("仅限已通过动态验证码验证的员工账号使用", code="staff_only")
    if not request.user.has_perm(permission):
        raise PermissionDenied("无此操作权限", code="not_allowed")
    return request.user


class StepOut(Schema):
    label: str
    at: datetime.datetime
    since: str


class WaitingOut(Schema):
    claim_id: uuid.UUID
    number: str
    status: str
    delivery_status: str | None = Field(description="connector mode: the claim's delivery to the insurer")
    insurer_ref: str
    steps: list[StepOut]
    last_step_since: str
    due_at: datetime.datetime | None = Field(description="the insurer's promised decision time")
    overdue: bool
    chases: int


class InsurerWaitingOut(Schema):
    insurer_code: str
    insurer_name: str
    mode: str
    decision_days: int
    payer: str
    overdue: int
    claims: list[WaitingOut]


@router.get(
    "/claim-insurers/waiting",
    response={200: list[InsurerWaitingOut], **errors(403)},
    auth=django_auth,
    summary="理赔催办：各保险公司待处理的赔案、各步骤至今时长、超时标记",
)
def waiting(request: HttpRequest, insurer_code: Query[str] = "") -> list[dict[str, Any]]:
    _staff(request, VIEW)
    return [
        {
            "insurer_code": g.insurer.code,
            "insurer_name": g.insurer.name,
            "mode": g.terms.mode,
            "decision_days": g.terms.decision_days,
            "payer": g.terms.payer,
            "overdue": g.overdue_count,
            "claims": [
                {
                    "claim_id": w.claim.public_id,
                    "number": w.claim.number,
                    "status": w.claim.status,
                    "delivery_status": w.delivery.status if w.delivery else None,
                    "insurer_ref": w.delivery.insurer_ref if w.delivery else "",
                    "steps": [{"label": s.label, "at": s.at, "since": s.since} for s in w.steps],
                    "last_step_since": w.last_step_since,
                    "due_at": w.due_at,
                    "overdue": w.overdue,
                    "chases": w.chases,
                }
                for w in g.claims
            ],
        }
        for g in insurer_selectors.chase_board(insurer_code=insurer_code.strip()[:32])
    ]


class ChaseIn(Schema):
    note: str = Field("", max_length=200)


class ChaseOut(Schema):
    claim_number: str
    action: str = Field(description="resent | queried | reminded")
    answer: str
    at: datetime.datetime


@router.post(
    "/claim-insurers/claims/{claim_id}/chase",
    response={200: ChaseOut, **errors(403, 404, 409)},
    auth=django_auth,
    summary="催办：记录催办并重新发送或查询保险公司",
)
def chase(request: HttpRequest, claim_id: uuid.UUID, data: ChaseIn) -> dict[str, Any]:
    user = _staff(request, CHASE)
    row = insurer.chase(claim_id, actor=user, note=data.note, request=request)
    return {"claim_number": row.claim.number, "action": row.action, "answer": row.answer, "at": row.at}


class SettingOut(Schema):
    insurer_code: str
    insurer_name: str
    mode: str = Field(description="connector | back_office")
    decision_days: int = Field(description="1–30 (保险法第二十三条)")
    payer: str = Field(description="insurer | platform")
    configured: bool


class SettingIn(Schema):
    mode: str
    decision_days: int
    payer: str


@router.get(
    "/claim-insurers/settings",
    response={200: list[SettingOut], **errors(403)},
    auth=django_auth,
    summary="各保险公司的理赔设置",
)
def settings_list(request: HttpRequest) -> list[dict[str, Any]]:
    _staff(request, SETTINGS_VIEW)
    return [
        {
            "insurer_code": r.insurer.code,
            "insurer_name": r.insurer.name,
            "mode": r.terms.mode,
            "decision_days": r.terms.decision_days,
            "payer": r.terms.payer,
            "configured": r.configured,
        }
        for r in insurer_selectors.insurer_settings()
    ]


@router.put(
    "/claim-insurers/{insurer_code}/settings",
    response={200: SettingOut, **errors(403, 404, 422)},
    auth=django_auth,
    summary="设置保险公司的理赔方式、承诺时效与赔款支付方",
)
def settings_put(request: HttpRequest, insurer_code: str, data: SettingIn) -> dict[str, Any]:
    user = _staff(request, SETTINGS)
    found = insurer_selectors.insurer_by_code(insurer_code)
    if found is None:
        raise NotFound("保险公司不存在", code="insurer_not_found")
    row = insurer.save_setting(
        found, mode=data.mode, decision_days=data.decision_days, payer=data.payer, actor=user, request=request
    )
    return {
        "insurer_code": found.code,
        "insurer_name": found.name,
        "mode": row.mode,
        "decision_days": row.decision_days,
        "payer": row.payer,
        "configured": True,
    }
