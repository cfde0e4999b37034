"""Premium schedules: amounts to the fen, due dates, grace, lapse and reinstatement."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huibao.billing import rules

D = Decimal
day = datetime.date


@pytest.mark.parametrize(
    ("premium", "mode", "expected"),
    [
        ("1200.00", "annual", ["1200.00"]),
        ("999.99", "single", ["999.99"]),
        ("1200.00", "monthly", ["100.00"] * 12),
        # 1000 / 12 = 83.333…: eleven of 83.33, the last absorbs the remainder
        ("1000.00", "monthly", ["83.33"] * 11 + ["83.37"]),
        # 100 / 12 = 8.3333…
        ("100.00", "monthly", ["8.33"] * 11 + ["8.37"]),
        # 1001 / 12 = 83.41666…: rounds half up to 83.42, the last is smaller
        ("1001.00", "monthly", ["83.42"] * 11 + ["83.38"]),
    ],
)
def test_amounts(premium: str, mode: str, expected: list[str]) -> None:
    assert rules.amounts(D(premium), mode) == [D(x) for x in expected]


def test_first_instalment_is_what_rating_quotes_as_the_monthly_payment() -> None:
    from huibao.rating.rules import instalment_for

    for premium in (D("1000.00"), D("1001.00"), D("3.55"), D("12345.67")):
        assert rules.first_instalment(premium, "monthly") == instalment_for(premium, "monthly")
        assert rules.first_instalment(premium, "annual") == premium


def test_modal_factor_loads_the_total() -> None:
    assert sum(rules.amounts(D("1000.00"), "monthly", modal_factor=D("1.04"))) == D("1040.00")


@pytest.mark.parametrize(
    ("bad", "mode"), [(D("0"), "monthly"), (D("-1"), "annual"), (D("0.05"), "monthly"), (D("10"), "weekly")]
)
def test_refused(bad: Decimal, mode: str) -> None:
    with pytest.raises(rules.ScheduleError):
        rules.amounts(bad, mode)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (day(2026, 1, 31), 1, day(2026, 2, 28)),
        (day(2028, 1, 31), 1, day(2028, 2, 29)),
        (day(2026, 1, 31), 2, day(2026, 3, 31)),
        (day(2026, 1, 30), 1, day(2026, 2, 28)),
        (day(2026, 11, 15), 3, day(2027, 2, 15)),
        (day(2026, 12, 31), 12, day(2027, 12, 31)),
    ],
)
def test_add_months_clamps_to_month_end(start: datetime.date, months: int, expected: datetime.date) -> None:
    assert rules.add_months(start, months) == expected


def test_monthly_plan_from_jan_31() -> None:
    planned = rules.plan(D("1200.00"), "monthly", day(2026, 1, 31))
    assert [p.due_on for p in planned[:4]] == [
        day(2026, 1, 31),
        day(2026, 2, 28),
        day(2026, 3, 31),
        day(2026, 4, 30),
    ]
    assert [p.number for p in planned] == list(range(1, 13))


@pytest.mark.parametrize(
    ("line", "days"),
    [("term_life", 60), ("whole_life", 60), ("critical_illness", 60), ("medical", 30), ("pet", 30), ("", 30)],
)
def test_grace_days_per_line(line: str, days: int) -> None:
    assert rules.grace_days(line) == days


def test_grace_override() -> None:
    assert rules.grace_days("medical", {"medical": 45}) == 45


def test_lapse_the_day_after_grace() -> None:
    due = day(2026, 3, 1)
    assert not rules.lapses(due, day(2026, 4, 30), 60)  # the 60th day: still in grace
    assert rules.lapses(due, day(2026, 5, 1), 60)


def test_reinstatement_window_two_years() -> None:
    lapsed = day(2026, 5, 1)
    assert rules.reinstatement_until(lapsed) == day(2028, 5, 1)
    assert rules.can_reinstate(lapsed, day(2028, 5, 1))
    assert not rules.can_reinstate(lapsed, day(2028, 5, 2))


def test_amount_owed_counts_only_what_fell_due() -> None:
    unpaid = rules.plan(D("1200.00"), "monthly", day(2026, 1, 15))[2:]  # 3rd (15 Mar) onwards
    assert rules.amount_owed(unpaid, day(2026, 6, 20)) == D("400.00")  # Mar, Apr, May, Jun


def test_out_trade_no_one_per_instalment_and_day() -> None:
    a = rules.out_trade_no(7, day(2026, 2, 1))
    assert a == rules.out_trade_no(7, day(2026, 2, 1))
    assert a != rules.out_trade_no(7, day(2026, 2, 2)) != rules.out_trade_no(8, day(2026, 2, 1))
    assert len(a) <= 40


premiums = st.decimals(min_value=D("1.00"), max_value=D("9999999.99"), places=2)
starts = st.dates(min_value=day(2000, 1, 1), max_value=day(2090, 12, 31))


@given(premium=premiums, mode=st.sampled_from(["single", "annual", "monthly"]), start=starts)
def test_instalments_sum_to_the_premium_and_dates_increase(
    premium: Decimal, mode: str, start: datetime.date
) -> None:
    planned = rules.plan(premium, mode, start)
    assert sum(p.amount for p in planned) == premium
    assert all(p.amount > 0 and p.amount == p.amount.quantize(D("0.01")) for p in planned)
    assert all(a.due_on < b.due_on for a, b in itertools.pairwise(planned))
    assert planned[0].due_on == start
    # never more than a month apart, never past the start's day of month
    assert all(p.due_on.day <= start.day for p in planned)
