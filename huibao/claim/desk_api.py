"""Staff endpoints of the adjusters' desk under /api/v1/claims/desk/ (a verified staff session or
a staff bearer token, `claim.change_claim` and a claims desk; another insurer's claim is 404):
the queue, a claim for review (the benefit preview, the pending four-eyes approval, the open
appeal, the fraud screen), and one endpoint per action. And the customer's appeal,
`POST /api/v1/claims/{id}/appeal`. Errors in the one shape {"code","message","errors"}."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.security import django_auth

from huibao.account.access import is_api_staff
from huibao.claim import decisions, selectors
from huibao.claim.api import ClaimOut, claim_out
from huibao.claim.desk_actions import run_action
from huibao.claim.models import Claim
from huibao.claim.selectors import QueueFilters
from huibao.claim.services import appeals
from huibao.claim.states import ClaimStatus
from huibao.core.api_schemas import errors
from huibao.core.errors import DomainError, PermissionDenied

router = Router(tags=["claims desk"])
HANDLE = "claim.change_claim"


def _adjuster(request: HttpRequest) -> None:
    if not is_api_staff(request):
        raise PermissionDenied("仅限已通过动态验证码验证的员工账号使用", code="staff_only")
    if not request.user.has_perm(HANDLE) or selectors.desk_of(request.user) is None:
        raise PermissionDenied("您没有理赔岗位", code="no_claims_desk")


class QueueQuery(Schema):
    status: str = Field("", description="状态；空 = 待决定的全部")
    claim_type: str = ""
    region: str = Field("", description="地区代码前缀")
    insurer: str = Field("", description="保险公司代码")
    assigned: str = Field("", description="me = 分配给我；none = 未分配")
    overdue: bool = Field(False, description="仅超过承诺决定时间的案件")


class QueueRowOut(Schema):
    id: uuid.UUID
    number: str
    claim_type: str
    region_code: str
    insurer: str
    status: str
    amount_claimed: str
    assigned_to: str | None
    seconds_in_status: int
    seconds_since_complete: int | None
    decision_due: datetime.datetime | None
    overdue: bool


class ApprovalOut(Schema):
    kind: str
    amount: str
    proposed_by: str | None
    proposed_at: datetime.datetime


class AppealOut(Schema):
    reason: str
    filed_at: datetime.datetime
    assigned_to: str | None
    status: str


class ReviewOut(ClaimOut):
    insurer: str
    assigned_to: str | None
    decision_due: datetime.datetime | None
    overdue: bool
    preview: dict[str, Any] | None
    pending_approval: ApprovalOut | None
    appeal: AppealOut | None
    screening: dict[str, Any] | None


class ActionIn(Schema):
    """The fields an action reads (others are ignored): decide — kind, amount (partial), reason_code,
    clause, note, days, grade, delay_hours; assign — assignee (user id, "me" or "auto");
    request_info — kinds, note; investigate — task_kind, summary, provider (public id);
    retry_payment — payee_account, payee_bank (optional); confirm / reject / uphold / dismiss — note."""

    kind: str = ""
    amount: str | None = None
    reason_code: str = ""
    clause: str = ""
    note: str = ""
    days: str = ""
    grade: str = ""
    delay_hours: str = ""
    assignee: str = ""
    kinds: list[str] = Field(default_factory=list)
    task_kind: str = ""
    summary: str = ""
    provider: str = ""
    payee_account: str = Field("", description="retry_payment：更正后的收款银行卡号（可空）")
    payee_bank: str = ""


class AppealIn(Schema):
    reason: str = Field(max_length=1000, description="申诉理由")


def _name(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def review_out(request: HttpRequest, claim: Claim) -> dict[str, Any]:
    try:
        preview = decisions.preview(claim).as_json()
    except DomainError:
        preview = None
    approval = decisions.pending_approval(claim)
    appeal = appeals.open_appeal(claim)
    screening = selectors.screening_of(claim)
    return {
        **claim_out(claim),
        "insurer": claim.insurer.code,
        "assigned_to": _name(claim.assigned_to),
        "decision_due": selectors.decision_due(claim),
        "overdue": selectors.is_overdue(claim),
        "preview": preview,
        "pending_approval": None
        if approval is None
        else {
            "kind": approval.kind,
            "amount": str(approval.amount),
            "proposed_by": _name(approval.proposed_by),
            "proposed_at": approval.proposed_at,
        },
        "appeal": None
        if appeal is None
        else {
            "reason": appeal.reason,
            "filed_at": appeal.filed_at,
            "assigned_to": _name(appeal.assigned_to),
            "status": appeal.status,
        },
        "screening": None
        if screening is None
        else {"score": screening.score, "route": screening.route, "fired": screening.fired},
    }


@router.get(
    "/claims/desk/queue",
    response={200: list[QueueRowOut], **errors(403)},
    auth=django_auth,
    summary="理赔工作台：待处理案件（含各环节用时与超时标记）",
)
def desk_queue(request: HttpRequest, filters: Query[QueueQuery]) -> list[dict[str, Any]]:
    _adjuster(request)
    rows = selectors.queue(
        request.user,
        QueueFilters(
            claim_type=filters.claim_type,
            region=filters.region,
            status=filters.status if filters.status in ClaimStatus.values else "",
            insurer=filters.insurer,
            assigned=filters.assigned if filters.assigned in ("me", "none") else "",
            overdue=filters.overdue,
        ),
    )
    return [
        {
            "id": r.claim.public_id,
            "number": r.claim.number,
            "claim_type": r.claim.claim_type,
            "region_code": r.claim.region_code,
            "insurer": r.claim.insurer.code,
            "status": r.claim.status,
            "amount_claimed": str(r.claim.amount_claimed),
            "assigned_to": _name(r.claim.assigned_to),
            "seconds_in_status": int(r.since.total_seconds()),
            "seconds_since_complete": int(r.waiting.total_seconds()) if r.waiting is not None else None,
            "decision_due": r.due,
            "overdue": r.overdue,
        }
        for r in rows
    ]


@router.get(
    "/claims/desk/claims/{claim_id}",
    response={200: ReviewOut, **errors(403, 404)},
    auth=django_auth,
    summary="理赔审核：案件、材料、赔付计算预览、复核与申诉",
)
def desk_claim(request: HttpRequest, claim_id: uuid.UUID) -> dict[str, Any]:
    _adjuster(request)
    return review_out(request, selectors.claim_for_desk(request.user, claim_id))


@router.post(
    "/claims/desk/claims/{claim_id}/{action}",
    response={200: ReviewOut, **errors(403, 404, 409, 422)},
    auth=django_auth,
    summary="理赔处理：start | assign | request_info | investigate | decide | confirm | reject | "
    "retry_payment | uphold | dismiss",
)
def desk_action(request: HttpRequest, claim_id: uuid.UUID, action: str, payload: ActionIn) -> dict[str, Any]:
    _adjuster(request)
    claim = selectors.claim_for_desk(request.user, claim_id)
    run_action(request, claim, action, payload.dict())
    return review_out(request, selectors.claim_for_desk(request.user, claim_id))


@router.post(
    "/claims/{claim_id}/appeal",
    response={200: ClaimOut, **errors(404, 409, 422)},
    auth=django_auth,
    summary="对拒赔或部分赔付提出申诉",
)
def appeal(request: HttpRequest, claim_id: uuid.UUID, payload: AppealIn) -> dict[str, Any]:
    appeals.file_appeal(request.user, claim_id, reason=payload.reason)
    return claim_out(selectors.claim_for_customer(request.user, claim_id))
