"""Reconciliation: import, match, resolve, close — against the database."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from huibao.core.errors import Conflict, InvalidTransition, ValidationFailed
from huibao.core.models import AuditEntry
from huibao.finance import accounts, ledger
from huibao.finance import reconciliation as recon
from huibao.finance.models import (
    CommissionEntry,
    CommissionEvent,
    Reconciliation,
    ReconciliationItem,
    StatementLine,
    StatementMapping,
)
from huibao.finance.reconciliation_models import ItemCategory, ItemStatus, ReconciliationStatus
from huibao.finance.tests import reconciliation_factories as f

pytestmark = pytest.mark.django_db

D = "2026-11-12"


@pytest.fixture
def books():
    """Our side for one insurer in November: five policies with premium and commission."""
    ins = f.insurer(code="picc-test", short_name="人保测试")
    policies = {}
    for name, premium, commission in (
        ("same", "1000.00", "150.00"),
        ("rounding", "333.33", "50.00"),
        ("rate", "2000.00", "300.00"),
        ("missing", "500.00", "75.00"),
        ("cancelled", "800.00", "120.00"),
    ):
        p = f.policy(ins, number=f"PICC-{name.upper()}")
        f.book_premium(p, premium)
        f.commission(p, commission)
        policies[name] = p
    # The cancelled one was refunded and its commission clawed back in the same month.
    f.book_premium(policies["cancelled"], "-800.00", on=datetime.date(2026, 11, 20))
    f.commission(
        policies["cancelled"], "-120.00", on=datetime.date(2026, 11, 20), event=CommissionEvent.CANCELLATION
    )
    return ins, policies


def statement() -> bytes:
    return f.csv_bytes(
        [
            ["PICC-SAME", "1,000.00", "150.00", D, "承保"],
            ["PICC-ROUNDING", "333.34", "50.00", D, "承保"],
            ["PICC-RATE", "2000.00", "¥280.00", D, "承保"],
            ["PICC-CANCELLED", "800.00", "120.00", D, "承保"],
            ["PICC-NEVER", "600.00", "(90.00)", D, "承保"],
        ]
    )


def do_import(ins, data: bytes, *, name: str = "statement.csv", **kwargs):
    return recon.import_statement(recon.Party.of_insurer(ins), f.PERIOD, name, io.BytesIO(data), **kwargs)


def by_number(rec: Reconciliation) -> dict[str, ReconciliationItem]:
    return {i.policy_number: i for i in rec.items.all()}


def test_every_kind_of_difference_is_found_with_both_amounts(books):
    # given
    ins, _ = books
    # when
    rec = do_import(ins, statement())
    # then
    items = by_number(rec)
    assert items["PICC-SAME"].category == ItemCategory.MATCHED
    assert items["PICC-SAME"].status == ItemStatus.MATCHED
    rounding = items["PICC-ROUNDING"]
    assert rounding.category == ItemCategory.AMOUNT_DIFFERS
    assert (rounding.our_premium, rounding.their_premium) == (Decimal("333.33"), Decimal("333.34"))
    rate = items["PICC-RATE"]
    assert rate.category == ItemCategory.AMOUNT_DIFFERS
    assert (rate.our_commission, rate.their_commission) == (Decimal("300.00"), Decimal("280.00"))
    assert items["PICC-MISSING"].category == ItemCategory.OURS_ONLY
    assert items["PICC-MISSING"].their_commission is None
    cancelled = items["PICC-CANCELLED"]
    assert cancelled.category == ItemCategory.AMOUNT_DIFFERS
    assert (cancelled.our_premium, cancelled.their_premium) == (Decimal("0.00"), Decimal("800.00"))
    never = items["PICC-NEVER"]
    assert never.category == ItemCategory.THEIRS_ONLY
    assert never.policy_id is None and never.their_commission == Decimal("-90.00")
    assert all(i.status == ItemStatus.OPEN for n, i in items.items() if n != "PICC-SAME")
    assert rec.lines == 5 and StatementLine.objects.filter(reconciliation=rec).count() == 5


def test_totals_per_category(books):
    ins, _ = books
    rec = do_import(ins, statement())
    totals = {t.category: t for t in recon.totals(rec)}
    assert totals["matched"].count == 1
    differs = totals["amount_differs"]
    assert differs.count == 3 and differs.open == 3
    assert differs.their_premium == Decimal("3133.34") and differs.our_premium == Decimal("2333.33")
    # theirs 50 + 280 + 120 (the cancelled one), ours 50 + 300 + 0
    assert differs.commission_difference == Decimal("100.00")
    assert totals["ours_only"].our_commission == Decimal("75.00")
    assert totals["theirs_only"].their_premium == Decimal("600.00")


def test_tolerance_absorbs_a_rounding_fen(books):
    ins, _ = books
    rec = do_import(ins, statement(), tolerance=Decimal("0.01"))
    assert by_number(rec)["PICC-ROUNDING"].category == ItemCategory.MATCHED
    with pytest.raises(ValidationFailed) as exc:
        do_import(f.insurer(), statement(), tolerance=Decimal("-1"))
    assert exc.value.errors[0].field == "tolerance"


def _refused(ins, data: bytes, **kwargs) -> list:
    with pytest.raises(ValidationFailed) as exc:
        do_import(ins, data, **kwargs)
    assert Reconciliation.objects.count() == 0
    assert StatementLine.objects.count() == 0
    assert ReconciliationItem.objects.count() == 0
    return [(e.field, e.code) for e in exc.value.errors], exc.value


def test_a_missing_column_is_named_and_nothing_imported(books):
    ins, _ = books
    data = f.csv_bytes([["PICC-SAME", "1000.00", D]], header=["保单号", "保费", "日期"])
    errors, exc = _refused(ins, data)
    assert errors == [("line[1].commission", "missing_column"), ("line[1].event", "missing_column")]
    assert "手续费" in exc.errors[0].message


def test_bad_lines_are_each_reported_by_line_and_nothing_imported(books):
    ins, _ = books
    data = f.csv_bytes(
        [
            ["PICC-SAME", "1000.00", "150.00", D, "承保"],
            ["PICC-RATE", "1.000,00", "300.00", D, "承保"],  # line 3: a wrong number format
            ["PICC-ROUNDING", "333.33", "50.00", "2026-10-31", "承保"],  # line 4: not in November
            ["PICC-SAME", "1000.00", "150.00", D, "承保"],  # line 5: duplicate of line 2
            ["", "1.00", "1.00", D, "承保"],  # line 6: no policy number
            ["PICC-MISSING", "500.00", "75.00", "下周", "承保"],  # line 7: not a date
        ]
    )
    errors, exc = _refused(ins, data)
    assert errors == [
        ("line[3].premium", "invalid_amount"),
        ("line[4].date", "out_of_period"),
        ("line[5].policy_number", "duplicate"),
        ("line[6].policy_number", "required"),
        ("line[7].date", "invalid_date"),
    ]
    assert "第2行" in exc.errors[2].message
    assert exc.code == "statement_invalid"


def test_gbk_csv_and_parenthesised_negatives(books):
    ins, _ = books
    rec = do_import(
        ins, f.csv_bytes([["PICC-SAME", "￥1,000.00", "150.00", "2026/11/12", "承保"]], encoding="gbk")
    )
    item = by_number(rec)["PICC-SAME"]
    assert item.category == ItemCategory.MATCHED


def test_xlsx_with_title_rows_and_a_saved_mapping_reused_next_month(books):
    # given: an insurer whose file has two title rows and its own column names
    ins, policies = books
    header = ["PolicyNo", "Prem", "Comm", "BizDate"]
    spec = recon.MappingSpec(
        columns={"policy_number": "PolicyNo", "premium": "Prem", "commission": "Comm", "date": "BizDate"},
        header_row=3,
    )
    data = f.xlsx_bytes(
        [["PICC-SAME", 1000, 150.0, datetime.date(2026, 11, 12)]], header=header, title_rows=2
    )
    # when
    rec = do_import(ins, data, name="nov.xlsx", spec=spec)
    # then
    assert by_number(rec)["PICC-SAME"].category == ItemCategory.MATCHED
    saved = StatementMapping.objects.get(insurer=ins)
    assert saved.header_row == 3 and saved.columns["commission"] == "Comm"
    # and December's file is read with the saved mapping, nothing given
    f.commission(policies["same"], "10.00", on=datetime.date(2026, 12, 3))
    december = f.xlsx_bytes([["PICC-SAME", 0, 10, "2026-12-03"]], header=header, title_rows=2)
    rec2 = recon.import_statement(
        recon.Party.of_insurer(ins),
        (datetime.date(2026, 12, 1), datetime.date(2026, 12, 31)),
        "dec.xlsx",
        io.BytesIO(december),
    )
    assert by_number(rec2)["PICC-SAME"].category == ItemCategory.MATCHED


def test_the_same_month_is_imported_once(books):
    ins, _ = books
    do_import(ins, statement())
    with pytest.raises(Conflict):
        do_import(ins, statement())
    assert Reconciliation.objects.count() == 1


def test_adjusting_a_commission_difference_posts_the_ledger_and_is_audited(books, django_user_model):
    # given
    ins, policies = books
    clerk = django_user_model.objects.create_user(username="clerk", password="x")
    rec = do_import(ins, statement())
    rate = by_number(rec)["PICC-RATE"]
    receivable_before = ledger.balance(accounts.commission_receivable(ins))
    # when
    recon.resolve(rate.pk, recon.Action.ADJUST, "保险公司按14%结算，已确认", actor=clerk)
    # then
    rate.refresh_from_db()
    assert rate.status == ItemStatus.ADJUSTED and rate.resolved_by == clerk and rate.resolved_at
    entry = CommissionEntry.objects.get(event=CommissionEvent.ADJUSTMENT)
    assert entry.amount == Decimal("-20.00") and entry.policy == policies["rate"]
    assert ledger.balance(accounts.commission_receivable(ins)) == receivable_before - Decimal("20.00")
    assert ledger.balance(accounts.commission_income()) == Decimal("-18.87")
    assert ledger.balance(accounts.vat_payable()) == Decimal("-1.13")
    audit = AuditEntry.objects.get(action="finance.reconciliation.adjust")
    assert audit.actor_id == clerk.pk and audit.after["reason"] == "保险公司按14%结算，已确认"


def test_adjusting_a_premium_difference_posts_premium_payable(books):
    ins, _ = books
    rec = do_import(ins, statement())
    before = ledger.balance(accounts.premium_payable(ins))
    recon.resolve(by_number(rec)["PICC-ROUNDING"].pk, recon.Action.ADJUST, "保费尾差", actor=None)
    assert ledger.balance(accounts.premium_payable(ins)) == before + Decimal("0.01")
    assert ledger.balance(accounts.reconciliation_differences()) == Decimal("0.01")


def test_close_is_refused_while_anything_is_open_then_final(books):
    ins, _ = books
    rec = do_import(ins, statement())
    with pytest.raises(Conflict) as exc:
        recon.close(rec.pk, actor=None)
    assert exc.value.code == "differences_open"
    items = by_number(rec)
    recon.resolve(items["PICC-ROUNDING"].pk, recon.Action.OURS_RIGHT, "尾差，以我方为准", actor=None)
    recon.resolve(items["PICC-RATE"].pk, recon.Action.DISPUTE, "费率应为15%", actor=None)
    recon.resolve(items["PICC-MISSING"].pk, recon.Action.DISPUTE, "对方漏列保单", actor=None)
    recon.resolve(items["PICC-CANCELLED"].pk, recon.Action.DISPUTE, "已于11月20日退保", actor=None)
    with pytest.raises(Conflict):
        recon.close(rec.pk, actor=None)
    recon.resolve(items["PICC-NEVER"].pk, recon.Action.ACCEPT_THEIRS, "核实为线下出单", actor=None)
    closed = recon.close(rec.pk, actor=None)
    assert closed.status == ReconciliationStatus.CLOSED and closed.closed_at
    # closed is final: no resolution, no second close
    with pytest.raises(Conflict):
        recon.resolve(items["PICC-RATE"].pk, recon.Action.ADJUST, "改主意", actor=None)
    with pytest.raises(InvalidTransition):
        recon.close(rec.pk, actor=None)
    # the disputes go back to the insurer as a workbook
    sheet = load_workbook(io.BytesIO(recon.disputes_workbook(closed)), read_only=True).worksheets[0]
    numbers = [row[0] for row in sheet.iter_rows(min_row=3, values_only=True)]
    assert numbers == ["PICC-CANCELLED", "PICC-MISSING", "PICC-RATE"]


def test_a_resolution_needs_a_reason_and_a_known_action(books):
    ins, _ = books
    rec = do_import(ins, statement())
    item = by_number(rec)["PICC-RATE"]
    with pytest.raises(ValidationFailed) as exc:
        recon.resolve(item.pk, recon.Action.ADJUST, " ", actor=None)
    assert exc.value.errors[0].field == "reason"
    with pytest.raises(ValidationFailed):
        recon.resolve(item.pk, "shrug", "x", actor=None)
    with pytest.raises(InvalidTransition):
        recon.resolve(by_number(rec)["PICC-SAME"].pk, recon.Action.ADJUST, "x", actor=None)
    item.refresh_from_db()
    assert item.status == ItemStatus.OPEN and CommissionEntry.objects.filter(event="adjustment").count() == 0


def test_channel_reconciliation_compares_outbound_commission(books):
    # given: a channel sold two of the policies; its statement claims more on one, and one we never paid
    _ins, policies = books
    unit = f.channel()
    f.commission(policies["same"], "80.00", unit=unit)
    f.commission(policies["rate"], "160.00", unit=unit)
    data = f.csv_bytes(
        [["PICC-SAME", "", "80.00", D], ["PICC-RATE", "", "170.00", D], ["PICC-NEVER", "", "5.00", D]],
        header=["保单号", "保费", "佣金", "日期"],
    )
    spec = recon.MappingSpec(columns={"policy_number": "保单号", "commission": "佣金", "date": "日期"})
    # when
    rec = recon.import_statement(
        recon.Party.of_channel(unit), f.PERIOD, "ch.csv", io.BytesIO(data), spec=spec
    )
    # then
    items = by_number(rec)
    assert items["PICC-SAME"].category == ItemCategory.MATCHED
    assert items["PICC-RATE"].category == ItemCategory.AMOUNT_DIFFERS
    assert items["PICC-RATE"].our_premium is None
    assert items["PICC-NEVER"].category == ItemCategory.THEIRS_ONLY
    # and adjusting pays the channel the difference
    recon.resolve(items["PICC-RATE"].pk, recon.Action.ADJUST, "渠道加佣活动", actor=None)
    assert ledger.balance(accounts.commission_payable(unit)) == Decimal("10.00")
    entry = CommissionEntry.objects.get(event=CommissionEvent.ADJUSTMENT)
    assert entry.sales_unit == unit and entry.direction == "outbound" and entry.amount == Decimal("10.00")


# --- late postings and a corrected statement -------------------------------------------------------


def test_a_late_posting_is_matched_again_and_resolved_items_are_kept(books, django_user_model):
    # given: the month imported; the rate difference resolved; then the missing policy's
    # commission is corrected in our books (a late posting) and the insurer's line for it was sent
    ins, policies = books
    clerk = django_user_model.objects.create_user(username="clerk2", password="x")
    rec = do_import(ins, statement())
    rate = by_number(rec)["PICC-RATE"]
    recon.resolve(rate.pk, recon.Action.DISPUTE, "费率有争议", actor=clerk)
    f.book_premium(policies["rounding"], "0.01")  # our side now says 333.34 too
    # when
    recon.rematch(rec.pk, actor=clerk)
    # then: the rounding difference is gone; the disputed item is untouched; one item per policy
    items = by_number(rec)
    assert items["PICC-ROUNDING"].category == ItemCategory.MATCHED
    assert items["PICC-ROUNDING"].status == ItemStatus.MATCHED
    kept = items["PICC-RATE"]
    assert kept.pk == rate.pk and kept.status == ItemStatus.DISPUTED and kept.reason == "费率有争议"
    assert ReconciliationItem.objects.filter(reconciliation=rec).count() == len(items) == 6
    audit = AuditEntry.objects.get(action="finance.reconciliation.rematch")
    assert audit.before["items"]["amount_differs"] == 3 and audit.after["items"]["amount_differs"] == 2


def test_a_corrected_statement_replaces_the_month(books):
    # given
    ins, _ = books
    rec = do_import(ins, statement())
    corrected = f.csv_bytes(
        [
            ["PICC-SAME", "1,000.00", "150.00", D, "承保"],
            ["PICC-ROUNDING", "333.33", "50.00", D, "承保"],
            ["PICC-RATE", "2000.00", "300.00", D, "承保"],
            ["PICC-MISSING", "500.00", "75.00", D, "承保"],
        ]
    )
    # when
    recon.replace_statement(rec.pk, "corrected.csv", io.BytesIO(corrected), actor=None)
    # then: the new file's lines and items only
    rec.refresh_from_db()
    assert rec.lines == 4 and rec.file_name == "corrected.csv"
    assert StatementLine.objects.filter(reconciliation=rec).count() == 4
    items = by_number(rec)
    assert {n for n, i in items.items() if i.category == ItemCategory.MATCHED} == {
        "PICC-SAME",
        "PICC-ROUNDING",
        "PICC-RATE",
        "PICC-MISSING",
    }
    assert items["PICC-CANCELLED"].category == ItemCategory.OURS_ONLY and "PICC-NEVER" not in items
    replaced = AuditEntry.objects.get(action="finance.reconciliation.replace")
    assert replaced.before["lines"] == 5 and replaced.after["lines"] == 4


def test_a_bad_corrected_statement_keeps_the_old_one(books):
    ins, _ = books
    rec = do_import(ins, statement())
    before = (rec.file_sha256, sorted(by_number(rec)))
    bad = f.csv_bytes([["PICC-SAME", "one thousand", "150.00", D, "承保"]])
    with pytest.raises(ValidationFailed) as refused:
        recon.replace_statement(rec.pk, "bad.csv", io.BytesIO(bad), actor=None)
    assert refused.value.errors[0].field == "line[2].premium"
    rec.refresh_from_db()
    assert (rec.file_sha256, sorted(by_number(rec))) == before
    assert StatementLine.objects.filter(reconciliation=rec).count() == 5


def test_no_replacement_once_a_difference_is_resolved_nor_after_closing(books):
    ins, _ = books
    rec = do_import(ins, statement())
    recon.resolve(by_number(rec)["PICC-RATE"].pk, recon.Action.ACCEPT_THEIRS, "按对方", actor=None)
    with pytest.raises(Conflict) as resolved:
        recon.replace_statement(rec.pk, "again.csv", io.BytesIO(statement()), actor=None)
    assert resolved.value.code == "differences_resolved"
    for item in rec.items.filter(status=ItemStatus.OPEN):
        recon.resolve(item.pk, recon.Action.OURS_RIGHT, "以我方为准", actor=None)
    recon.close(rec.pk, actor=None)
    with pytest.raises(Conflict) as closed:
        recon.rematch(rec.pk, actor=None)
    assert closed.value.code == "reconciliation_closed"
