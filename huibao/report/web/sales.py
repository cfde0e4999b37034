"""The report pages: the back-office home (/reports/: the sections and the figures the user may
see), the sales report with its charts and Excel export (/reports/sales/), and an agent's or a
channel manager's own page (/reports/me/: my sales, my commissions, my team).

Verified staff only (agents and channel staff are staff accounts with TOTP); what each sees is
`selectors.scope_for(user)`. Chart data goes to the page in `<script type="application/json">`
blocks (the CSP allows no inline script); `report/charts.js` draws them with ECharts."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from huibao.account.access import staff_required
from huibao.core.errors import ValidationFailed
from huibao.core.masking import mask_name
from huibao.policy.states import PolicyStatus
from huibao.report import excel, rules, selectors
from huibao.report.query import ReportQuery, parse
from huibao.report.rules import Group, Period
from huibao.report.selectors import Report, Scope

GROUP_LABELS = {
    Group.TOTAL: gettext_lazy("合计"),
    Group.INSURER: gettext_lazy("保险公司"),
    Group.PRODUCT: gettext_lazy("产品"),
    Group.LINE: gettext_lazy("险种"),
    Group.SELLER: gettext_lazy("销售单位"),
    Group.AGENT: gettext_lazy("代理人"),
    Group.TEAM: gettext_lazy("团队"),
    Group.BRANCH: gettext_lazy("分公司"),
    Group.AGENCY: gettext_lazy("总公司"),
    Group.CHANNEL: gettext_lazy("渠道"),
    Group.SUBCHANNEL: gettext_lazy("子渠道"),
}
PERIOD_LABELS = {
    Period.DAY: gettext_lazy("日"),
    Period.WEEK: gettext_lazy("周"),
    Period.MONTH: gettext_lazy("月"),
    Period.QUARTER: gettext_lazy("季"),
    Period.YEAR: gettext_lazy("年"),
}
RANKING_SIZE = 10


def _scope(request: HttpRequest) -> Scope:
    scope = selectors.scope_for(request.user)
    if scope is None:
        raise PermissionDenied("no sales scope")
    return scope


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def trend_data(report: Report) -> dict[str, Any]:
    """The trend chart: premium and margin per period (every period of the window)."""
    return {
        "kind": "trend",
        "labels": [rules.label(report.period, r.period) for r in report.by_period if r.period],
        "series": [
            {"name": _("保费"), "values": [_money(r.figures.premium) for r in report.by_period]},
            {"name": _("毛利"), "values": [_money(r.figures.margin) for r in report.by_period]},
        ],
    }


def share_data(report: Report, title: str) -> dict[str, Any]:
    """A pie: each group value's share of premium."""
    return {
        "kind": "share",
        "title": title,
        "items": [
            {"name": r.name, "value": _money(r.figures.premium)} for r in report.by_key if r.figures.premium
        ],
    }


def ranking_data(report: Report, title: str) -> dict[str, Any]:
    """Horizontal bars: the top sellers by premium."""
    top = [r for r in report.by_key if r.key][:RANKING_SIZE]
    return {
        "kind": "ranking",
        "title": title,
        "labels": [r.name for r in reversed(top)],
        "values": [_money(r.figures.premium) for r in reversed(top)],
    }


def _row(report: Report, row: rules.Row) -> dict[str, Any]:
    return {
        "label": rules.label(report.period, row.period) if row.period else "",
        "key": row.key,
        "name": row.name,
        "f": row.figures,
        "margin": row.figures.margin,
    }


def _ranking_group(scope: Scope) -> Group:
    """Agents for an agency-wide or team view; a channel's staff see their sub-channels."""
    if scope.managed and all(u.kind in ("channel", "subchannel") for u in scope.managed):
        return Group.SUBCHANNEL
    return Group.AGENT


