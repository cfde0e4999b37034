"""`GET /api/v1/reports/sales`: the sales report's figures per period and group, for staff who
see the whole agency (`report.view_sales_report`), channel and team staff (their unit's
subtree) and agents (their own sales) — each only what `selectors.scope_for` allows. A staff
session with TOTP or a staff bearer token. Amounts are CNY strings to the fen."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.security import django_auth

from huibao.account.access import is_api_staff
from huibao.core.api_schemas import errors
from huibao.core.errors import PermissionDenied
from huibao.core.money import to_fen
from huibao.report import query as report_query
from huibao.report import rules, selectors

router = Router(tags=["reports"])


class SalesQuery(Schema):
    period: str = Field("month", description="day | week | month | quarter | year（北京时间）")
    group: str = Field(
        "total",
        description="total | insurer | product | line | seller | agent | team | branch | agency | channel"
        " | subchannel",
    )
    count: str = Field("", description="期数（含截止日所在期）；空=默认")
    end: str = Field("", description="截止日期 YYYY-MM-DD（该日所在期为最后一期）；空=今天")


class FiguresOut(Schema):
    policies: int
    premium: str
    commission_in: str = Field(description="应收手续费（保险公司支付）")
    commission_out: str = Field(description="应付佣金（渠道、代理人）")
    margin: str = Field(description="毛利 = 手续费 − 佣金")
    cancellations: int
    refunds: str


class RowOut(Schema):
    period: datetime.date | None = Field(description="期间首日；空=整个统计期间")
    label: str
    key: str
    name: str
    figures: FiguresOut


class SalesOut(Schema):
    period: str
    group: str
    since: datetime.date
    until: datetime.date = Field(description="不含")
    scope: list[str] = Field(description="可见的销售组织路径；空=全公司")
    total: FiguresOut
    periods: list[RowOut]
    groups: list[RowOut]
    rows: list[RowOut]


def _amount(value: Decimal) -> str:
    return str(to_fen(value))


def figures_out(f: rules.Figures) -> dict[str, Any]:
    return {
        "policies": f.policies,
        "premium": _amount(f.premium),
        "commission_in": _amount(f.commission_in),
        "commission_out": _amount(f.commission_out),
        "margin": _amount(f.margin),
        "cancellations": f.cancellations,
        "refunds": _amount(f.refunds),
    }


def _row(period: rules.Period, row: rules.Row) -> dict[str, Any]:
    return {
        "period": row.period,
        "label": rules.label(period, row.period) if row.period else "",
        "key": row.key,
        "name": row.name,
        "figures": figures_out(row.figures),
    }


@router.get("reports/sales", auth=django_auth, response={200: SalesOut, **errors(401, 403, 422)})
def sales(request: HttpRequest, params: Query[SalesQuery]) -> dict[str, Any]:
    if not is_api_staff(request):
        raise PermissionDenied("仅限已通过动态验证码验证的员工账号使用", code="staff_only")
    scope = selectors.scope_for(request.user)
    if scope is None:
        raise PermissionDenied("无销售报表权限：既非财务运营人员，也不属于任何销售组织", code="not_allowed")
    q = report_query.parse(params.dict(), today=selectors.today())
    report = selectors.sales_report(scope, period=q.period, since=q.since, until=q.until, group=q.group)
    return {
        "period": q.period.value,
        "group": q.group.value,
        "since": report.since,
        "until": report.until,
        "scope": [] if scope.everything else list(scope.roots),
        "total": figures_out(report.total),
        "periods": [_row(q.period, r) for r in report.by_period],
        "groups": [_row(q.period, r) for r in report.by_key] if q.group != rules.Group.TOTAL else [],
        "rows": [_row(q.period, r) for r in report.rows],
    }
