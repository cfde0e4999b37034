"""Commission plans and entries for staff over `/api/v1` (verified staff or a staff API token):
list plans, read a version and its rules, add a rule to a draft, publish, and a policy's
entries with their explanation. Amounts and rates are strings."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.security import django_auth

from huibao.account.access import is_api_staff
from huibao.core.api_schemas import errors
from huibao.core.errors import NotFound, PermissionDenied
from huibao.finance import commission_plans, commission_selectors
from huibao.finance import commission_presenters as present
from huibao.finance.commission_models import CommissionPlan, CommissionPlanVersion, CommissionRule
from huibao.finance.models import CommissionEntry
from huibao.policy.models import Policy

router = Router(tags=["commissions"])
VIEW = "finance.view_commissionplan"
EDIT = "finance.change_commissionplan"


def _require(request: HttpRequest, perm: str) -> None:
    if not is_api_staff(request):
        raise PermissionDenied("仅限已通过动态验证码验证的员工账号使用", code="staff_only")
    if not request.user.has_perm(perm):
        raise PermissionDenied("无佣金政策权限", code="not_allowed")


class RuleOut(Schema):
    id: int
    scope: str
    pays: str
    basis: str
    rate: str
    fixed_amount: str
    year: int
    and_later: bool
    mode: str
    clawback: str


class VersionOut(Schema):
    plan: str
    direction: str
    number: int
    status: str
    valid_from: datetime.date
    valid_until: datetime.date | None
    rules: list[RuleOut]


class PlanOut(Schema):
    code: str
    name: str
    direction: str
    party: str
    version_in_force: int | None


class RuleIn(Schema):
    insurer: str = Field("", max_length=32)
    product: str = Field("", max_length=48)
    line: str = Field("", max_length=32)
    channel: str = Field("", max_length=32)
    mode: str = Field("", max_length=16)
    year: int = Field(1, ge=1, le=100)
    and_later: bool = False
    basis: str = Field("rate", max_length=8)
    rate: str = Field("0", max_length=20, description="净保费费率，小数（0.25即25%）")
    fixed_amount: str = Field("0", max_length=20)
    vat_rate: str = Field("", max_length=20, description="保费增值税率；空=按险种默认")
    clawback: str = Field("pro_rata", max_length=16)
    clawback_percent: str = Field("100", max_length=10)
    tiers: list[dict[str, str]] = Field(default_factory=list)


class EntryOut(Schema):
    key: str
    direction: str
    event: str
    sales_unit: str | None
    policy_year: int
    base: str
    rate: str | None
    amount: str
    occurred_on: datetime.date
    explanation: dict[str, Any]
    words: str


def _rule_out(r: CommissionRule) -> dict[str, Any]:
    return {
        "id": r.pk,
        "scope": present.rule_scope(r),
        "pays": present.rule_pays(r),
        "basis": r.basis,
        "rate": str(r.rate),
        "fixed_amount": str(r.fixed_amount),
        "year": r.year,
        "and_later": r.and_later,
        "mode": r.mode,
        "clawback": r.clawback,
    }


def _version_out(v: CommissionPlanVersion) -> dict[str, Any]:
    return {
        "plan": v.plan.code,
        "direction": v.plan.direction,
        "number": v.number,
        "status": v.status,
        "valid_from": v.valid_from,
        "valid_until": v.valid_until,
        "rules": [_rule_out(r) for r in v.rules.select_related("insurer", "product", "channel")],
    }


def _version(code: str, number: int) -> CommissionPlanVersion:
    found = (
        CommissionPlanVersion.objects.select_related("plan").filter(plan__code=code, number=number).first()
    )
    if found is None:
        raise NotFound(f"政策{code}没有第{number}版", code="version_not_found")
    return found


@router.get("commission-plans", auth=django_auth, response={200: list[PlanOut], **errors(401, 403)})
def list_plans(request: HttpRequest) -> list[dict[str, Any]]:
    _require(request, VIEW)
    today = timezone.localdate()
    out = []
    for plan in CommissionPlan.objects.select_related("insurer", "sales_unit"):
        in_force = commission_selectors.version_in_force(plan, today)
        party = plan.insurer.code if plan.insurer else (plan.sales_unit.code if plan.sales_unit else "")
        out.append(
            {
                "code": plan.code,
                "name": plan.name,
                "direction": plan.direction,
                "party": party,
                "version_in_force": in_force.number if in_force else None,
            }
        )
    return out


@router.get(
    "commission-plans/{code}/versions/{number}",
    auth=django_auth,
    response={200: VersionOut, **errors(401, 403, 404)},
)
def get_version(request: HttpRequest, code: str, number: int) -> dict[str, Any]:
    _require(request, VIEW)
    return _version_out(_version(code, number))


@router.post(
    "commission-plans/{code}/versions/{number}/rules",
    auth=django_auth,
    response={201: RuleOut, **errors(401, 403, 404, 409, 422)},
)
def add_rule(request: HttpRequest, code: str, number: int, payload: RuleIn) -> Status:
    _require(request, EDIT)
    rule = commission_plans.add_rule(_version(code, number), payload.dict())
    row = CommissionRule.objects.select_related("insurer", "product", "channel").get(pk=rule.pk)
    return Status(201, _rule_out(row))


@router.post(
    "commission-plans/{code}/versions/{number}/publish",
    auth=django_auth,
    response={200: VersionOut, **errors(401, 403, 404, 409, 422)},
)
def publish(request: HttpRequest, code: str, number: int) -> dict[str, Any]:
    _require(request, EDIT)
    return _version_out(commission_plans.publish(_version(code, number), actor=request.user))


@router.get(
    "commissions/policy/{number}", auth=django_auth, response={200: list[EntryOut], **errors(401, 403, 404)}
)
def policy_entries(request: HttpRequest, number: str) -> list[dict[str, Any]]:
    _require(request, "finance.view_commissionentry")
    policy = Policy.objects.filter(number=number).first()
    if policy is None:
        raise NotFound(f"保单{number}不存在", code="policy_not_found")
    return [
        {
            "key": e.key,
            "direction": e.direction,
            "event": e.event,
            "sales_unit": e.sales_unit.code if e.sales_unit else None,
            "policy_year": e.policy_year,
            "base": str(e.base),
            "rate": str(e.rate) if e.rate is not None else None,
            "amount": str(e.amount),
            "occurred_on": e.occurred_on,
            "explanation": e.explanation,
            "words": present.explain(e),
        }
        for e in CommissionEntry.objects.filter(policy=policy)
        .select_related("sales_unit")
        .order_by("occurred_on", "id")
    ]
