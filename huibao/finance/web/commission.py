"""The commission pages of the back office: commission plans (list, a version's rules, a new
version, a rule added, publication), a policy's commission entries explained, and the margin per
product and seller. Finance edits; operators and auditors read (`finance.view_commissionplan`)."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from huibao.account.access import staff_required
from huibao.core.errors import DomainError
from huibao.core.masking import mask_name
from huibao.finance import commission_plans, commission_selectors
from huibao.finance import commission_presenters as present
from huibao.finance import commission_rules as rules
from huibao.finance.commission_models import CommissionPlan, CommissionPlanVersion, PlanVersionStatus
from huibao.finance.models import CommissionEntry
from huibao.policy.models import Policy

VIEW = "finance.view_commissionplan"
EDIT = "finance.change_commissionplan"


@never_cache
@require_GET
@staff_required(permission=VIEW)
def plans(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    rows = []
    for plan in CommissionPlan.objects.select_related("insurer", "sales_unit"):
        rows.append({"plan": plan, "in_force": commission_selectors.version_in_force(plan, today)})
    return render(request, "finance/commission/plans.html", {"rows": rows})


def _plan_and_version(code: str, number: int | None) -> tuple[CommissionPlan, CommissionPlanVersion]:
    plan = CommissionPlan.objects.select_related("insurer", "sales_unit").filter(code=code).first()
    if plan is None:
        raise Http404("no such plan")
    versions = plan.versions.all()
    version = versions.filter(number=number).first() if number else versions.order_by("-number").first()
    if version is None:
        raise Http404("no such version")
    return plan, version


def _detail(
    request: HttpRequest, code: str, number: int | None, errors: list[str] | None = None, status: int = 200
) -> HttpResponse:
    plan, version = _plan_and_version(code, number)
    rows = list(version.rules.select_related("insurer", "product", "channel"))
    context: dict[str, Any] = {
        "plan": plan,
        "version": version,
        "versions": plan.versions.order_by("-number"),
        "rules": [{"rule": r, "scope": present.rule_scope(r), "pays": present.rule_pays(r)} for r in rows],
        "in_force": commission_selectors.version_in_force(plan, timezone.localdate()),
        "can_edit": request.user.has_perm(EDIT),
        "errors": errors or [],
        "is_draft": version.status == PlanVersionStatus.DRAFT,
        "today": timezone.localdate(),
    }
    return render(request, "finance/commission/plan.html", context, status=status)


@never_cache
@require_GET
@staff_required(permission=VIEW)
def plan_detail(request: HttpRequest, code: str, number: int | None = None) -> HttpResponse:
    return _detail(request, code, number)


def _messages(exc: DomainError) -> list[str]:
    return [e.message for e in exc.errors] or [exc.message]


@require_POST
@staff_required(permission=EDIT)
def new_version(request: HttpRequest, code: str) -> HttpResponse:
    plan, _version = _plan_and_version(code, None)
    try:
        valid_from = datetime.date.fromisoformat(request.POST.get("valid_from", ""))
    except ValueError:
        return _detail(request, code, None, ["生效日期格式应为YYYY-MM-DD"], status=422)
    try:
        created = commission_plans.new_version(plan, valid_from=valid_from)
    except DomainError as exc:
        return _detail(request, code, None, _messages(exc), status=exc.http_status)
    return redirect(reverse("finance:commission_version", args=[code, created.number]))


@require_POST
@staff_required(permission=EDIT)
def add_rule(request: HttpRequest, code: str, number: int) -> HttpResponse:
    _plan, version = _plan_and_version(code, number)
    data: dict[str, Any] = {
        k: request.POST.get(k, "")
        for k in (
            "insurer",
            "product",
            "line",
            "channel",
            "mode",
            "year",
            "basis",
            "rate",
            "fixed_amount",
            "vat_rate",
            "clawback",
            "clawback_percent",
        )
    }
    data["and_later"] = request.POST.get("and_later") == "on"
    try:
        commission_plans.add_rule(version, data)
    except DomainError as exc:
        return _detail(request, code, number, _messages(exc), status=exc.http_status)
    return redirect(reverse("finance:commission_version", args=[code, number]))


@require_POST
@staff_required(permission=EDIT)
def publish(request: HttpRequest, code: str, number: int) -> HttpResponse:
    _plan, version = _plan_and_version(code, number)
    try:
        commission_plans.publish(version, actor=request.user)
    except DomainError as exc:
        return _detail(request, code, number, _messages(exc), status=exc.http_status)
    return redirect(reverse("finance:commission_version", args=[code, number]))


@never_cache
@require_GET
@staff_required(permission="finance.view_commissionentry")
def policy_entries(request: HttpRequest, number: str) -> HttpResponse:
    policy = (
        Policy.objects.select_related("insurer", "product_version__product", "seller")
        .filter(number=number)
        .first()
    )
    if policy is None:
        raise Http404("no such policy")
    entries = (
        CommissionEntry.objects.filter(policy=policy)
        .select_related("sales_unit")
        .order_by("occurred_on", "id")
    )
    rows = [{"entry": e, "words": present.explain(e)} for e in entries]
    inbound = sum((e.amount for e in entries if e.direction == "inbound"), 0)
    outbound = sum((e.amount for e in entries if e.direction == "outbound"), 0)
    context = {
        "policy": policy,
        "holder": mask_name(policy.holder_name),
        "rows": rows,
        "inbound": inbound,
        "outbound": outbound,
        "margin": inbound - outbound,
    }
    return render(request, "finance/commission/policy.html", context)


@never_cache
@require_GET
@staff_required(permission=VIEW)
def margins(request: HttpRequest) -> HttpResponse:
    lines = commission_plans.margin_table(timezone.localdate())
    rows = [
        {
            "line": line,
            "inbound": rules.percent(line.inbound_rate),
            "outbound": rules.percent(line.outbound_rate),
            "margin": rules.percent(line.margin_rate),
            "negative": line.margin_rate < 0,
        }
        for line in lines
    ]
    return render(request, "finance/commission/margins.html", {"rows": rows})


urlpatterns = [
    path("commission-plans/", plans, name="commission_plans"),
    path("commission-plans/<slug:code>/", plan_detail, name="commission_plan"),
    path("commission-plans/<slug:code>/v<int:number>/", plan_detail, name="commission_version"),
    path("commission-plans/<slug:code>/new-version/", new_version, name="commission_new_version"),
    path("commission-plans/<slug:code>/v<int:number>/rules/", add_rule, name="commission_add_rule"),
    path("commission-plans/<slug:code>/v<int:number>/publish/", publish, name="commission_publish"),
    path("commissions/policy/<str:number>/", policy_entries, name="commission_policy"),
    path("margins/", margins, name="margins"),
]
