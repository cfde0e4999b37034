"""Policy endpoints under /api/v1/: the customer's policies and e-policies, public verification,
and the NPS rating of an issued application (by the application reference its policies hold).

The customer's endpoints use the session (`django_auth`: 401 without a login, CSRF checked on
POST); another customer's policy is 404. Verification needs no login and returns only public
facts with names masked. Domain errors are mapped to responses by `huibao.api`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.security import django_auth

from huibao.account.access import is_api_staff
from huibao.core.api_schemas import errors
from huibao.core.errors import NotFound, PermissionDenied, RateLimited
from huibao.policy import documents, hub, premiums, presenters, reinstatement, selectors, services
from huibao.policy.actions import actions_for
from huibao.policy.limits import VERIFY_LIMIT, over_limit
from huibao.policy.models import NpsResponse
from huibao.policy.states import PolicyStatus, ReferralStatus

router = Router(tags=["policies"])


class PolicyOut(Schema):
    id: uuid.UUID = Field(description="the policy's public id (as `id` of applications and payments)")
    number: str
    status: PolicyStatus
    status_label: str
    product_name: str
    plan_name: str
    insurer_name: str
    insured_name: str
    premium: str = Field(description="保费（元，字符串）")
    effective_at: datetime
    expires_at: datetime | None = Field(description="null：终身")
    epolicy_ready: bool


class CoverageOut(Schema):
    code: str
    name: str
    description: str
    sum_insured: str
    waiting_period_days: int
    optional: bool


class PartyOut(Schema):
    name: str
    id_number: str = Field(description="脱敏证件号码")


class BeneficiaryOut(PartyOut):
    relation: str
    order: int
    share_percent: str


class ClauseOut(Schema):
    title: str
    text: str
    kind: str


class PolicyDetailOut(PolicyOut):
    period: str
    issued_at: datetime
    cooling_off_until: date | None
    sum_insured: str | None
    death_benefit: str
    holder: PartyOut
    insured: PartyOut
    beneficiary_mode: str
    beneficiaries: list[BeneficiaryOut]
    subject: list[dict[str, str]]
    coverages: list[CoverageOut]
    loading_percent: str
    exclusions: list[str]
    key_clauses: list[ClauseOut]
    hotline: str
    verification_url: str
    epolicy_url: str


class VerificationOut(Schema):
    genuine: bool
    number: str
    product_name: str
    plan_name: str
    insurer_name: str
    status: PolicyStatus
    status_label: str
    effective_at: datetime
    expires_at: datetime | None
    issued_at: datetime
    holder_name: str = Field(description="脱敏姓名，如 张*")
    insured_name: str = Field(description="脱敏姓名，如 李**")


class NpsIn(Schema):
    score: int = Field(..., description="0–10")
    comment: str = Field("", description="最多500字")


class NpsOut(Schema):
    application_id: uuid.UUID
    score: int
    comment: str
    created_at: datetime


def _policy_out(policy: Any) -> dict[str, Any]:
    card = presenters.card(policy)
    return {**card, "id": policy.public_id, "premium": str(policy.premium)}


@router.get("/policies", response=list[PolicyOut], auth=django_auth, summary="我的保单")
def list_policies(request: HttpRequest) -> list[dict[str, Any]]:
    return [_policy_out(p) for p in selectors.policies_of(request.user)]


@router.get(
    "/policies/verify/{code}",
    response={200: VerificationOut, **errors(404, 429)},
    summary="保单验真（无需登录，仅返回公开信息）",
)
def verify_policy(request: HttpRequest, code: str) -> dict[str, Any]:
    if over_limit(request, "lookup", VERIFY_LIMIT):
        raise RateLimited("验真次数过多，请10分钟后再试", code="too_many_checks")
    policy = services.policy_by_code(code)
    if policy is None:
        raise NotFound("未查到该验真码对应的保单：这不是汇保平台签发的真实保单", code="not_genuine")
    return presenters.public_view(policy)


@router.get(
    "/policies/{public_id}",
    response={200: PolicyDetailOut, **errors(404)},
    auth=django_auth,
    summary="保单详情",
)
def get_policy(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    from django.urls import reverse

    policy = selectors.policy_for_customer(request.user, public_id)
    view = presenters.detail(policy)
    return {
        **view,
        "id": policy.public_id,
        "premium": str(policy.premium),
        "sum_insured": str(policy.sum_insured) if policy.sum_insured is not None else None,
        "death_benefit": str(policy.death_benefit),
        "coverages": [{**c, "sum_insured": c["amount"]} for c in view["coverages"]],
        "loading_percent": view["premium_detail"]["loading_percent"],
        "key_clauses": [
            {"title": c.get("title", ""), "text": c.get("text", ""), "kind": c.get("kind", "")}
            for c in view["key_clauses"]
        ],
        "epolicy_url": reverse("api:policy_epolicy", args=[policy.public_id]),
    }


@router.get(
    "/policies/{public_id}/epolicy.pdf",
    response={200: None, **errors(404)},
    auth=django_auth,
    url_name="policy_epolicy",
    summary="下载电子保单（PDF，平台电子签章）",
)
def get_epolicy(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    from huibao.core import audit

    policy = selectors.policy_for_customer(request.user, public_id)
    document = documents.render_epolicy(policy)
    audit.record(
        "policy.epolicy_downloaded",
        "policy",
        policy.number,
        actor=request.user,
        request=request,
        after={"sha256": document.sha256, "via": "api"},
    )
    response = HttpResponse(document.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@router.post(
    "/applications/{public_id}/nps",
    response={201: NpsOut, **errors(404, 409, 422)},
    auth=django_auth,
    summary="评价投保体验（NPS，0–10）",
)
def rate_application(request: HttpRequest, public_id: uuid.UUID, payload: NpsIn) -> Status[dict[str, Any]]:
    if not services.rated_policies(public_id, request.user):  # not theirs (or not issued): 404 first
        raise NotFound("投保单不存在", code="application_not_found")
    response: NpsResponse = services.record_nps(
        public_id, score=payload.score, comment=payload.comment, user=request.user, request=request
    )
    return Status(
        201,
        {
            "application_id": public_id,
            "score": response.score,
            "comment": response.comment,
            "created_at": response.created_at,
        },
    )


# --- what can I do with this policy, and its history ------------------------------------------------


class ActionOut(Schema):
    key: str = Field(
        description="stable key: epolicy, pay_now, premiums, mandate, history, verify, contact, …"
    )
    label: str
    url: str = Field(description="the page doing it (path)")
    api_url: str = Field(description='the API operation doing it (path), "" when there is none')
    order: int = Field(description="lowest first; below 100: urgent (pay now in grace, renew)")
    urgent: bool
    group: str
    icon: str


class PolicyActionsOut(Schema):
    id: uuid.UUID
    number: str
    status: PolicyStatus
    status_label: str
    status_meaning: str = Field(description="what the status means for the customer now")
    actions: list[ActionOut]


class TimelineEventOut(Schema):
    at: datetime
    kind: str = Field(description="issued | status | audit | endorsement (servicing features add theirs)")
    title: str
    detail: str
    status: PolicyStatus | None = Field(description="the status after the event, if it moved")
    status_label: str


class AsOfOut(Schema):
    on: date
    status: PolicyStatus | None = Field(description="null: the policy was not issued yet")
    status_label: str
    existed: bool
    covered: bool = Field(description="the policy covered the insured at the end of that day")
    data_version: int | None = Field(None, description="the policy data version then (1 as issued)")


class PolicyHistoryOut(Schema):
    id: uuid.UUID
    number: str
    status: PolicyStatus
    timeline: list[TimelineEventOut]
    as_of: AsOfOut | None = Field(description="with ?on=YYYY-MM-DD: the policy at the end of that day")


class HistoryQuery(Schema):
    on: str | None = Field(None, description="YYYY-MM-DD: also the policy's status at the end of that day")


@router.get(
    "/policies/{public_id}/actions",
    response={200: PolicyActionsOut, **errors(404)},
    auth=django_auth,
    url_name="policy_actions",
    summary="我能做什么（保单可办理的服务）",
)
def get_policy_actions(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    policy = selectors.policy_for_customer(request.user, public_id)
    found = actions_for(policy, request.user)
    return {
        "id": policy.public_id,
        "number": policy.number,
        "status": policy.status,
        "status_label": presenters.status_label(policy),
        "status_meaning": hub.status_meaning(policy),
        "actions": [
            {
                "key": a.key,
                "label": a.label,
                "url": a.url,
                "api_url": a.api_url,
                "order": a.order,
                "urgent": a.urgent,
                "group": a.group,
                "icon": a.icon,
            }
            for a in found
        ],
    }


@router.get(
    "/policies/{public_id}/history",
    response={200: PolicyHistoryOut, **errors(404, 422)},
    auth=django_auth,
    url_name="policy_history",
    summary="保单历史记录与某日状态",
)
def get_policy_history(
    request: HttpRequest, public_id: uuid.UUID, params: Query[HistoryQuery]
) -> dict[str, Any]:
    policy = selectors.policy_for_customer(request.user, public_id)
    on = selectors.parse_on(params.on)
    as_of = selectors.policy_as_of(policy, on) if on is not None else None
    return {
        "id": policy.public_id,
        "number": policy.number,
        "status": policy.status,
        "timeline": [
            {
                "at": e.at,
                "kind": e.kind,
                "title": e.title,
                "detail": e.detail,
                "status": e.status or None,
                "status_label": e.status_label,
            }
            for e in selectors.policy_timeline(policy)
        ],
        "as_of": None
        if as_of is None
        else {
            "on": as_of.on,
            "status": as_of.status or None,
            "status_label": as_of.status_label,
            "existed": as_of.existed,
            "covered": as_of.covered,
            "data_version": as_of.data_version,
        },
    }


# --- premiums, reinstatement, history ------------------------------------------------------------


class PremiumLineOut(Schema):
    number: int = Field(description="期数，从1开始")
    due_on: date
    amount: str = Field(description="金额（元，字符串）")
    status: str = Field(description="due | paid | overdue | waived | cancelled")
    status_label: str
    paid: bool
    paid_at: datetime | None
    overdue: bool = Field(description="未缴且已过应缴日")
    payable: bool = Field(description="现在可以缴纳的一期（最早未缴的一期）")
    changed_by: list[str] = Field(
        default_factory=list, description="调整过该期金额的批改号（缴费计划的调整记录）"
    )


class YearPremiumOut(Schema):
    policy_year: int
    premium: str


class PremiumsOut(Schema):
    policy_id: uuid.UUID
    policy_status: str
    has_schedule: bool = Field(description="false：保费已在投保时一次缴清")
    mode: str = Field(description="monthly…；无分期时为空")
    schedule_status: str = Field(description="active | completed | lapsed | cancelled；无分期时为空")
    total: str
    paid_total: str
    grace_until: date | None = Field(description="宽限期最后一天（保单处于宽限期时）")
    payable_instalment: int | None = Field(description="现在可以缴纳的期数")
    reinstatement_available: bool
    policy_year: int = Field(1, description="缴费计划当前的保单年度（第 N 年）")
    premium_years: int = Field(1, description="缴费期间（年）")
    year_premiums: list[YearPremiumOut] = Field(
        default_factory=list, description="逐年递增的保费：每个保单年度的年保费（均衡保费时为空）"
    )
    instalments: list[PremiumLineOut]


class CheckoutOut(Schema):
    payment_id: uuid.UUID
    amount: str
    checkout_url: str = Field(description="支付机构的收银台页面；支付结果由异步通知确认")
    expires_at: datetime


class HealthQuestionOut(Schema):
    code: str
    text: str


class ReinstatementOut(Schema):
    available: bool
    refusal: str = Field(description="不能在线复效的原因")
    lapsed_on: date | None
    until: date | None = Field(description="复效期最后一天")
    total: str = Field(description="需补缴的保费合计（元）")
    instalments: list[PremiumLineOut] = Field(description="需补缴的各期保费")
    health_questions: list[HealthQuestionOut] = Field(description="需重新回答的健康告知")
    referral_status: str = Field(
        "",
        description="人工核保：referred 待核保、approved 已通过（无需再告知）、declined 未通过；空为未转人工",
    )
    referral_reason: str = Field("", description="核保意见（未通过时为原因）")


class ReinstatementIn(Schema):
    health_answers: dict[str, bool] = Field(default_factory=dict, description="问题代码 → 是/否")


class ReinstatementCheckoutOut(CheckoutOut):
    reinstatement: ReinstatementOut


def _line_out(line: premiums.PremiumLine) -> dict[str, Any]:
    return {
        "number": line.number,
        "due_on": line.due_on,
        "amount": str(line.amount),
        "status": line.status,
        "status_label": line.status_label,
        "paid": line.paid,
        "paid_at": line.paid_at,
        "overdue": line.overdue,
        "payable": line.payable,
        "changed_by": list(line.changed_by),
    }


def _offer_out(offer: premiums.ReinstatementOffer) -> dict[str, Any]:
    return {
        "available": offer.available,
        "refusal": offer.refusal,
        "lapsed_on": offer.lapsed_on,
        "until": offer.until,
        "total": str(offer.total),
        "instalments": [_line_out(line) for line in offer.lines],
        "health_questions": [{"code": q.code, "text": q.text} for q in offer.health_questions],
        "referral_status": offer.referral_status,
        "referral_reason": offer.referral_reason,
    }


def _checkout_out(payment: Any) -> dict[str, Any]:
    return {
        "payment_id": payment.public_id,
        "amount": str(payment.amount),
        "checkout_url": payment.checkout_url,
        "expires_at": payment.expires_at,
    }


@router.get(
    "/policies/{public_id}/premiums",
    response={200: PremiumsOut, **errors(404)},
    auth=django_auth,
    url_name="policy_premiums",
    summary="保单的分期保费：已缴、待缴、逾期",
)
def get_premiums(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    policy = selectors.policy_for_customer(request.user, public_id)
    view = premiums.premiums_of(policy)
    return {
        "policy_id": policy.public_id,
        "policy_status": policy.status,
        "has_schedule": view.has_schedule,
        "mode": view.mode,
        "schedule_status": view.schedule_status,
        "total": str(view.total),
        "paid_total": str(view.paid_total),
        "grace_until": view.grace_until,
        "payable_instalment": view.payable.number if view.payable else None,
        "reinstatement_available": bool(view.reinstatement and view.reinstatement.available),
        "policy_year": view.policy_year,
        "premium_years": view.premium_years,
        "year_premiums": [{"policy_year": n, "premium": str(p)} for n, p, _ in view.years],
        "instalments": [_line_out(line) for line in view.lines],
    }


@router.post(
    "/policies/{public_id}/premiums/{number}/payments",
    response={201: CheckoutOut, **errors(404, 409, 422)},
    auth=django_auth,
    summary="立即缴纳一期保费（打开收银台；重复请求返回同一笔未完成的支付）",
)
def pay_premium(request: HttpRequest, public_id: uuid.UUID, number: int) -> Status[dict[str, Any]]:
    policy = selectors.policy_for_customer(request.user, public_id)
    payment = premiums.pay_instalment(policy, number, user=request.user, request=request)
    return Status(201, _checkout_out(payment))


@router.get(
    "/policies/{public_id}/reinstatement",
    response={200: ReinstatementOut, **errors(404)},
    auth=django_auth,
    url_name="policy_reinstatement",
    summary="复效：能否在线办理、需补缴的保费、健康告知问题",
)
def get_reinstatement(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    policy = selectors.policy_for_customer(request.user, public_id)
    return _offer_out(premiums.reinstatement_offer(policy))


@router.post(
    "/policies/{public_id}/reinstatement",
    response={201: ReinstatementCheckoutOut, **errors(404, 409, 422)},
    auth=django_auth,
    summary="申请复效：回答健康告知并打开补缴保费的收银台",
)
def request_reinstatement(
    request: HttpRequest, public_id: uuid.UUID, payload: ReinstatementIn
) -> Status[dict[str, Any]]:
    policy = selectors.policy_for_customer(request.user, public_id)
    offer, payment = premiums.request_reinstatement(
        policy, payload.health_answers, user=request.user, request=request
    )
    return Status(201, {**_checkout_out(payment), "reinstatement": _offer_out(offer)})


# --- staff: reinstatements referred to an underwriter ----------------------------------------------

STAFF_TAGS = ["reinstatement referrals"]


class ReferralAnswerOut(Schema):
    question: str
    yes: bool


class ReferralOut(Schema):
    id: uuid.UUID
    policy_number: str
    product_name: str
    status: str
    lapsed_on: date
    amount: str = Field(description="转人工时需补缴的保费（元）")
    flagged: int = Field(description="需人工核保的回答数")
    requested_at: datetime
    answers: list[ReferralAnswerOut] = Field(description="健康告知及回答（仅核保人员可见）")


class ReferralDecisionOut(Schema):
    id: uuid.UUID
    policy_number: str
    status: str
    status_label: str
    decision_reason: str
    decided_at: datetime | None


class ReferralDecisionIn(Schema):
    reason: str = Field("", max_length=200, description="核保意见（不通过时必填）")


def _decider(request: HttpRequest) -> Any:
    if not is_api_staff(request):
        raise PermissionDenied("仅限已通过动态验证码验证的员工账号使用", code="staff_only")
    if not request.user.has_perm(reinstatement.DECIDE_PERMISSION):
        raise PermissionDenied("无复效核保权限", code="not_allowed")
    return request.user


def _referral_out(row: reinstatement.ReferralRow) -> dict[str, Any]:
    return {
        "id": row.public_id,
        "policy_number": row.policy_number,
        "product_name": row.product_name,
        "status": ReferralStatus.REFERRED,
        "lapsed_on": row.lapsed_on,
        "amount": str(row.amount),
        "flagged": row.flagged,
        "requested_at": row.requested_at,
        "answers": [{"question": a.question, "yes": a.yes} for a in row.answers],
    }


def _decision_out(referral: Any) -> dict[str, Any]:
    return {
        "id": referral.public_id,
        "policy_number": referral.policy.number,
        "status": referral.status,
        "status_label": str(ReferralStatus(referral.status).label),
        "decision_reason": referral.decision_reason,
        "decided_at": referral.decided_at,
    }


@router.get(
    "/staff/reinstatements",
    response={200: list[ReferralOut], **errors(403)},
    auth=django_auth,
    tags=STAFF_TAGS,
    summary="待人工核保的复效申请",
)
def referral_queue(request: HttpRequest) -> list[dict[str, Any]]:
    _decider(request)
    return [_referral_out(row) for row in reinstatement.waiting_rows(request.user)]


@router.post(
    "/staff/reinstatements/{referral_id}/approval",
    response={200: ReferralDecisionOut, **errors(403, 404, 409)},
    auth=django_auth,
    tags=STAFF_TAGS,
    summary="复效核保通过（客户随后补缴保费即可复效，无需再次告知）",
)
def approve_referral(
    request: HttpRequest, referral_id: uuid.UUID, payload: ReferralDecisionIn
) -> dict[str, Any]:
    actor = _decider(request)
    referral = reinstatement.by_public_id(referral_id)
    return _decision_out(reinstatement.approve_referral(referral, actor=actor, reason=payload.reason))


@router.post(
    "/staff/reinstatements/{referral_id}/rejection",
    response={200: ReferralDecisionOut, **errors(403, 404, 409, 422)},
    auth=django_auth,
    tags=STAFF_TAGS,
    summary="复效核保不通过（须填写原因）",
)
def decline_referral(
    request: HttpRequest, referral_id: uuid.UUID, payload: ReferralDecisionIn
) -> dict[str, Any]:
    actor = _decider(request)
    referral = reinstatement.by_public_id(referral_id)
    return _decision_out(reinstatement.decline_referral(referral, actor=actor, reason=payload.reason))
