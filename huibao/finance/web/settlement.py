"""The settlement pages of the back office (/finance/statements/): the list (filters: party,
period, state, overdue), a statement with its lines, its actions (submit, approve, return, mark
paid, void) and its exports; generating the statements of a period. Verified finance staff;
each action also needs its permission. Domain errors come back inline, in Chinese."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from huibao.account.access import staff_required
from huibao.catalog.models import Insurer
from huibao.core.errors import DomainError
from huibao.distribution.models import SalesUnit
from huibao.finance import settlement, settlement_exports
from huibao.finance import settlement_selectors as selectors
from huibao.finance.settlement_states import LineKind, PartyKind, StatementStatus

VIEW = selectors.VIEW_ALL
CHANGE = "finance.change_settlementstatement"
APPROVE = "finance.approve_settlementstatement"
PAY = "finance.pay_settlementstatement"
PAGE_SIZE = 100
LINES_SHOWN = 200


def _error_text(exc: DomainError) -> str:
    return "；".join(e.message for e in exc.errors) or exc.message


@never_cache
@require_GET
@staff_required(permission=VIEW)
def statement_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    filters = selectors.Filters(
        party=request.GET.get("party", "").strip()[:32],
        party_kind=request.GET.get("party_kind", "")
        if request.GET.get("party_kind") in PartyKind.values
        else "",
        period=request.GET.get("period", "").strip()[:8],
        status=status if status in StatementStatus.values else "",
        overdue=request.GET.get("overdue") == "1",
    )
    rows = list(selectors.statements(request.user, filters, staff_view=True)[:PAGE_SIZE])
    today = timezone.localdate()
    context = {
        "rows": [{"s": r, "overdue": selectors.is_overdue(r)} for r in rows],
        "filters": filters,
        "statuses": StatementStatus.choices,
        "party_kinds": PartyKind.choices,
        "can_generate": request.user.has_perm(CHANGE),
        "default_period": f"{(today.replace(day=1) - datetime.timedelta(days=1)):%Y-%m}",
    }
    return render(request, "finance/settlement/list.html", context)


@never_cache
@require_GET
@staff_required(permission=VIEW)
def statement_detail(request: HttpRequest, number: str) -> HttpResponse:
    row = selectors.statement_for(request.user, number, staff_view=True)
    user = request.user
    context = {
        "s": row,
        "overdue": selectors.is_overdue(row),
        "lines": [
            {**line, "kind_label": LineKind(line["kind"]).label}
            for line in selectors.lines_of(row)[:LINES_SHOWN]
        ],
        "lines_shown": LINES_SHOWN,
        "changes": selectors.status_changes(row),
        "can_submit": user.has_perm(CHANGE) and row.status == StatementStatus.DRAFT,
        "can_approve": user.has_perm(APPROVE) and row.status == StatementStatus.SUBMITTED,
        "can_pay": user.has_perm(PAY) and row.status == StatementStatus.APPROVED,
        "can_void": user.has_perm(CHANGE)
        and row.status in (StatementStatus.DRAFT, StatementStatus.SUBMITTED, StatementStatus.APPROVED),
        "today": timezone.localdate().isoformat(),
    }
    return render(request, "finance/settlement/detail.html", context)


def _parse_date(text: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(text.strip())
    except ValueError:
        return None


_ACTIONS: dict[str, str] = {
    "submit": CHANGE,
    "approve": APPROVE,
    "return": APPROVE,
    "paid": PAY,
    "void": CHANGE,
}


@require_POST
@staff_required(permission=VIEW)
def statement_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    permission = _ACTIONS.get(action)
    if permission is None or not request.user.has_perm(permission):
        raise PermissionDenied(action)
    row = selectors.statement_for(request.user, number, staff_view=True)
    user = request.user
    try:
        if action == "submit":
            settlement.submit(row, actor=user)
        elif action == "approve":
            settlement.approve(row, actor=user)
        elif action == "return":
            settlement.return_to_draft(row, actor=user, reason=request.POST.get("reason", ""))
        elif action == "paid":
            paid_on = _parse_date(request.POST.get("paid_on", ""))
            settlement.mark_paid(
                row, actor=user, bank_reference=request.POST.get("bank_reference", ""), paid_on=paid_on
            )
        else:
            settlement.void(row, actor=user, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("已完成"))
    return redirect("finance:settlement", number=row.number)


@require_POST
@staff_required(permission=CHANGE)
def generate(request: HttpRequest) -> HttpResponse:
    party_kind = request.POST.get("party_kind", "")
    code = request.POST.get("party", "").strip()[:32]
    period = request.POST.get("period", "").strip()[:8]
    try:
        if party_kind == PartyKind.INSURER and (insurer := Insurer.objects.filter(code=code).first()):
            row = settlement.generate_insurer_statement(insurer, period, actor=request.user)
        elif party_kind == PartyKind.SALES_UNIT and (unit := SalesUnit.objects.filter(code=code).first()):
            row = settlement.generate_unit_statement(unit, period, actor=request.user)
        else:
            messages.error(request, _("结算对象：没有这个代码的保险公司或渠道/代理人"))
            return redirect("finance:settlements")
    except DomainError as exc:
        messages.error(request, _error_text(exc))
        return redirect("finance:settlements")
    return redirect("finance:settlement", number=row.number)


@never_cache
@require_GET
@staff_required(permission=VIEW)
def export(request: HttpRequest, number: str, kind: str) -> HttpResponse:
    if kind not in ("xlsx", "pdf"):
        raise Http404(kind)
    row = selectors.statement_for(request.user, number, staff_view=True)
    if kind == "xlsx":
        response = HttpResponse(
            settlement_exports.excel(row),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        response = HttpResponse(settlement_exports.pdf(row), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{row.number}.{kind}"'
    response["Cache-Control"] = "private, no-store"
    return response


def detail_url(number: str) -> str:
    return reverse("finance:settlement", kwargs={"number": number})


urlpatterns: list[Any] = [
    path("statements/", statement_list, name="settlements"),
    path("statements/generate/", generate, name="settlement_generate"),
    path("statements/<str:number>/", statement_detail, name="settlement"),
    path("statements/<str:number>/export.<str:kind>", export, name="settlement_export"),
    path("statements/<str:number>/<str:action>/", statement_action, name="settlement_action"),
]
