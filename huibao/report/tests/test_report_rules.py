"""The report's pure maths: periods in local dates, windows, labels, the hierarchy roll-up and the
commission states (no database)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from huibao.report import rules
from huibao.report.rules import CommissionState, Figures, Period

D = datetime.date


@pytest.mark.parametrize(
    ("period", "day", "start", "end"),
    [
        (Period.DAY, D(2026, 3, 31), D(2026, 3, 31), D(2026, 4, 1)),
        (Period.WEEK, D(2026, 3, 31), D(2026, 3, 30), D(2026, 4, 6)),  # a Tuesday: Monday to Monday
        (Period.WEEK, D(2026, 3, 29), D(2026, 3, 23), D(2026, 3, 30)),  # a Sunday ends its week
        (Period.WEEK, D(2026, 12, 31), D(2026, 12, 28), D(2027, 1, 4)),  # across the year
        (Period.MONTH, D(2026, 2, 28), D(2026, 2, 1), D(2026, 3, 1)),
        (Period.MONTH, D(2026, 12, 15), D(2026, 12, 1), D(2027, 1, 1)),
        (Period.QUARTER, D(2026, 3, 31), D(2026, 1, 1), D(2026, 4, 1)),
        (Period.QUARTER, D(2026, 4, 1), D(2026, 4, 1), D(2026, 7, 1)),
        (Period.QUARTER, D(2026, 11, 30), D(2026, 10, 1), D(2027, 1, 1)),
        (Period.YEAR, D(2026, 7, 4), D(2026, 1, 1), D(2027, 1, 1)),
    ],
)
def test_period_bounds(period: Period, day: datetime.date, start: datetime.date, end: datetime.date) -> None:
    assert rules.period_start(period, day) == start
    assert rules.period_end(period, day) == end


@pytest.mark.parametrize(
    ("period", "today", "count", "since", "until"),
    [
        (Period.DAY, D(2026, 3, 1), 3, D(2026, 2, 27), D(2026, 3, 2)),
        (Period.MONTH, D(2026, 2, 10), 3, D(2025, 12, 1), D(2026, 3, 1)),
        (Period.QUARTER, D(2026, 5, 5), 2, D(2026, 1, 1), D(2026, 7, 1)),
        (Period.YEAR, D(2026, 5, 5), 1, D(2026, 1, 1), D(2027, 1, 1)),
        (Period.WEEK, D(2026, 1, 1), 2, D(2025, 12, 22), D(2026, 1, 5)),
    ],
)
def test_window_is_the_last_n_periods(
    period: Period, today: datetime.date, count: int, since: datetime.date, until: datetime.date
) -> None:
    assert rules.window(period, today, count) == (since, until)
    assert len(list(rules.periods(period, since, until))) == count


def test_window_refuses_no_period() -> None:
    with pytest.raises(ValueError):
        rules.window(Period.DAY, D(2026, 1, 1), 0)


@pytest.mark.parametrize(
    ("period", "start", "label"),
    [
        (Period.DAY, D(2026, 3, 5), "2026-03-05"),
        (Period.WEEK, D(2025, 12, 29), "2026-W01"),  # ISO week of the Monday
        (Period.MONTH, D(2026, 3, 1), "2026-03"),
        (Period.QUARTER, D(2026, 10, 1), "2026-Q4"),
        (Period.YEAR, D(2026, 1, 1), "2026"),
    ],
)
def test_labels(period: Period, start: datetime.date, label: str) -> None:
    assert rules.label(period, start) == label


KINDS = {
    "HQ": "agency",
    "SH": "branch",
    "SH-T1": "team",
    "A1": "agent",
    "CH": "channel",
    "CH-S": "subchannel",
}


@pytest.mark.parametrize(
    ("path", "level", "code"),
    [
        ("HQ/SH/SH-T1/A1", "agent", "A1"),
        ("HQ/SH/SH-T1/A1", "team", "SH-T1"),
        ("HQ/SH/SH-T1/A1", "branch", "SH"),
        ("HQ/SH/SH-T1/A1", "agency", "HQ"),
        ("HQ/SH/SH-T1/A1", "channel", None),
        ("HQ/CH/CH-S", "channel", "CH"),
        ("HQ/CH/CH-S", "subchannel", "CH-S"),
        ("HQ/CH", "subchannel", None),
    ],
)
def test_ancestor_code(path: str, level: str, code: str | None) -> None:
    assert rules.ancestor_code(path, KINDS, level) == code


@pytest.mark.parametrize(
    ("path", "roots", "inside"),
    [
        ("HQ/SH", ("HQ/SH",), True),
        ("HQ/SH/T1", ("HQ/SH",), True),
        ("HQ/SH2", ("HQ/SH",), False),  # a prefix of the code is not a parent
        ("HQ", ("HQ/SH",), False),
        ("HQ/CH/S", ("HQ/SH", "HQ/CH"), True),
    ],
)
def test_in_subtree(path: str, roots: tuple[str, ...], inside: bool) -> None:
    assert rules.in_subtree(path, roots) is inside


@pytest.mark.parametrize(
    ("occurred", "cooling_off_until", "paid", "state"),
    [
        (D(2026, 4, 1), D(2026, 4, 15), False, CommissionState.PENDING),  # in cooling-off
        (D(2026, 4, 1), D(2026, 4, 10), False, CommissionState.PENDING),  # its last day
        (D(2026, 4, 1), D(2026, 4, 9), False, CommissionState.EARNED),
        (D(2026, 4, 1), None, False, CommissionState.EARNED),  # no cooling-off
        (D(2026, 4, 11), None, False, CommissionState.PENDING),  # not yet occurred
        (D(2026, 4, 1), D(2026, 4, 15), True, CommissionState.PAID),
    ],
)
def test_commission_state(
    occurred: datetime.date, cooling_off_until: datetime.date | None, paid: bool, state: CommissionState
) -> None:
    today = D(2026, 4, 10)
    assert (
        rules.commission_state(
            occurred_on=occurred, cooling_off_until=cooling_off_until, paid=paid, today=today
        )
        == state
    )


def test_figures_add_and_margin() -> None:
    a = Figures(
        policies=1, premium=Decimal("100.00"), commission_in=Decimal("30.00"), commission_out=Decimal("12.50")
    )
    a.add(Figures(policies=2, premium=Decimal("50.00"), commission_in=Decimal("5.00"), cancellations=1))
    assert (a.policies, a.premium, a.margin, a.cancellations) == (3, Decimal("150.00"), Decimal("22.50"), 1)
    assert rules.share(Decimal("25"), Decimal("100")) == Decimal("0.2500")
    assert rules.share(Decimal("1"), Decimal("0")) is None
