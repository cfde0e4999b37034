"""Settlement's pure rules, table-driven: periods, statement totals per settlement mode, who may
approve, and the tax withheld from agents' commission."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from huibao.finance import settlement_rules as rules

D = Decimal


@pytest.mark.parametrize(
    ("mode", "premium", "commission", "net", "payable", "receivable", "approval", "premium_shown"),
    [
        # net (轧差): one payment of premium − commission
        (rules.NET, "10000.00", "1500.00", "8500.00", "8500.00", "0.00", "8500.00", "10000.00"),
        # net, commission above premium (a month of refunds): the insurer pays the difference
        (rules.NET, "1000.00", "1500.00", "-500.00", "0.00", "500.00", "500.00", "1000.00"),
        # gross: both amounts move in full
        (rules.GROSS, "10000.00", "1500.00", "8500.00", "10000.00", "1500.00", "10000.00", "10000.00"),
        # the insurer collected the premium: only the commission, which the insurer pays
        (rules.COMMISSION_ONLY, "10000.00", "1500.00", "-1500.00", "0.00", "1500.00", "1500.00", "0.00"),
        # rounding to the fen at the one point, half up
        (rules.NET, "100.005", "0.004", "100.01", "100.01", "0.00", "100.01", "100.01"),
    ],
)
def test_insurer_totals_per_mode(
    mode, premium, commission, net, payable, receivable, approval, premium_shown
):
    totals = rules.insurer_totals(mode, D(premium), D(commission))
    assert (totals.net, totals.payable, totals.receivable, totals.approval_amount) == (
        D(net),
        D(payable),
        D(receivable),
        D(approval),
    )
    assert totals.premium == D(premium_shown)


@pytest.mark.parametrize(
    ("collector", "net_settlement", "mode"),
    [("agency", True, rules.NET), ("agency", False, rules.GROSS), ("insurer", True, rules.COMMISSION_ONLY)],
)
def test_the_mode_follows_the_agreement(collector, net_settlement, mode):
    assert rules.insurer_mode(premium_collector=collector, net_settlement=net_settlement) == mode


@pytest.mark.parametrize(
    ("income", "tax", "taxable"),
    [
        ("700.00", "0.00", "0.00"),  # below the 800 deduction
        ("800.00", "0.00", "0.00"),
        ("3000.00", "440.00", "2200.00"),  # (3000 − 800) × 20%
        ("4000.00", "640.00", "3200.00"),  # the last amount with the fixed 800 deduction
        ("4000.01", "640.00", "3200.01"),  # × 80% from here: 3200.008 → 3200.01, × 20% = 640.002
        ("10000.00", "1600.00", "8000.00"),
        ("25000.00", "4000.00", "20000.00"),  # the top of the 20% band
        ("30000.00", "5200.00", "24000.00"),  # 24000 × 30% − 2000
        ("80000.00", "18600.00", "64000.00"),  # 64000 × 40% − 7000
        ("-500.00", "0.00", "0.00"),  # a clawback month withholds nothing
    ],
)
def test_labour_remuneration_withholding(income, tax, taxable):
    result = rules.withholding_tax(D(income), method=rules.WITHHOLDING_LABOUR)
    assert result.tax == D(tax)
    assert result.taxable == D(taxable)


@pytest.mark.parametrize(
    ("method", "income", "rate", "tax"),
    [
        (rules.WITHHOLDING_FLAT, "1234.56", "0.20", "246.91"),
        (rules.WITHHOLDING_FLAT, "1234.58", "0.20", "246.92"),  # 246.916 half up
        (rules.WITHHOLDING_NONE, "50000.00", "0.20", "0.00"),
    ],
)
def test_flat_and_no_withholding(method, income, rate, tax):
    assert rules.withholding_tax(D(income), method=method, flat_rate=D(rate)).tax == D(tax)


def test_an_unknown_withholding_method_is_refused():
    with pytest.raises(rules.RuleError) as caught:
        rules.withholding_tax(D("1"), method="progressive")
    assert caught.value.field == "withholding"


def test_outbound_totals_pay_the_commission_less_the_tax():
    totals = rules.outbound_totals(D("10000.00"), D("1600.00"))
    assert (totals.net, totals.payable, totals.approval_amount) == (D("8400.00"), D("8400.00"), D("10000.00"))


@pytest.mark.parametrize(
    ("text", "kind", "start", "end", "key"),
    [
        ("2026-11", rules.MONTHLY, datetime.date(2026, 11, 1), datetime.date(2026, 11, 30), "2026-11"),
        ("2028-02", rules.MONTHLY, datetime.date(2028, 2, 1), datetime.date(2028, 2, 29), "2028-02"),
        ("2026-Q4", rules.QUARTERLY, datetime.date(2026, 10, 1), datetime.date(2026, 12, 31), "2026-Q4"),
        ("2026-11", rules.QUARTERLY, datetime.date(2026, 10, 1), datetime.date(2026, 12, 31), "2026-Q4"),
    ],
)
def test_periods(text, kind, start, end, key):
    period = rules.parse_period(text, kind)
    assert (period.start, period.end, period.key) == (start, end, key)
    assert period.next().start == end + datetime.timedelta(days=1)


@pytest.mark.parametrize("text", ["2026-13", "2026/11", "", "2026-Q5", "11-2026"])
def test_a_malformed_period_names_the_field(text):
    with pytest.raises(rules.RuleError) as caught:
        rules.parse_period(text, rules.MONTHLY)
    assert caught.value.field == "period"


def test_a_quarter_for_a_monthly_party_is_refused():
    with pytest.raises(rules.RuleError):
        rules.parse_period("2026-Q4", rules.MONTHLY)


def test_due_date_and_overdue():
    period = rules.parse_period("2026-11", rules.MONTHLY)
    due = rules.due_on(period, 15)
    assert due == datetime.date(2026, 12, 15)
    assert not rules.is_overdue(due, datetime.date(2026, 12, 15))
    assert rules.is_overdue(due, datetime.date(2026, 12, 16))


@pytest.mark.parametrize(
    ("amount", "needed"),
    [("99999.99", 1), ("100000.00", 1), ("100000.01", 2), ("-150000.00", 2)],
)
def test_four_eyes_above_the_threshold(amount, needed):
    assert rules.approvals_needed(D(amount), D("100000.00")) == needed


@pytest.mark.parametrize(
    ("approver", "preparers", "approved_by", "needed", "allowed", "code", "complete"),
    [
        (1, {1}, (), 1, False, "own_statement", False),  # the preparer never approves
        (2, {1}, (), 1, True, "", True),
        (2, {1}, (), 2, True, "", False),  # first of two
        (2, {1}, (2,), 2, False, "second_approver_required", False),  # the same person twice
        (3, {1}, (2,), 2, True, "", True),
        (1, {1}, (2,), 2, False, "own_statement", False),
    ],
)
def test_who_may_approve(approver, preparers, approved_by, needed, allowed, code, complete):
    check = rules.check_approval(
        approver_id=approver, preparer_ids=frozenset(preparers), approved_by=approved_by, needed=needed
    )
    assert (check.allowed, check.code, check.complete) == (allowed, code, complete)
