"""A sales report as an Excel workbook (openpyxl): three sheets — per period, per group value,
per period × group value — numbers as numbers (amounts with two decimals), so the file sums."""

from __future__ import annotations

from io import BytesIO

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from huibao.report import rules
from huibao.report.rules import Row
from huibao.report.selectors import Report

MONEY_FORMAT = "#,##0.00"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _headers() -> list[str]:
    return [
        _("出单件数"),
        _("保费（元）"),
        _("应收手续费（元）"),
        _("应付佣金（元）"),
        _("毛利（元）"),
        _("退保件数"),
        _("退费（元）"),
    ]


def _figures(row: Row) -> list[object]:
    f = row.figures
    return [f.policies, f.premium, f.commission_in, f.commission_out, f.margin, f.cancellations, f.refunds]


def _sheet(ws: Worksheet, lead: list[str], rows: list[list[object]]) -> None:
    ws.append([*lead, *_headers()])
    for values in rows:
        ws.append(values)
    money_columns = [len(lead) + i for i in (2, 3, 4, 5, 7)]  # 1-based
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if cell.column in money_columns:
                cell.number_format = MONEY_FORMAT
    ws.freeze_panes = "A2"


def workbook(report: Report) -> bytes:
    wb = Workbook()
    by_period = wb.active
    assert by_period is not None
    by_period.title = _("按期间")
    _sheet(
        by_period,
        [_("期间"), _("起始日")],
        [
            [rules.label(report.period, r.period), r.period, *_figures(r)]
            for r in report.by_period
            if r.period
        ],
    )
    by_key = wb.create_sheet(_("按分组"))
    _sheet(by_key, [_("代码"), _("名称")], [[r.key, r.name, *_figures(r)] for r in report.by_key])
    detail = wb.create_sheet(_("明细"))
    _sheet(
        detail,
        [_("期间"), _("代码"), _("名称")],
        [
            [rules.label(report.period, r.period), r.key, r.name, *_figures(r)]
            for r in report.rows
            if r.period
        ],
    )
    total = wb.create_sheet(_("合计"))
    _sheet(
        total,
        [_("起始日"), _("截止日（不含）")],
        [[report.since, report.until, *_figures(Row(None, "", "", report.total))]],
    )
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
