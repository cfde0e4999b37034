"""The ledger's back-office pages (/finance/ledger/…, /finance/ageing/): the trial balance on a
date, an account's statement, a transaction with its lines and its reversal, and the ageing of
receivables and payables with its Excel export. Finance staff (the `finance` role)."""

from __future__ import annotations

import datetime
import io
import uuid
from typing import Any

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from huibao.account.access import staff_required
from huibao.finance import ageing as ageing_reads
from huibao.finance import ledger
from huibao.finance.models import JournalTransaction, LedgerAccount

VIEW_LEDGER = "finance.view_journaltransaction"
REVERSE = "finance.add_journaltransaction"  # a reversal is a new transaction
VIEW_AGEING = "finance.view_journalline"
REASON_MAX = 200


def _date(request: HttpRequest, name: str, errors: list[dict[str, str]]) -> datetime.date | None:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError:
        errors.append({"field": name, "code": "invalid_date", "message": _("日期格式应为 YYYY-MM-DD")})
        return None


@never_cache
@require_GET
@staff_required(permission=VIEW_LEDGER)
def trial_balance(request: HttpRequest) -> HttpResponse:
    errors: list[dict[str, str]] = []
    on = _date(request, "on", errors) or timezone.localdate()
    tb = ledger.trial_balance(on=on)
    return render(
        request,
        "finance/ledger/trial_balance.html",
        {"tb": tb, "on": on, "errors": errors},
        status=422 if errors else 200,
    )


@never_cache
@require_GET
@staff_required(permission=VIEW_LEDGER)
def account_statement(request: HttpRequest, pk: int) -> HttpResponse:
    acc = LedgerAccount.objects.filter(pk=pk).first()
    if acc is None:
        raise Http404
    errors: list[dict[str, str]] = []
    since = _date(request, "since", errors)
    until = _date(request, "until", errors)
    if since and until and since > until:
        errors.append({"field": "since", "code": "range", "message": _("开始日期不能晚于结束日期")})
        since = until = None
    st = ledger.statement(acc, since=since, until=until)
    return render(
        request,
        "finance/ledger/statement.html",
        {"st": st, "account": acc, "errors": errors},
        status=422 if errors else 200,
    )


def _transaction(public_id: uuid.UUID) -> JournalTransaction:
    txn = JournalTransaction.objects.select_related("reverses", "actor").filter(public_id=public_id).first()
    if txn is None:
        raise Http404
    return txn


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(permission=VIEW_LEDGER)
def transaction_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    txn = _transaction(public_id)
    errors: list[dict[str, str]] = []
    reason = ""
    if request.method == "POST":
        if not request.user.has_perm(REVERSE):
            return HttpResponse(status=403)
        reason = request.POST.get("reason", "").strip()
        if not reason:
            errors.append({"field": "reason", "code": "required", "message": _("请填写冲销原因")})
        elif len(reason) > REASON_MAX:
            errors.append({"field": "reason", "code": "too_long", "message": _("冲销原因不超过200字")})
        elif txn.reverses_id is not None:
            errors.append({"field": "reason", "code": "is_reversal", "message": _("冲销凭证不能再冲销")})
        elif JournalTransaction.objects.filter(reverses=txn).exists():
            errors.append({"field": "reason", "code": "already_reversed", "message": _("该凭证已冲销")})
        if not errors:
            with transaction.atomic():
                rev = ledger.reverse(txn, on=timezone.localdate(), reason=reason, actor=request.user)
            return redirect(reverse("finance:transaction", args=[rev.public_id]))
    reversal = JournalTransaction.objects.filter(reverses=txn).first()
    lines = list(txn.lines.select_related("account", "policy").order_by("id"))
    context: dict[str, Any] = {
        "txn": txn,
        "lines": lines,
        "reversal": reversal,
        "can_reverse": request.user.has_perm(REVERSE) and txn.reverses_id is None and reversal is None,
        "errors": errors,
        "reason": reason,
    }
    return render(request, "finance/ledger/transaction.html", context, status=422 if errors else 200)


SIDES = {"receivable": gettext_lazy("应收"), "payable": gettext_lazy("应付")}


def _xlsx(rows: list[ageing_reads.AgeingRow], on: datetime.date) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=_("账龄"))
    labels = [b[0] for b in ageing_reads.BUCKETS]
    ws.append([_("截至日期"), on.isoformat()])
    days = _("天")
    heads = [f"{label}{days}" for label in labels]
    ws.append([_("科目代码"), _("科目"), _("应收/应付"), *heads, _("未核销"), _("合计"), _("最早未清日期")])
    for row in rows:
        ws.append(
            [
                row.account.code,
                row.account.name,
                str(SIDES[row.side]),
                *[row.buckets[label] for label in labels],
                row.unapplied,
                row.total,
                row.oldest.isoformat() if row.oldest else "",
            ]
        )
    total = ageing_reads.totals(rows)
    ws.append(
        [_("合计"), "", "", *[total[label] for label in labels], total["unapplied"], total["total"], ""]
    )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@never_cache
@require_GET
@staff_required(permission=VIEW_AGEING)
def ageing(request: HttpRequest) -> HttpResponse:
    errors: list[dict[str, str]] = []
    on = _date(request, "on", errors) or timezone.localdate()
    party = request.GET.get("party", "")
    if party not in ("", "insurer", "sales_unit"):
        errors.append(
            {"field": "party", "code": "invalid_choice", "message": _("对象类型只能是保险公司或渠道/代理人")}
        )
        party = ""
    rows = ageing_reads.ageing(on=on, party_kind=party)
    if request.GET.get("format") == "xlsx" and not errors:
        response = HttpResponse(
            _xlsx(rows, on),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="ageing-{on.isoformat()}.xlsx"'
        return response
    labels = [b[0] for b in ageing_reads.BUCKETS]
    shown = [
        {"row": r, "side": SIDES[r.side], "amounts": [r.buckets[label] for label in labels]} for r in rows
    ]
    total = ageing_reads.totals(rows)
    context = {
        "rows": shown,
        "labels": labels,
        "total": total,
        "total_amounts": [total[label] for label in labels],
        "on": on,
        "party": party,
        "errors": errors,
    }
    return render(request, "finance/ledger/ageing.html", context, status=422 if errors else 200)


urlpatterns = [
    path("ledger/", trial_balance, name="trial_balance"),
    path("ledger/accounts/<int:pk>/", account_statement, name="account_statement"),
    path("ledger/transactions/<uuid:public_id>/", transaction_detail, name="transaction"),
    path("ageing/", ageing, name="ageing"),
]
