"""Settlement statements under /api/v1/finance/statements: finance staff (verified staff with
the permission named on each endpoint) list, generate, submit, approve, mark paid and void
them; an insurer's or a channel's staff, with their own session or token, read theirs only
(another party's statement answers 404). Amounts are CNY strings."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.security import django_auth

from huibao.account.access import is_api_staff
from huibao.catalog.models import Insurer
from huibao.core.api_schemas import errors
from huibao.core.errors import FieldError, PermissionDenied, ValidationFailed
from huibao.distribution.models import SalesUnit
from huibao.finance import settlement, settlement_exports
from huibao.finance import settlement_selectors as selectors
from huibao.finance.settlement_models import SettlementStatement
from huibao.finance.settlement_states import PartyKind, StatementStatus

router = Router(tags=["finance-statements"])
CHANGE = "finance.change_settlementstatement"
APPROVE = "finance.approve_settlementstatement"
PAY = "finance.pay_settlementstatement"
MAX_LINES = 500


def _reader(request: HttpRequest) -> bool:
    """Whether the caller reads as finance staff (all statements) or as a party (its own)."""
    staff_view = is_api_staff(request) and request.user.has_perm(selectors.VIEW_ALL)
    if not staff_view and not selectors.is_partner(request.user):
        raise PermissionDenied("无权查看结算单", code="not_allowed")
    return staff_view


def _staff(request: HttpRequest, permission: str) -> Any:
    if not is_api_staff(request):
        raise PermissionDenied("仅限已通过动态验证码验证的员工账号使用", code="staff_only")
    if not request.user.has_perm(permission):
        raise PermissionDenied("无此操作权限", code="not_allowed")
    return request.user


class StatementOut(Schema):
    number: str
    party_kind: str = Field(description="insurer | sales_unit")
    party_code: str
    party_name: str
    period: str = Field(examples=["2026-11", "2026-Q4"])
    period_start: datetime.date
    period_end: datetime.date
    due_on: datetime.date
    overdue: bool
    mode: str = Field(description="net | gross | commission_only | outbound")
    status: str = Field(description="draft | submitted | approved | paid | voided")
    premium_total: str
    commission_total: str
    tax_withheld: str
    net_amount: str = Field(description="+: the agency pays the party; −: the party pays the agency")
    payable: str
    receivable: str
    approvals_needed: int
    approvals_given: int
    line_count: int
    paid_on: datetime.date | None
    bank_reference: str


class LineOut(Schema):
    kind: str = Field(description="premium | commission_in | commission_out")
    policy_number: str
    occurred_on: datetime.date
    event: str
    amount: str


class StatementDetailOut(StatementOut):
    lines: list[LineOut] = Field(description=f"the first {MAX_LINES} lines (all of them: the Excel export)")
    tax_detail: dict[str, str]


def present(row: SettlementStatement) -> dict[str, Any]:
    party = row.insurer if row.party_kind == PartyKind.INSURER else row.sales_unit
    approvals = (
        2
        if row.approved_by_id and row.first_approved_by_id
        else int(bool(row.approved_by_id or row.first_approved_by_id))
    )
    return {
        "number": row.number,
        "party_kind": row.party_kind,
        "party_code": getattr(party, "code", ""),
        "party_name": row.party_name,
        "period": row.period_key,
        "period_start": row.period_start,
        "period_end": row.period_end,
        "due_on": row.due_on,
        "overdue": selectors.is_overdue(row),
        "mode": row.mode,
        "status": row.status,
        "premium_total": str(row.premium_total),
        "commission_total": str(row.commission_total),
        "tax_withheld": str(row.tax_withheld),
        "net_amount": str(row.net_amount),
        "payable": str(row.payable),
        "receivable": str(row.receivable),
        "approvals_needed": row.approvals_needed,
        "approvals_given": approvals,
        "line_count": row.line_count,
        "paid_on": row.paid_on,
        "bank_reference": row.bank_reference,
    }


def _detail(row: SettlementStatement) -> dict[str, Any]:
    out = present(row)
    out["tax_detail"] = {str(k): str(v) for k, v in (row.tax_detail or {}).items()}
    out["lines"] = [
        {
            "kind": line["kind"],
            "policy_number": line["policy__number"] or "",
            "occurred_on": line["occurred_on"],
            "event": line["event"],
            "amount": str(line["amount"]),
        }
        for line in selectors.lines_of(row)[:MAX_LINES]
    ]
    return out


@router.get(
    "/finance/statements",
    response={200: list[StatementOut], **errors(403)},
    auth=django_auth,
    summary="结算单列表（财务：全部；保险公司、渠道：仅本方）",
)
def list_statements(
    request: HttpRequest,
    party: Query[str] = "",
    party_kind: Query[str] = "",
    period: Query[str] = "",
    status: Query[str] = "",
    overdue: Query[bool] = False,
    limit: Query[int] = 100,
    offset: Query[int] = 0,
) -> list[dict[str, Any]]:
    staff_view = _reader(request)
    limit, offset = max(1, min(limit, 500)), max(0, offset)
    if status and status not in StatementStatus.values:
        raise ValidationFailed(
            "status：取值无效",
            errors=[FieldError("status", "invalid", f"status：应为 {'/'.join(StatementStatus.values)}")],
        )
    filters = selectors.Filters(
        party=party.strip()[:32],
        party_kind=party_kind.strip()[:16],
        period=period.strip()[:8],
        status=status,
        overdue=overdue,
    )
    rows = selectors.statements(request.user, filters, staff_view=staff_view)[offset : offset + limit]
    return [present(r) for r in rows]


@router.get(
    "/finance/statements/{number}",
    response={200: StatementDetailOut, **errors(403, 404)},
    auth=django_auth,
    summary="结算单详情与明细",
)
def get_statement(request: HttpRequest, number: str) -> dict[str, Any]:
    staff_view = _reader(request)
    return _detail(selectors.statement_for(request.user, number, staff_view=staff_view))


def _export(request: HttpRequest, number: str, kind: str) -> HttpResponse:
    staff_view = _reader(request)
    row = selectors.statement_for(request.user, number, staff_view=staff_view)
    if kind == "xlsx":
        body = settlement_exports.excel(row)
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body = settlement_exports.pdf(row)
        content_type = "application/pdf"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{row.number}.{kind}"'
    response["Cache-Control"] = "private, no-store"
    return response


@router.get(
    "/finance/statements/{number}/export.xlsx",
    response={200: None, **errors(403, 404)},
    auth=django_auth,
    summary="导出结算单（Excel：汇总与明细）",
)
def export_xlsx(request: HttpRequest, number: str) -> HttpResponse:
    return _export(request, number, "xlsx")


@router.get(
    "/finance/statements/{number}/export.pdf",
    response={200: None, **errors(403, 404)},
    auth=django_auth,
    summary="导出结算单（PDF，平台电子签章）",
)
def export_pdf(request: HttpRequest, number: str) -> HttpResponse:
    return _export(request, number, "pdf")


class GenerateIn(Schema):
    party_kind: str = Field(description="insurer | sales_unit")
    party: str = Field(description="the insurer's or the sales unit's code", max_length=32)
    period: str = Field(description="2026-11 (monthly) or 2026-Q4 (quarterly)", max_length=8)


@router.post(
    "/finance/statements",
    response={201: StatementDetailOut, 200: StatementDetailOut, **errors(403, 404, 422)},
    auth=django_auth,
    summary="生成结算单（同一对象同一期间幂等：已有则返回已有的）",
)
def generate(request: HttpRequest, data: GenerateIn) -> Status:
    user = _staff(request, CHANGE)
    code = data.party.strip()
    if data.party_kind == PartyKind.INSURER:
        insurer = Insurer.objects.filter(code=code).first()
        if insurer is None:
            raise ValidationFailed(
                "party：保险公司不存在",
                errors=[FieldError("party", "unknown", f"party：没有代码为“{code}”的保险公司")],
            )
        before = SettlementStatement.objects.filter(insurer=insurer).count()
        row = settlement.generate_insurer_statement(insurer, data.period, actor=user)
        after = SettlementStatement.objects.filter(insurer=insurer).count()
    elif data.party_kind == PartyKind.SALES_UNIT:
        unit = SalesUnit.objects.filter(code=code).first()
        if unit is None:
            raise ValidationFailed(
                "party：渠道或代理人不存在",
                errors=[FieldError("party", "unknown", f"party：没有代码为“{code}”的渠道或代理人")],
            )
        before = SettlementStatement.objects.filter(sales_unit=unit).count()
        row = settlement.generate_unit_statement(unit, data.period, actor=user)
        after = SettlementStatement.objects.filter(sales_unit=unit).count()
    else:
        raise ValidationFailed(
            "party_kind：取值无效",
            errors=[FieldError("party_kind", "invalid", "party_kind：应为 insurer 或 sales_unit")],
        )
    return Status(201 if after > before else 200, _detail(row))


class ReasonIn(Schema):
    reason: str = Field(max_length=200)


class PaidIn(Schema):
    bank_reference: str = Field(max_length=64)
    paid_on: datetime.date


def _act(request: HttpRequest, number: str, permission: str) -> tuple[Any, SettlementStatement]:
    user = _staff(request, permission)
    return user, selectors.statement_for(user, number, staff_view=True)


@router.post(
    "/finance/statements/{number}/submit",
    response={200: StatementOut, **errors(403, 404, 409)},
    auth=django_auth,
    summary="提交审批",
)
def submit(request: HttpRequest, number: str) -> dict[str, Any]:
    user, row = _act(request, number, CHANGE)
    return present(settlement.submit(row, actor=user))


@router.post(
    "/finance/statements/{number}/approve",
    response={200: StatementOut, **errors(403, 404, 409)},
    auth=django_auth,
    summary="审批（制单人不能审批；超过限额需两位不同的审批人）",
)
def approve(request: HttpRequest, number: str) -> dict[str, Any]:
    user, row = _act(request, number, APPROVE)
    return present(settlement.approve(row, actor=user))


@router.post(
    "/finance/statements/{number}/return",
    response={200: StatementOut, **errors(403, 404, 409, 422)},
    auth=django_auth,
    summary="退回修改（回到草稿）",
)
def return_to_draft(request: HttpRequest, number: str, data: ReasonIn) -> dict[str, Any]:
    user, row = _act(request, number, APPROVE)
    return present(settlement.return_to_draft(row, actor=user, reason=data.reason))


@router.post(
    "/finance/statements/{number}/paid",
    response={200: StatementOut, **errors(403, 404, 409, 422)},
    auth=django_auth,
    summary="登记付款（记账并标记佣金已结）",
)
def mark_paid(request: HttpRequest, number: str, data: PaidIn) -> dict[str, Any]:
    user, row = _act(request, number, PAY)
    return present(
        settlement.mark_paid(row, actor=user, bank_reference=data.bank_reference, paid_on=data.paid_on)
    )


@router.post(
    "/finance/statements/{number}/void",
    response={200: StatementOut, **errors(403, 404, 409, 422)},
    auth=django_auth,
    summary="作废（释放明细，可重新生成）",
)
def void(request: HttpRequest, number: str, data: ReasonIn) -> dict[str, Any]:
    user, row = _act(request, number, CHANGE)
    return present(settlement.void(row, actor=user, reason=data.reason))
