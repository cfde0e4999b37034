"""A settlement statement as Excel (a summary sheet and a lines sheet; amounts are numbers in
the 0.00 format) and as a signed PDF (the platform's Chinese CID font and document signer, as
the e-policy). The Excel lines are streamed (openpyxl write-only), so a statement of any size
exports in constant memory; the PDF lists the first `PDF_MAX_LINES` lines and says so."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from huibao.esign.pdf import font_name, sign_pdf
from huibao.finance.settlement_models import SettlementStatement
from huibao.finance.settlement_selectors import lines_of
from huibao.finance.settlement_states import LineKind, PartyKind, SettlementMode, StatementStatus

MONEY_FORMAT = "#,##0.00"
PDF_MAX_LINES = 500
SIGN_REASON = "汇保结算单"

KIND_LABELS = dict(LineKind.choices)


def summary_rows(statement: SettlementStatement) -> list[tuple[str, Any]]:
    """The summary both exports print: (label, value), amounts as Decimal."""
    party = "保险公司" if statement.party_kind == PartyKind.INSURER else "渠道/代理人"
    rows: list[tuple[str, Any]] = [
        ("结算单号", statement.number),
        (party, statement.party_name),
        ("结算期间", f"{statement.period_key}（{statement.period_start} 至 {statement.period_end}）"),
        ("结算方式", str(SettlementMode(statement.mode).label)),
        ("状态", str(StatementStatus(statement.status).label)),
        ("应付款日", str(statement.due_on)),
        ("明细笔数", statement.line_count),
    ]
    if statement.party_kind == PartyKind.INSURER:
        rows += [
            ("应付保费", statement.premium_total),
            ("应收手续费", statement.commission_total),
        ]
    else:
        rows += [("应付佣金", statement.commission_total), ("代扣个人所得税", statement.tax_withheld)]
    rows += [
        ("净额（正数为我方应付）", statement.net_amount),
        ("我方应付", statement.payable),
        ("我方应收", statement.receivable),
    ]
    if statement.paid_on:
        rows += [("付款日期", str(statement.paid_on)), ("银行流水号", statement.bank_reference)]
    return rows


def excel(statement: SettlementStatement) -> bytes:
    book = Workbook(write_only=True)
    summary = book.create_sheet("汇总")
    for label, value in summary_rows(statement):
        cell = WriteOnlyCell(summary, value=value)
        if isinstance(value, Decimal):
            cell.number_format = MONEY_FORMAT
        summary.append([label, cell])
    lines = book.create_sheet("明细")
    lines.append(["序号", "类型", "保单号", "日期", "事件", "金额"])
    for index, line in enumerate(lines_of(statement).iterator(chunk_size=2000), start=1):
        amount = WriteOnlyCell(lines, value=line["amount"])
        amount.number_format = MONEY_FORMAT
        lines.append(
            [
                index,
                str(KIND_LABELS.get(line["kind"], line["kind"])),
                line["policy__number"] or "",
                line["occurred_on"],
                line["event"],
                amount,
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _styles() -> tuple[ParagraphStyle, ParagraphStyle, TableStyle]:
    """The body, title and grid styles in the document font (registered on first use)."""
    font = font_name()
    body = ParagraphStyle("settlement-body", fontName=font, fontSize=9.5, leading=13, wordWrap="CJK")
    title = ParagraphStyle("settlement-title", parent=body, fontSize=16, leading=22, alignment=1)
    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
            ("FONTNAME", (0, 0), (-1, -1), font),
            ("FONTSIZE", (0, 0), (-1, -1), 9),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#F2F4F7")),
            ("ALIGN", (-1, 1), (-1, -1), "RIGHT"),
        ]
    )
    return body, title, grid


def _show(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)


def pdf(statement: SettlementStatement) -> bytes:
    """The statement as a PDF signed by the platform (PAdES, as the e-policy)."""
    _BODY, _TITLE, _GRID = _styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"结算单 {statement.number}",
        author="Huibao",
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
    )
    story: list[Any] = [Paragraph(escape(f"结算单 {statement.number}"), _TITLE), Spacer(1, 4 * mm)]
    summary = [
        [Paragraph(escape(k), _BODY), Paragraph(escape(_show(v)), _BODY)] for k, v in summary_rows(statement)
    ]
    story += [Table(summary, colWidths=[doc.width * 0.35, doc.width * 0.65], style=_GRID), Spacer(1, 5 * mm)]
    rows: list[list[str]] = [["类型", "保单号", "日期", "事件", "金额"]]
    shown = 0
    for line in lines_of(statement)[:PDF_MAX_LINES].iterator():
        rows.append(
            [
                str(KIND_LABELS.get(line["kind"], line["kind"])),
                line["policy__number"] or "",
                str(line["occurred_on"]),
                line["event"],
                _show(line["amount"]),
            ]
        )
        shown += 1
    widths = [doc.width * w for w in (0.18, 0.34, 0.16, 0.14, 0.18)]
    story.append(Table(rows, colWidths=widths, style=_GRID, repeatRows=1))
    if statement.line_count > shown:
        story += [
            Spacer(1, 3 * mm),
            Paragraph(
                escape(f"共{statement.line_count}笔明细，此处列出前{shown}笔；完整明细见 Excel 导出。"), _BODY
            ),
        ]
    doc.build(story)
    return sign_pdf(buffer.getvalue(), reason=SIGN_REASON)
