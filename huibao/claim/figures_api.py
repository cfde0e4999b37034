"""`GET /api/v1/claim-figures`: the figures of the back-office page (share decided by the
system, report → paid and complete materials → decision p50/p90, in seconds) per product and per
week. Verified staff (`is_api_staff`) with `claim.view_claim_figures` only."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.security import django_auth

from huibao.account.access import is_api_staff
from huibao.claim import figures
from huibao.core.api_schemas import errors
from huibao.core.errors import PermissionDenied

router = Router(tags=["claims"])
PERMISSION = "claim.view_claim_figures"


class FiguresQuery(Schema):
    weeks: int = Field(figures.DEFAULT_WEEKS, ge=1, le=figures.MAX_WEEKS, description="最近周数（含本周）")
    product: str = Field("", max_length=48, description="产品代码；空=全部")


class TimesOut(Schema):
    count: int
    p50_seconds: float | None
    p90_seconds: float | None


class RowOut(Schema):
    product_code: str
    product_name: str
    week: datetime.date | None = Field(description="该周周一（本地日期）；空=整个期间")
    decided: int
    auto_decided: int
    auto_share: float | None
    report_to_paid: TimesOut
    complete_to_decided: TimesOut


class FiguresOut(Schema):
    since: datetime.date
    until: datetime.date = Field(description="不含")
    total: RowOut
    products: list[RowOut]
    weeks: list[RowOut]


def _times(t: figures.Times) -> dict[str, Any]:
    return {"count": t.count, "p50_seconds": t.p50, "p90_seconds": t.p90}


def row_out(row: figures.Row) -> dict[str, Any]:
    return {
        "product_code": row.product_code,
        "product_name": row.product_name,
        "week": row.week,
        "decided": row.decided,
        "auto_decided": row.auto_decided,
        "auto_share": row.auto_share,
        "report_to_paid": _times(row.report_to_paid),
        "complete_to_decided": _times(row.complete_to_decided),
    }


@router.get("claim-figures", auth=django_auth, response={200: FiguresOut, **errors(401, 403, 422)})
def claim_figures(request: HttpRequest, query: Query[FiguresQuery]) -> dict[str, Any]:
    if not is_api_staff(request):
        raise PermissionDenied("仅限已通过动态验证码验证的员工账号使用", code="staff_only")
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied("无理赔统计权限", code="not_allowed")
    since, until = figures.window(query.weeks)
    found = figures.claim_figures(since=since, until=until, product_code=query.product.strip())
    return {
        "since": found.since,
        "until": found.until,
        "total": row_out(found.total),
        "products": [row_out(r) for r in found.products],
        "weeks": [row_out(r) for r in found.rows],
    }
