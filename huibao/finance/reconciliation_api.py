"""Reconciliation (对账) under /api/v1/reconciliations: finance staff import a statement, read
the results, resolve differences and close the month; an insurer's staff (`InsurerMember`) and a
channel's staff (`SalesUnitMember`) read their own reconciliations only (others answer 404).
Every amount is a CNY string."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal, InvalidOperation
from typing import IO, Any, cast

from django.http import HttpRequest, HttpResponse
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.security import django_auth

from huibao.account.access import is_api_staff
from huibao.catalog.models import Insurer
from huibao.core.api_schemas import errors
from huibao.core.errors import FieldError, NotFound, PermissionDenied, ValidationFailed
from huibao.distribution.models import SalesUnit
from huibao.finance import reconciliation as recon
from huibao.finance import reconciliation_rules as rules
from huibao.finance import reconciliation_selectors as selectors
from huibao.finance.reconciliation_models import Reconciliation, ReconciliationItem

router = Router(tags=["reconciliation"])


def _staff(request: HttpRequest, permission: str) -> Any:
    if not is_api_staff(request):
        raise PermissionDenied("仅限已通过动态验证码验证的员工账号使用", code="staff_only")
    if not request.user.has_perm(permission):
        raise PermissionDenied("无此操作权限", code="not_allowed")
    return request.user


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


class TotalOut(Schema):
    category: str = Field(description="matched | amount_differs | ours_only | theirs_only")
    label: str
    count: int
    open: int
    our_premium: str
    their_premium: str
    our_commission: str
    their_commission: str


class ReconciliationOut(Schema):
    id: uuid.UUID
    party_kind: str = Field(description="insurer | channel")
    party: str = Field(description="the insurer's or the channel's code")
    month: str = Field(examples=["2026-11"])
    status: str = Field(description="open | closed")
    lines: int
    tolerance: str
    file_name: str
    imported_at: datetime.datetime
    closed_at: datetime.datetime | None
    totals: list[TotalOut]


class ItemOut(Schema):
    id: int
    policy_number: str
    category: str
    status: str = Field(description="matched | open | adjusted | disputed | accepted_theirs | ours_right")
    our_premium: str | None
    their_premium: str | None
    our_commission: str | None
    their_commission: str | None
    first_line: int | None = Field(description="the item's first line in the statement file")
    reason: str
    resolved_at: datetime.datetime | None


class ItemPage(Schema):
    count: int
    items: list[ItemOut]


class ResolveIn(Schema):
    action: str = Field(description="adjust | dispute | accept_theirs | ours_right", max_length=20)
    reason: str = Field(max_length=200)


def _out(rec: Reconciliation) -> ReconciliationOut:
    party = rec.insurer.code if rec.insurer else (rec.sales_unit.code if rec.sales_unit else "")
    return ReconciliationOut(
        id=rec.public_id,
        party_kind=rec.party_kind,
        party=party,
        month=rec.month,
        status=rec.status,
        lines=rec.lines,
        tolerance=f"{rec.tolerance:.2f}",
        file_name=rec.file_name,
        imported_at=rec.imported_at,
        closed_at=rec.closed_at,
        totals=[
            TotalOut(
                category=t.category,
                label=t.label,
                count=t.count,
                open=t.open,
                our_premium=f"{t.our_premium:.2f}",
                their_premium=f"{t.their_premium:.2f}",
                our_commission=f"{t.our_commission:.2f}",
                their_commission=f"{t.their_commission:.2f}",
            )
            for t in recon.totals(rec)
        ],
    )


def _item(i: ReconciliationItem) -> ItemOut:
    return ItemOut(
        id=i.pk,
        policy_number=i.policy_number,
        category=i.category,
        status=i.status,
        our_premium=_money(i.our_premium),
        their_premium=_money(i.their_premium),
        our_commission=_money(i.our_commission),
        their_commission=_money(i.their_commission),
        first_line=i.first_line,
        reason=i.reason,
        resolved_at=i.resolved_at,
    )


def _visible(request: HttpRequest, rec_id: uuid.UUID) -> Reconciliation:
    return selectors.reconciliation_for(request.user, rec_id, api_staff=is_api_staff(request))


@router.get(
    "/reconciliations",
    response={200: list[ReconciliationOut]},
    auth=django_auth,
    summary="对账列表（财务：全部；保险公司/渠道人员：仅本方）",
)
def list_reconciliations(request: HttpRequest) -> list[ReconciliationOut]:
    return [
        _out(r) for r in selectors.reconciliations_for(request.user, api_staff=is_api_staff(request))[:100]
    ]


@router.get(
    "/reconciliations/{rec_id}",
    response={200: ReconciliationOut, **errors(404)},
    auth=django_auth,
    summary="一份对账：各类别笔数与合计",
)
def get_reconciliation(request: HttpRequest, rec_id: uuid.UUID) -> ReconciliationOut:
    return _out(_visible(request, rec_id))


class ItemFilter(Schema):
    show: str = Field("differences", description="differences | open | all | a category", max_length=20)
    offset: int = Field(0, ge=0)
    limit: int = Field(100, ge=1, le=500)


@router.get(
    "/reconciliations/{rec_id}/items",
    response={200: ItemPage, **errors(404)},
    auth=django_auth,
    summary="对账明细（按类别或状态筛选，分页）",
)
def list_items(request: HttpRequest, rec_id: uuid.UUID, filters: Query[ItemFilter]) -> ItemPage:
    rec = _visible(request, rec_id)
    items = selectors.items_of(rec, show=filters.show)
    return ItemPage(
        count=items.count(), items=[_item(i) for i in items[filters.offset : filters.offset + filters.limit]]
    )


@router.post(
    "/reconciliations",
    response={201: ReconciliationOut, **errors(403, 404, 409, 422)},
    auth=django_auth,
    summary="导入对账单（multipart：party_kind、party、month、file；列映射省略时用已保存的）",
    description=(
        "party_kind：insurer | channel；party：保险公司或渠道代码；month：YYYY-MM；可选 tolerance（元）、"
        "col_policy_number、col_premium、col_commission、col_date、col_event、header_row、encoding"
        "（auto|utf-8|gb18030）、date_format。任何一行有误时 422，errors 逐行列出"
        "（field 形如 line[12].premium），不导入任何一行。"
    ),
)
def import_reconciliation(
    request: HttpRequest,
    file: File[UploadedFile],
    party_kind: Form[str],
    party: Form[str],
    month: Form[str],
    tolerance: Form[str] = "0.00",
    col_policy_number: Form[str] = "",
    col_premium: Form[str] = "",
    col_commission: Form[str] = "",
    col_date: Form[str] = "",
    col_event: Form[str] = "",
    header_row: Form[int] = 0,
    encoding: Form[str] = "",
    date_format: Form[str] = "",
) -> Status:
    user = _staff(request, selectors.IMPORT)
    if party_kind == "insurer":
        insurer = Insurer.objects.filter(code=party).first()
        if insurer is None:
            raise NotFound("没有这家保险公司", code="insurer_not_found")
        who = recon.Party.of_insurer(insurer)
    elif party_kind == "channel":
        unit = SalesUnit.objects.filter(code=party).first()
        if unit is None:
            raise NotFound("没有这个渠道", code="channel_not_found")
        who = recon.Party.of_channel(unit)
    else:
        raise ValidationFailed(
            "party_kind 须为 insurer 或 channel",
            errors=[FieldError("party_kind", "invalid", "party_kind 须为 insurer 或 channel")],
        )
    try:
        period = rules.parse_month(month)
    except ValueError:
        raise ValidationFailed(
            "month 格式为 YYYY-MM", errors=[FieldError("month", "invalid", "month 格式为 YYYY-MM")]
        ) from None
    try:
        tol = Decimal(tolerance.strip() or "0")
    except InvalidOperation:
        raise ValidationFailed(
            "tolerance 须为金额", errors=[FieldError("tolerance", "invalid", "tolerance 须为金额，如 0.01")]
        ) from None
    saved = recon.mapping_for(who)
    given = {
        "policy_number": col_policy_number,
        "premium": col_premium,
        "commission": col_commission,
        "date": col_date,
        "event": col_event,
    }
    columns = (
        {f: v.strip() for f, v in given.items() if v.strip()}
        if any(v.strip() for v in given.values())
        else saved.columns
    )
    spec = recon.MappingSpec(
        columns=columns,
        header_row=header_row or saved.header_row,
        encoding=encoding or saved.encoding,
        date_format=date_format or saved.date_format,
    )
    rec = recon.import_statement(
        who, period, file.name or "", cast("IO[bytes]", file.open("rb")), spec=spec, tolerance=tol, actor=user
    )
    return Status(201, _out(rec))


@router.post(
    "/reconciliations/{rec_id}/items/{item_id}/resolve",
    response={200: ItemOut, **errors(403, 404, 409, 422)},
    auth=django_auth,
    summary="处理一项差异：adjust（记调整分录）、dispute（提出异议）、accept_theirs、ours_right；须填原因",
)
def resolve_item(request: HttpRequest, rec_id: uuid.UUID, item_id: int, payload: ResolveIn) -> ItemOut:
    user = _staff(request, selectors.RESOLVE)
    rec = _visible(request, rec_id)
    item = selectors.item_of(rec, item_id)
    return _item(recon.resolve(item.pk, payload.action, payload.reason, actor=user, request=request))


@router.post(
    "/reconciliations/{rec_id}/close",
    response={200: ReconciliationOut, **errors(403, 404, 409)},
    auth=django_auth,
    summary="结账（所有差异处理完毕后；结账后不可重新打开）",
)
def close_reconciliation(request: HttpRequest, rec_id: uuid.UUID) -> ReconciliationOut:
    user = _staff(request, selectors.RESOLVE)
    rec = _visible(request, rec_id)
    return _out(recon.close(rec.pk, actor=user, request=request))


@router.post(
    "/reconciliations/{rec_id}/rematch",
    response={200: ReconciliationOut, **errors(403, 404, 409)},
    auth=django_auth,
    summary="按当前账务重新匹配（已处理的差异保持不变；结账后 409）",
)
def rematch_reconciliation(request: HttpRequest, rec_id: uuid.UUID) -> ReconciliationOut:
    user = _staff(request, selectors.RESOLVE)
    rec = _visible(request, rec_id)
    return _out(recon.rematch(rec.pk, actor=user, request=request))


@router.post(
    "/reconciliations/{rec_id}/statement",
    response={200: ReconciliationOut, **errors(403, 404, 409, 422)},
    auth=django_auth,
    summary="替换本月对账单（multipart：file；按已保存的列映射导入；已处理差异或已结账时 409）",
)
def replace_reconciliation_statement(
    request: HttpRequest, rec_id: uuid.UUID, file: File[UploadedFile]
) -> ReconciliationOut:
    user = _staff(request, selectors.RESOLVE)
    rec = _visible(request, rec_id)
    replaced = recon.replace_statement(
        rec.pk, file.name or "", cast("IO[bytes]", file.open("rb")), actor=user, request=request
    )
    return _out(replaced)


@router.get(
    "/reconciliations/{rec_id}/disputes.xlsx",
    response={200: None, **errors(404)},
    auth=django_auth,
    summary="异议清单（Excel），发回对账方",
)
def disputes_export(request: HttpRequest, rec_id: uuid.UUID) -> HttpResponse:
    rec = _visible(request, rec_id)
    response = HttpResponse(
        recon.disputes_workbook(rec),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="disputes-{rec.month}.xlsx"'
    return response