@never_cache
@require_GET
@staff_required()
def sales(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    try:
        query = parse(request.GET, today=selectors.today())
    except ValidationFailed as exc:
        query = parse({}, today=selectors.today())
        errors = [e.message for e in exc.errors]
    else:
        errors = []
    report = _report(scope, query, query.group)
    if request.GET.get("format") == "xlsx" and not errors:
        response = HttpResponse(excel.workbook(report), content_type=excel.XLSX_CONTENT_TYPE)
        name = (
            f"sales-{query.period.value}-{query.group.value}-{query.since:%Y%m%d}-{query.until:%Y%m%d}.xlsx"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    by_insurer = report if query.group == Group.INSURER else _report(scope, query, Group.INSURER)
    by_line = report if query.group == Group.LINE else _report(scope, query, Group.LINE)
    ranking_group = _ranking_group(scope)
    ranking = report if query.group == ranking_group else _report(scope, query, ranking_group)
    charts = {
        "trend": trend_data(report),
        "insurer": share_data(by_insurer, _("保费占比：按保险公司")),
        "line": share_data(by_line, _("保费占比：按险种")),
        "ranking": ranking_data(
            ranking, _("保费排行：%(group)s") % {"group": str(GROUP_LABELS[ranking_group])}
        ),
    }
    export_query = request.GET.copy()
    export_query["format"] = "xlsx"
    context = {
        "query": query,
        "report": report,
        "errors": errors,
        "charts": charts,
        "total": report.total,
        "rows": [_row(report, r) for r in report.by_key] if query.group != Group.TOTAL else [],
        "periods": [_row(report, r) for r in reversed(report.by_period)],
        "period_choices": [(p.value, str(PERIOD_LABELS[p])) for p in Period],
        "group_choices": [(g.value, str(GROUP_LABELS[g])) for g in Group],
        "group_label": str(GROUP_LABELS[query.group]),
        "export_url": f"?{export_query.urlencode()}",
        "scope": scope,
    }
    return render(request, "report/pages/sales.html", context)


def _report(scope: Scope, query: ReportQuery, group: Group) -> Report:
    return selectors.sales_report(
        scope, period=query.period, since=query.since, until=query.until, group=group
    )


def _figures_of(scope: Scope, period: Period, today: datetime.date) -> rules.Figures:
    since = rules.period_start(period, today)
    return selectors.sales_report(
        scope, period=period, since=since, until=today + datetime.timedelta(days=1)
    ).total


@never_cache
@require_GET
@staff_required()
def home(request: HttpRequest) -> HttpResponse:
    """The back-office landing page: the sections the user may open, and the figures their role
    sees (today and this month for their scope)."""
    scope = selectors.scope_for(request.user)
    today = selectors.today()
    figures = None
    if scope is not None:
        figures = {
            "today": _figures_of(scope, Period.DAY, today),
            "month": _figures_of(scope, Period.MONTH, today),
        }
    context = {"scope": scope, "figures": figures, "today": today}
    return render(request, "report/pages/home.html", context)


STATUS_LABELS = dict(PolicyStatus.choices)


@never_cache
@require_GET
@staff_required()
def me(request: HttpRequest) -> HttpResponse:
    """An agent's own page (or a channel's or team's manager's): my sales this month, my
    commissions by state, my team's results per agent."""
    scope = _scope(request)
    today = selectors.today()
    own = Scope(roots=(scope.agent.path,), agent=scope.agent) if scope.agent is not None else None
    units = [scope.agent] if scope.agent is not None else list(scope.managed)
    month_since = rules.period_start(Period.MONTH, today)
    tomorrow = today + datetime.timedelta(days=1)
    mine = (
        selectors.sales_report(own, period=Period.MONTH, since=month_since, until=tomorrow).total
        if own is not None
        else None
    )
    policies = [
        {
            "number": p.number,
            "product": p.product_version.product.name,
            "holder": mask_name(p.holder_name),
            "premium": p.premium,
            "issued_at": p.issued_at,
            "status": STATUS_LABELS.get(p.status, p.status),
            "seller": p.seller.name if p.seller else "",
        }
        for p in selectors.recent_policies(own or scope, limit=20)
    ]
    entries = [
        {
            "entry": e,
            "state": rules.commission_state(
                occurred_on=e.occurred_on,
                cooling_off_until=e.policy.cooling_off_until if e.policy else None,
                paid=e.paid_at is not None,
                today=today,
            ).value,
            "policy_number": e.policy.number if e.policy else "",
            "product": e.policy.product_version.product.name if e.policy else "",
        }
        for e in selectors.recent_commissions(units, limit=20)
    ]
    team = None
    if scope.managed:
        team_scope = Scope(roots=tuple(u.path for u in scope.managed), managed=scope.managed)
        group = _ranking_group(team_scope)
        team_report = selectors.sales_report(
            team_scope, period=Period.MONTH, since=month_since, until=tomorrow, group=group
        )
        team = {"report": team_report, "units": scope.managed, "group_label": str(GROUP_LABELS[group])}
    context = {
        "scope": scope,
        "mine": mine,
        "commissions": selectors.commission_totals(units, today) if units else None,
        "policies": policies,
        "entries": entries,
        "team": team,
        "today": today,
        "month_since": month_since,
    }
    return render(request, "report/pages/me.html", context)


urlpatterns = [
    path("", home, name="home"),
    path("sales/", sales, name="sales"),
    path("me/", me, name="me"),
]
