"""Endorsement endpoints under /api/v1/ (批改): the customer's changes of their own policy, and
the staff decision on those needing approval.

Owner-only: another customer's policy (or endorsement) is 404. Staff endpoints need a verified
staff session or token (`is_api_staff`) and the approval permission; four eyes: not the
requester. Domain errors answer the one error shape (`huibao.api`).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from ninja import Field, Router, Schema, Status
from ninja.security import django_auth

from huibao.account.access import is_api_staff
from huibao.core.api_schemas import errors
from huibao.core.errors import NotFound, PermissionDenied
from huibao.policy import endorsement_rules as er
from huibao.policy import endorsements, selectors
from huibao.policy.models import Endorsement, Policy
from huibao.policy.states import WITHDRAWABLE_STATUSES, EndorsementStatus

router = Router(tags=["endorsements"])


class EndorsementIn(Schema):
    kind: str = Field(description="contact | beneficiaries | insured_correction | plan | sum_insured")
    changes: dict[str, Any] = Field(
        description=(
            "contact: {phone, email, address}; beneficiaries: {mode: named|legal, beneficiaries: "
            "[{name, id_number, relation, order, share_percent}]}; insured_correction: {name, "
            "id_number}; plan: {plan_code}; sum_insured: {sum_insured}"
        ),
        examples=[{"phone": "13700007777"}],
    )


class ConfirmationIn(Schema):
    code: str = Field(description="短信验证码（先请求 confirmation-code 发送）", examples=["123456"])
    signature: dict[str, Any] | None = Field(
        None,
        description=(
            "投保人手写签名（signature_required 为 true 时必填）："
            "{width, height, strokes: [[[x, y, t_ms], …], …]}"
        ),
    )


class DecisionIn(Schema):
    reason: str = Field("", max_length=200, description="审核意见（不通过时必填）")


class RowOut(Schema):
    label: str
    value: str


class InstalmentChangeOut(Schema):
    number: int = Field(description="第几期")
    due_on: date
    old_amount: str
    new_amount: str = Field(description="该期调整后应缴（已缴的期次不变）")
    adjustment: str = Field(description="已缴期次的差额：正数随本次批改补缴，负数退还")
    paid: bool


class EndorsementOut(Schema):
    number: str
    policy_id: uuid.UUID
    kind: str
    kind_label: str
    status: str
    status_label: str
    before: list[RowOut] = Field(description="变更前（脱敏）")
    after: list[RowOut] = Field(description="变更后（脱敏）")
    old_premium: str
    new_premium: str
    premium_delta: str = Field(description="正数：应补缴；负数：应退还（元）")
    premium_delta_text: str
    needs_approval: bool
    requested_at: datetime
    confirm_by: datetime
    confirmed_at: datetime | None
    decided_at: datetime | None
    decision_reason: str
    effective_at: datetime | None
    version: int | None
    payment_url: str | None = Field(description="待补缴保费时的支付页面")
    pdf_url: str | None = Field(description="已生效后的电子批单")
    withdrawable: bool
    signature_required: bool = Field(description="确认时须附投保人手写签名（与投保时相同的签名规则）")
    instalments: list[InstalmentChangeOut] = Field(
        description="分期缴费保单改变保费时的缴费计划调整（确认前为调整方案，生效后为调整记录）"
    )


class CodeSentOut(Schema):
    status: str
    resend_after: int = Field(description="多少秒后可重新获取")


def out(e: Endorsement) -> dict[str, Any]:
    payment = endorsements.payment_of(e) if e.status == EndorsementStatus.AWAITING_PAYMENT else None

    def rows(values: dict[str, Any]) -> list[dict[str, str]]:
        return [{"label": k, "value": v} for k, v in er.display_rows(e.kind, values)]

    return {
        "number": e.number,
        "policy_id": e.policy.public_id,
        "kind": e.kind,
        "kind_label": er.KIND_LABELS[e.kind],
        "status": e.status,
        "status_label": str(EndorsementStatus(e.status).label),
        "before": rows(endorsements.previous_of(e)),
        "after": rows(endorsements.changes_of(e)),
        "old_premium": str(e.old_premium),
        "new_premium": str(e.new_premium),
        "premium_delta": str(e.premium_delta),
        "premium_delta_text": er.delta_text(e.premium_delta),
        "needs_approval": e.needs_approval,
        "requested_at": e.requested_at,
        "confirm_by": e.confirm_by,
        "confirmed_at": e.confirmed_at,
        "decided_at": e.decided_at,
        "decision_reason": e.decision_reason,
        "effective_at": e.effective_at,
        "version": e.version,
        "payment_url": payment.checkout_url if payment is not None else None,
        "pdf_url": reverse("policy:endorsement_pdf", args=[e.policy.public_id, e.number])
        if e.status == EndorsementStatus.APPLIED
        else None,
        "withdrawable": e.status in WITHDRAWABLE_STATUSES,
        "signature_required": endorsements.signature_required(e.policy),
        "instalments": [line.as_dict() for line in endorsements.instalment_lines(e)],
    }


def _own(request: HttpRequest, public_id: uuid.UUID) -> Policy:
    return selectors.policy_for_customer(request.user, public_id)


def _own_endorsement(request: HttpRequest, public_id: uuid.UUID, number: str) -> Endorsement:
    return endorsements.endorsement_for_customer(_own(request, public_id), number)


@router.post(
    "/policies/{public_id}/endorsements",
    response={201: EndorsementOut, **errors(404, 409, 422)},
    auth=django_auth,
    summary="申请保单批改（变更）",
    description="409：保单不在保障中，或有尚未办结的批改；422：变更内容有误（逐项列出）。",
)
def create_endorsement(
    request: HttpRequest, public_id: uuid.UUID, payload: EndorsementIn
) -> Status[dict[str, Any]]:
    policy = _own(request, public_id)
    created = endorsements.request_endorsement(policy, payload.kind, payload.changes, actor=request.user)
    return Status(201, out(created))


@router.get(
    "/policies/{public_id}/endorsements",
    response={200: list[EndorsementOut], **errors(404)},
    auth=django_auth,
    url_name="policy_endorsements",
    summary="保单的批改记录",
)
def list_endorsements(request: HttpRequest, public_id: uuid.UUID) -> list[dict[str, Any]]:
    return [out(e) for e in endorsements.endorsements_of(_own(request, public_id))]


@router.get(
    "/policies/{public_id}/endorsements/{number}",
    response={200: EndorsementOut, **errors(404)},
    auth=django_auth,
    summary="批改详情",
)
def get_endorsement(request: HttpRequest, public_id: uuid.UUID, number: str) -> dict[str, Any]:
    return out(_own_endorsement(request, public_id, number))


@router.post(
    "/policies/{public_id}/endorsements/{number}/confirmation-code",
    response={202: CodeSentOut, **errors(404, 409, 429)},
    auth=django_auth,
    summary="发送批改确认短信验证码（至保单登记的投保人手机）",
)
def send_code(request: HttpRequest, public_id: uuid.UUID, number: str) -> Status[dict[str, Any]]:
    e = _own_endorsement(request, public_id, number)
    sent = endorsements.send_confirmation_code(
        e, actor=request.user, client_address=request.META.get("REMOTE_ADDR")
    )
    e.refresh_from_db()
    return Status(202, {"status": e.status, "resend_after": sent.resend_after})


@router.post(
    "/policies/{public_id}/endorsements/{number}/confirmation",
    response={200: EndorsementOut, **errors(404, 409, 422, 429)},
    auth=django_auth,
    summary="以短信验证码确认批改",
    description="确认后：需审核的进入待审核；有保费差额应补缴的返回 payment_url；其余立即生效。",
)
def confirm(
    request: HttpRequest, public_id: uuid.UUID, number: str, payload: ConfirmationIn
) -> dict[str, Any]:
    e = _own_endorsement(request, public_id, number)
    return out(
        endorsements.confirm_endorsement(e, payload.code, actor=request.user, signature=payload.signature)
    )


@router.post(
    "/policies/{public_id}/endorsements/{number}/withdrawal",
    response={200: EndorsementOut, **errors(404, 409)},
    auth=django_auth,
    summary="撤销批改申请",
)
def withdraw(request: HttpRequest, public_id: uuid.UUID, number: str) -> dict[str, Any]:
    e = _own_endorsement(request, public_id, number)
    return out(endorsements.withdraw_endorsement(e, actor=request.user))


# --- staff --------------------------------------------------------------------------------------

STAFF_TAGS = ["endorsement approvals"]


def _staff(request: HttpRequest) -> Any:
    if not is_api_staff(request):
        raise PermissionDenied("仅限已通过动态验证码验证的员工账号使用", code="staff_only")
    if not request.user.has_perm(endorsements.APPROVE_PERMISSION):
        raise PermissionDenied("无批改审核权限", code="not_allowed")
    return request.user


def _by_number(number: str) -> Endorsement:
    found = Endorsement.objects.select_related("policy").filter(number=number).first()
    if found is None:
        raise NotFound("批改不存在", code="endorsement_not_found")
    return found


@router.get(
    "/staff/endorsements",
    response={200: list[EndorsementOut], **errors(403)},
    auth=django_auth,
    tags=STAFF_TAGS,
    summary="待审核的批改",
)
def approval_queue(request: HttpRequest) -> list[dict[str, Any]]:
    _staff(request)
    return [out(e) for e in endorsements.pending_approvals()]


@router.post(
    "/staff/endorsements/{number}/approval",
    response={200: EndorsementOut, **errors(403, 404, 409)},
    auth=django_auth,
    tags=STAFF_TAGS,
    summary="审核通过批改（双人复核：不能审核本人提交的）",
)
def approve(request: HttpRequest, number: str, payload: DecisionIn) -> dict[str, Any]:
    actor = _staff(request)
    return out(endorsements.approve_endorsement(_by_number(number), actor=actor, reason=payload.reason))


@router.post(
    "/staff/endorsements/{number}/rejection",
    response={200: EndorsementOut, **errors(403, 404, 409, 422)},
    auth=django_auth,
    tags=STAFF_TAGS,
    summary="审核不通过批改（须填写原因）",
)
def reject(request: HttpRequest, number: str, payload: DecisionIn) -> dict[str, Any]:
    actor = _staff(request)
    return out(endorsements.reject_endorsement(_by_number(number), actor=actor, reason=payload.reason))
