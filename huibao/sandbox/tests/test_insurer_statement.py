"""The sandbox insurer's statement: made from our books with each realistic difference, readable
by the reconciliation import in both formats, and the demo's month loaded once."""

from __future__ import annotations

import datetime
import io
from collections import Counter
from decimal import Decimal

import pytest

from huibao.finance import reconciliation as recon
from huibao.finance.models import CommissionEvent, Reconciliation
from huibao.finance.tests import reconciliation_factories as f
from huibao.sandbox import insurer_statement as sis

pytestmark = pytest.mark.django_db


@pytest.fixture
def books():
    ins = f.insurer(code="ccic-test", short_name="大地测试")
    for n in range(1, 9):
        p = f.policy(ins, number=f"CCIC-{n:02d}")
        premium = Decimal(100 * n) + Decimal("0.50")
        f.book_premium(p, str(premium))
        f.commission(p, str((premium * Decimal("0.15")).quantize(Decimal("0.01"))))
    cancelled = ins.policies.get(number="CCIC-08")
    f.book_premium(cancelled, "-800.50", on=datetime.date(2026, 11, 25))
    f.commission(cancelled, "-120.08", on=datetime.date(2026, 11, 25), event=CommissionEvent.CANCELLATION)
    return ins


def test_the_statement_carries_each_kind_of_difference(books):
    lines = sis.statement_lines(books, f.PERIOD)
    notes = Counter(line.note for line in lines)
    assert notes == Counter(
        {"": 3, "rounding": 2, "other_rate": 1, "cancelled_still_listed": 1, "never_issued": 1}
    )
    assert len(lines) == 8  # eight policies, one left out, one we never issued
    cancelled = next(line for line in lines if line.note == "cancelled_still_listed")
    assert cancelled.policy_number == "CCIC-08" and cancelled.premium == Decimal("800.50")


@pytest.mark.parametrize(("fmt", "spec"), [("csv", sis.MAPPING), ("xlsx", sis.XLSX_MAPPING)])
def test_both_formats_import_and_show_the_differences(books, fmt, spec):
    data = sis.statement_file(books, "2026-11", fmt)
    if fmt == "csv":
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")  # GBK, as insurers send it
    rec = recon.import_statement(
        recon.Party.of_insurer(books), f.PERIOD, f"s.{fmt}", io.BytesIO(data), spec=spec
    )
    counts = {t.category: t.count for t in recon.totals(rec)}
    assert counts == {"matched": 3, "amount_differs": 4, "ours_only": 1, "theirs_only": 1}


def test_the_demo_month_is_loaded_once_with_open_differences(books):
    rec = sis.load_demo_reconciliation(today=datetime.date(2026, 12, 3))
    assert rec is not None and rec.month == "2026-11"
    counts = {t.category: (t.count, t.open) for t in recon.totals(rec)}
    assert counts["theirs_only"] == (1, 1) and counts["ours_only"] == (1, 1)
    assert counts["amount_differs"][1] >= 4
    assert sis.load_demo_reconciliation(today=datetime.date(2026, 12, 3)) == rec
    assert Reconciliation.objects.count() == 1
