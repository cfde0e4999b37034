"""Back-office pages of distribution: the agreements with insurers (list, create, detail with
edit, status actions and history) and the sales hierarchy (a tree with agents, their licences
and teams; create, move, deactivate). Operators manage; finance and auditors read agreements;
a channel or branch manager sees their own subtree of the hierarchy."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from huibao.account.access import staff_required
from huibao.catalog.models import Insurer, LineOfBusiness, Product
from huibao.core.errors import DomainError, FieldError, ValidationFailed
from huibao.distribution import selectors, services
from huibao.distribution.models import (
    AgencyEntity,
    AgreementStatus,
    InsurerAgreement,
    PremiumCollector,
    SalesUnit,
    SalesUnitKind,
    SettlementPeriod,
)

VIEW_AGREEMENT = "distribution.view_insureragreement"
ADD_AGREEMENT = "distribution.add_insureragreement"
CHANGE_AGREEMENT = "distribution.change_insureragreement"
CHANGE_UNIT = "distribution.change_salesunit"


def _errors(exc: DomainError) -> tuple[str, dict[str, str]]:
    field_errors: dict[str, str] = {}
    for e in exc.errors:
        field_errors.setdefault(e.field, e.message)
    return "；".join(field_errors.values()) or exc.message, field_errors


def _date(post: QueryDict, name: str, label: str, errors: list[FieldError], *, required: bool) -> Any:
    raw = post.get(name, "").strip()
    if not raw:
        if required:
            errors.append(FieldError(name, "required", _("请填写%(label)s") % {"label": label}))
        return None
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError:
        errors.append(FieldError(name, "invalid_date", _("%(label)s格式应为 YYYY-MM-DD") % {"label": label}))
        return None


def _agreement_data(post: QueryDict, *, insurer: Insurer | None = None) -> services.AgreementData:
    """The posted form as AgreementData; raises ValidationFailed naming every unreadable field."""
    errors: list[FieldError] = []
    if insurer is None:
        insurer = (
            Insurer.objects.filter(pk=post.get("insurer") or 0).first()
            if post.get("insurer", "").isdigit()
            else None
        )
        if insurer is None:
            errors.append(FieldError("insurer", "required", _("请选择保险公司")))
    agency = (
        AgencyEntity.objects.filter(pk=post.get("agency") or 0).first()
        if post.get("agency", "").isdigit()
        else None
    )
    if agency is None:
        agency = services.default_agency()
    valid_from = _date(post, "valid_from", _("起始日期"), errors, required=True)
    valid_until = _date(post, "valid_until", _("终止日期"), errors, required=False)
    days = post.get("days_to_pay", "15").strip() or "15"
    if not days.isdigit():
        errors.append(FieldError("days_to_pay", "invalid", _("结算付款天数须为整数")))
    period = post.get("settlement_period", SettlementPeriod.MONTHLY)
    if period not in SettlementPeriod.values:
        errors.append(FieldError("settlement_period", "invalid_choice", _("请选择结算周期")))
    collector = post.get("premium_collector", PremiumCollector.AGENCY)
    if collector not in PremiumCollector.values:
        errors.append(FieldError("premium_collector", "invalid_choice", _("请选择保费收取方")))
    product_ids = [int(p) for p in post.getlist("products") if p.isdigit()]
    if errors:
        raise ValidationFailed("the form is not valid", errors=errors)
    assert insurer is not None and valid_from is not None
    return services.AgreementData(
        number=post.get("number", "").strip(),
        agency=agency,
        insurer=insurer,
        lines=tuple(post.getlist("lines")),
        product_ids=tuple(product_ids),
        valid_from=valid_from,
        valid_until=valid_until,
        settlement_period=period,
        days_to_pay=int(days),
        premium_collector=collector,
        net_settlement=post.get("net_settlement") == "on",
        notes=post.get("notes", "").strip()[:2000],
    )


def _form_context(posted: Any, *, insurer: Insurer | None = None) -> dict[str, Any]:
    products = (
        Product.objects.filter(insurer=insurer).order_by("code")
        if insurer is not None
        else Product.objects.none()
    )
    return {
        "insurers": Insurer.objects.order_by("code"),
        "agencies": AgencyEntity.objects.order_by("code"),
        "lines": LineOfBusiness.choices,
        "periods": SettlementPeriod.choices,
        "collectors": PremiumCollector.choices,
        "products": products,
        "posted": posted,
        "posted_lines": posted.getlist("lines")
        if hasattr(posted, "getlist")
        else list(posted.get("lines", [])),
        "posted_products": [
            str(p)
            for p in (
                posted.getlist("products") if hasattr(posted, "getlist") else posted.get("products", [])
            )
        ],
    }


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(permission=VIEW_AGREEMENT)
def agreements(request: HttpRequest) -> HttpResponse:
    error, field_errors = "", dict[str, str]()
    if request.method == "POST":
        if not request.user.has_perm(ADD_AGREEMENT):
            raise PermissionDenied(ADD_AGREEMENT)
        try:
            created = services.create_agreement(_agreement_data(request.POST), actor=request.user)
        except DomainError as exc:
            error, field_errors = _errors(exc)
        else:
            messages.success(request, _("已创建协议草稿：%(number)s") % {"number": created.number})
            return redirect("distribution:agreement", created.pk)
    status = request.GET.get("status", "")
    listed = selectors.agreements_visible_to(request.user)
    if status in AgreementStatus.values:
        listed = listed.filter(status=status)
    context = {
        "agreements": listed,
        "statuses": AgreementStatus.choices,
        "status": status,
        "may_add": request.user.has_perm(ADD_AGREEMENT),
        "error": error,
        "field_errors": field_errors,
        **_form_context(request.POST if request.method == "POST" else QueryDict()),
    }
    return render(request, "distribution/pages/agreements.html", context, status=400 if error else 200)


def _agreement_or_404(request: HttpRequest, pk: int) -> InsurerAgreement:
    agreement = selectors.agreement_for_user(request.user, pk)
    if agreement is None:
        raise Http404
    return agreement


def _initial(agreement: InsurerAgreement) -> QueryDict:
    initial = QueryDict(mutable=True)
    for name in ("number", "notes", "settlement_period", "premium_collector"):
        initial[name] = str(getattr(agreement, name))
    initial["valid_from"] = agreement.valid_from.isoformat()
    initial["valid_until"] = agreement.valid_until.isoformat() if agreement.valid_until else ""
    initial["days_to_pay"] = str(agreement.days_to_pay)
    initial["agency"] = str(agreement.agency_id)
    if agreement.net_settlement:
        initial["net_settlement"] = "on"
    initial.setlist("lines", list(agreement.lines))
    initial.setlist("products", [str(p) for p in agreement.products.values_list("pk", flat=True)])
    return initial


NEXT_ACTIONS = {
    AgreementStatus.DRAFT: ((AgreementStatus.ACTIVE, "生效"),),
    AgreementStatus.ACTIVE: ((AgreementStatus.SUSPENDED, "暂停"), (AgreementStatus.ENDED, "终止")),
    AgreementStatus.SUSPENDED: ((AgreementStatus.ACTIVE, "恢复生效"), (AgreementStatus.ENDED, "终止")),
    AgreementStatus.ENDED: (),
}


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(permission=VIEW_AGREEMENT)
def agreement(request: HttpRequest, pk: int) -> HttpResponse:
    found = _agreement_or_404(request, pk)
    error, field_errors = "", dict[str, str]()
    posted: QueryDict = _initial(found)
    if request.method == "POST":
        if not request.user.has_perm(CHANGE_AGREEMENT):
            raise PermissionDenied(CHANGE_AGREEMENT)
        posted = request.POST
        try:
            services.update_agreement(
                found, _agreement_data(request.POST, insurer=found.insurer), actor=request.user
            )
        except DomainError as exc:
            error, field_errors = _errors(exc)
        else:
            messages.success(request, _("协议已保存"))
            return redirect("distribution:agreement", found.pk)
    context = {
        "agreement": found,
        "history": found.status_changes.select_related("actor"),
        "products_listed": found.products.order_by("code"),
        "line_names": [dict(LineOfBusiness.choices).get(line, line) for line in found.lines],
        "actions": [(to, _(label)) for to, label in NEXT_ACTIONS[AgreementStatus(found.status)]],
        "may_change": request.user.has_perm(CHANGE_AGREEMENT) and found.status != AgreementStatus.ENDED,
        "error": error,
        "field_errors": field_errors,
        **_form_context(posted, insurer=found.insurer),
    }
    return render(request, "distribution/pages/agreement.html", context, status=400 if error else 200)


@never_cache
@require_POST
@staff_required(permission=CHANGE_AGREEMENT)
def agreement_status(request: HttpRequest, pk: int) -> HttpResponse:
    found = _agreement_or_404(request, pk)
    target = request.POST.get("status", "")
    try:
        if target not in AgreementStatus.values:
            raise ValidationFailed(
                "status", errors=[FieldError("status", "invalid_choice", _("未知的协议状态"))]
            )
        services.transition(found, target, actor=request.user, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        for message in _errors(exc)[1].values() or [exc.message]:
            messages.error(request, message)
    else:
        messages.success(
            request, _("协议状态已更新为：%(status)s") % {"status": AgreementStatus(target).label}
        )
    return redirect("distribution:agreement", found.pk)


# --- the hierarchy ----------------------------------------------------------------------------


def _require_hierarchy(request: HttpRequest) -> None:
    if not services.may_see_hierarchy(request.user):
        raise PermissionDenied("distribution hierarchy")


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required()
def units(request: HttpRequest) -> HttpResponse:
    _require_hierarchy(request)
    may_change = request.user.has_perm(CHANGE_UNIT)
    error, field_errors = "", dict[str, str]()
    if request.method == "POST":
        if not may_change:
            raise PermissionDenied(CHANGE_UNIT)
        try:
            created = services.create_unit(_unit_data(request.POST), actor=request.user)
        except DomainError as exc:
            error, field_errors = _errors(exc)
        else:
            messages.success(request, _("已添加：%(name)s") % {"name": created.name})
            return redirect("distribution:units")
    visible = list(selectors.units_visible_to(request.user))
    top = min((u.path.count("/") for u in visible), default=0)
    today = datetime.date.today()
    rows = [
        {
            "unit": u,
            "depth": u.path.count("/") - top,
            "lines": [dict(LineOfBusiness.choices).get(line, line) for line in u.licence_lines],
            "expired": u.licence_valid_until is not None and u.licence_valid_until < today,
            "expiring": u.licence_valid_until is not None
            and today <= u.licence_valid_until <= today + datetime.timedelta(days=30),
        }
        for u in visible
    ]
    context = {
        "rows": rows,
        "may_change": may_change,
        "kinds": SalesUnitKind.choices,
        "lines": LineOfBusiness.choices,
        "parents": [u for u in visible if u.kind != SalesUnitKind.AGENT and u.is_active],
        "error": error,
        "field_errors": field_errors,
        "posted": request.POST,
        "posted_lines": request.POST.getlist("licence_lines"),
    }
    return render(request, "distribution/pages/units.html", context, status=400 if error else 200)


def _unit_data(post: QueryDict) -> services.UnitData:
    errors: list[FieldError] = []
    parent = None
    raw_parent = post.get("parent", "")
    if raw_parent.isdigit():
        parent = SalesUnit.objects.filter(pk=int(raw_parent)).first()
        if parent is None:
            errors.append(FieldError("parent", "unknown", _("上级组织不存在")))
    valid_until = _date(post, "licence_valid_until", _("资质有效期"), errors, required=False)
    if errors:
        raise ValidationFailed("the form is not valid", errors=errors)
    return services.UnitData(
        code=post.get("code", "").strip(),
        name=post.get("name", "").strip(),
        kind=post.get("kind", ""),
        parent=parent,
        licence_number=post.get("licence_number", ""),
        licence_lines=tuple(post.getlist("licence_lines")),
        licence_valid_until=valid_until,
    )


@never_cache
@require_POST
@staff_required(permission=CHANGE_UNIT)
def unit_move(request: HttpRequest, pk: int) -> HttpResponse:
    unit = selectors.unit_for_user(request.user, pk)
    target = (
        selectors.unit_for_user(request.user, int(request.POST["parent"]))
        if request.POST.get("parent", "").isdigit()
        else None
    )
    if unit is None:
        raise Http404
    try:
        if target is None:
            raise ValidationFailed(
                "parent", errors=[FieldError("parent", "required", _("请选择新的上级组织"))]
            )
        services.move_unit(unit, target, actor=request.user)
    except DomainError as exc:
        for message in _errors(exc)[1].values() or [exc.message]:
            messages.error(request, message)
    else:
        messages.success(request, _("已移动：%(name)s") % {"name": unit.name})
    return redirect("distribution:units")


@never_cache
@require_POST
@staff_required(permission=CHANGE_UNIT)
def unit_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    unit = selectors.unit_for_user(request.user, pk)
    if unit is None:
        raise Http404
    count = services.deactivate_unit(unit, actor=request.user, reason=request.POST.get("reason", ""))
    messages.success(request, _("已停用%(count)s个组织") % {"count": count})
    return redirect("distribution:units")


urlpatterns: list[URLPattern] = [
    path("agreements/", agreements, name="agreements"),
    path("agreements/<int:pk>/", agreement, name="agreement"),
    path("agreements/<int:pk>/status/", agreement_status, name="agreement_status"),
    path("units/", units, name="units"),
    path("units/<int:pk>/move/", unit_move, name="unit_move"),
    path("units/<int:pk>/deactivate/", unit_deactivate, name="unit_deactivate"),
]
