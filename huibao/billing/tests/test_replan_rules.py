"""Re-planning a monthly schedule for a premium change (`rules.replan`, `rules.carry`): pure."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huibao.billing import rules
from huibao.core.money import to_fen

D = Decimal
START = datetime.date(2026, 1, 31)


def _now(annual: Decimal, paid: int, start: datetime.date = START) -> list[rules.InstalmentNow]:
    return [
        rules.InstalmentNow(p.number, p.due_on, p.amount, settled=p.number <= paid)
        for p in rules.plan(annual, "monthly", start)
    ]


def _expected_year(old: Decimal, new: Decimal, on: datetime.date, start: datetime.date = START) -> Decimal:
    """Old premium to the change date + new premium after it, written out apart from the code
    under test. The one rounding is the documented point: the re-rated part of the current
    period, (new − old) × days left / days, to the fen half up (as `premium_delta` rounds) — so a
    fall rounds away from zero like a rise."""
    o, n = rules.amounts(old, "monthly"), rules.amounts(new, "monthly")
    for k in range(12):
        begins, ends = rules.add_months(start, k), rules.add_months(start, k + 1)
        if begins <= on < ends:
            left = D((ends - on).days) / D((ends - begins).days)
            return sum(o[:k], D(0)) + o[k] + to_fen((n[k] - o[k]) * left) + sum(n[k + 1 :], D(0))
    raise AssertionError("date outside the year")


@pytest.mark.parametrize(
    ("on", "paid", "current", "remaining", "days"),
    [
        (datetime.date(2026, 1, 31), 1, 1, 28, 28),  # on the first due date: the whole month
        (datetime.date(2026, 2, 14), 1, 1, 14, 28),  # half of February (31 Jan → 28 Feb)
        (datetime.date(2026, 2, 28), 2, 2, 31, 31),  # due 28 Feb, clamped; next due 31 Mar
        (datetime.date(2026, 7, 15), 6, 6, 16, 31),  # due 30 Jun … 31 Jul
        (datetime.date(2027, 1, 30), 12, 12, 1, 31),  # the last day of the year
    ],
)
def test_the_current_instalment_is_rerated_for_the_days_left_of_its_period(
    on, paid, current, remaining, days
):
    # given a year of 1,200.00 paid monthly, `paid` instalments paid, raised to 1,800.00 on `on`
    plan_ = rules.replan(
        _now(D("1200.00"), paid),
        mode="monthly",
        start=START,
        old_annual=D("1200.00"),
        new_annual=D("1800.00"),
        effective_on=on,
    )
    # then
    line = next(x for x in plan_.lines if x.current)
    assert line.number == current and (plan_.remaining_days, plan_.period_days) == (remaining, days)
    assert plan_.year_total == _expected_year(D("1200.00"), D("1800.00"), on)
    # paid instalments never change; later ones carry the new amount; the current one's delta
    assert all(x.new_amount == x.old_amount for x in plan_.lines if x.settled)
    assert all(x.new_amount == D("150.00") for x in plan_.lines if x.number > current and not x.settled)
    assert line.adjustment == to_fen(D("50.00") * remaining / days)


def test_an_unpaid_current_instalment_takes_its_delta_and_nothing_is_charged_apart():
    # given instalment 3 due (not paid) when the premium falls from 1,200.00 to 600.00 mid-period
    on = datetime.date(2026, 3, 31) + datetime.timedelta(days=10)
    plan_ = rules.replan(
        _now(D("1200.00"), 2),
        mode="monthly",
        start=START,
        old_annual=D("1200"),
        new_annual=D("600"),
        effective_on=on,
    )
    # then instalment 3 keeps ten days at 100.00 and twenty at 50.00 (the period is 30 days)
    third = plan_.lines[2]
    assert third.current and not third.settled
    assert third.new_amount == D("100.00") + to_fen(D("-50.00") * 20 / 30) == D("66.67")
    assert plan_.adjustment == D("0.00")
    assert [x.new_amount for x in plan_.lines[3:]] == [D("50.00")] * 9
    assert plan_.year_total == _expected_year(D("1200"), D("600"), on)


def test_the_last_new_instalment_absorbs_the_remainder():
    # given 1,000.00 → 1,000.10 (83.34 × 11 + 83.36) on the first day, nothing paid yet
    plan_ = rules.replan(
        _now(D("1000.00"), 0),
        mode="monthly",
        start=START,
        old_annual=D("1000.00"),
        new_annual=D("1000.10"),
        effective_on=START,
    )
    # then the new schedule is the plain schedule of the new premium, to the fen
    assert [x.new_amount for x in plan_.lines] == rules.amounts(D("1000.10"), "monthly")
    assert plan_.year_total == D("1000.10")


@settings(max_examples=150, deadline=None)
@given(
    old=st.decimals(min_value=D("12.00"), max_value=D("50000"), places=2),
    new=st.decimals(min_value=D("12.00"), max_value=D("50000"), places=2),
    day=st.integers(min_value=0, max_value=364),
    paid=st.integers(min_value=1, max_value=12),
)
def test_the_year_costs_the_old_premium_to_the_change_and_the_new_after_it(old, new, day, paid):
    # given any premiums, any day of the year, any number of instalments already paid
    on = START + datetime.timedelta(days=day)
    plan_ = rules.replan(
        _now(old, paid), mode="monthly", start=START, old_annual=old, new_annual=new, effective_on=on
    )
    # then exact to the fen, paid instalments untouched, every instalment positive
    assert plan_.year_total == _expected_year(old, new, on)
    assert all(x.new_amount == x.old_amount for x in plan_.lines if x.settled)
    assert all(x.new_amount > 0 for x in plan_.lines)


def test_a_premium_too_small_to_split_or_a_date_past_the_year_is_refused():
    instalments = _now(D("1200.00"), 1)
    with pytest.raises(rules.ScheduleError, match="cannot be split"):
        rules.replan(
            instalments,
            mode="monthly",
            start=START,
            old_annual=D("1200"),
            new_annual=D("0.10"),
            effective_on=START,
        )
    with pytest.raises(rules.ScheduleError, match="after the schedule's year"):
        rules.replan(
            instalments,
            mode="monthly",
            start=START,
            old_annual=D("1200"),
            new_annual=D("1300"),
            effective_on=datetime.date(2027, 1, 31),
        )


def test_an_instalment_that_would_not_stay_positive_is_refused():
    # given an unpaid instalment already reduced to 0.05 by an earlier change, now cut by more
    instalments = _now(D("1200.00"), 1)
    instalments[1] = rules.InstalmentNow(2, instalments[1].due_on, D("0.05"), settled=False)
    # when / then (a change on its due date takes the whole month: 0.05 + (10.00 − 100.00) ≤ 0)
    with pytest.raises(rules.ScheduleError, match="must stay positive"):
        rules.replan(
            instalments,
            mode="monthly",
            start=START,
            old_annual=D("1200"),
            new_annual=D("120"),
            effective_on=instalments[1].due_on,
        )


def test_an_instalment_settled_since_pricing_carries_its_delta_to_the_next_one():
    # given the change priced while instalment 2 was unpaid (nothing to charge apart) …
    on = datetime.date(2026, 2, 28)
    priced = rules.replan(
        _now(D("1200"), 1),
        mode="monthly",
        start=START,
        old_annual=D("1200"),
        new_annual=D("2400"),
        effective_on=on,
    )
    assert priced.adjustment == 0
    # … and instalment 2 collected at the old amount before the change was applied
    now = rules.replan(
        _now(D("1200"), 2),
        mode="monthly",
        start=START,
        old_annual=D("1200"),
        new_annual=D("2400"),
        effective_on=on,
    )
    # when applied with what was settled apart at pricing (nothing)
    carried = rules.carry(now, priced.adjustment)
    # then instalment 3 takes instalment 2's delta; the year costs what was priced
    assert carried.lines[2].new_amount == D("200.00") + D("100.00") and carried.lines[2].carried == D(
        "100.00"
    )
    assert carried.adjustment == 0
    assert carried.year_total == priced.year_total == _expected_year(D("1200"), D("2400"), on)
