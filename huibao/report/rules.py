"""The pure maths of the sales reports: periods (day, week, month, quarter, year, in local
dates — the caller passes Asia/Shanghai dates), the hierarchy roll-up of a seller's path, the
figures of one row and their margin. No Django, no I/O.

A period is named by its first day: the week of Monday, the first of the month, of the quarter
(January, April, July, October), of the year. A window is half-open: `[since, until)`.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal("0.00")


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class Group(StrEnum):
    """What the rows of a report are: one per period only, or per period and one dimension.
    The hierarchy levels roll a seller's figures up to its ancestor of that kind."""

    TOTAL = "total"
    INSURER = "insurer"
    PRODUCT = "product"
    LINE = "line"
    SELLER = "seller"
    AGENT = "agent"
    TEAM = "team"
    BRANCH = "branch"
    AGENCY = "agency"
    CHANNEL = "channel"
    SUBCHANNEL = "subchannel"


# The groups that are a level of the sales hierarchy (the SalesUnitKind of the ancestor).
HIERARCHY_GROUPS = frozenset(
    {Group.AGENT, Group.TEAM, Group.BRANCH, Group.AGENCY, Group.CHANNEL, Group.SUBCHANNEL}
)

# How many periods a report shows by default, and at most (a request beyond is refused).
DEFAULT_COUNT: Mapping[Period, int] = {
    Period.DAY: 30,
    Period.WEEK: 12,
    Period.MONTH: 12,
    Period.QUARTER: 8,
    Period.YEAR: 5,
}
MAX_COUNT: Mapping[Period, int] = {
    Period.DAY: 366,
    Period.WEEK: 106,
    Period.MONTH: 60,
    Period.QUARTER: 40,
    Period.YEAR: 20,
}


def period_start(period: Period, day: datetime.date) -> datetime.date:
    """The first day of the period `day` falls in."""
    match period:
        case Period.DAY:
            return day
        case Period.WEEK:
            return day - datetime.timedelta(days=day.weekday())
        case Period.MONTH:
            return day.replace(day=1)
        case Period.QUARTER:
            return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
        case Period.YEAR:
            return day.replace(month=1, day=1)
    raise ValueError(f"unknown period {period!r}")


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def shift(period: Period, start: datetime.date, count: int) -> datetime.date:
    """The first day of the period `count` periods after (or before, negative) the one starting
    on `start` (itself a period start)."""
    match period:
        case Period.DAY:
            return start + datetime.timedelta(days=count)
        case Period.WEEK:
            return start + datetime.timedelta(weeks=count)
        case Period.MONTH:
            return _add_months(start, count)
        case Period.QUARTER:
            return _add_months(start, 3 * count)
        case Period.YEAR:
            return start.replace(year=start.year + count)
    raise ValueError(f"unknown period {period!r}")


def period_end(period: Period, day: datetime.date) -> datetime.date:
    """The day after the last day of the period `day` falls in (the window's exclusive end)."""
    return shift(period, period_start(period, day), 1)


def window(period: Period, today: datetime.date, count: int) -> tuple[datetime.date, datetime.date]:
    """The last `count` periods up to and including the one of `today`: `[since, until)`."""
    if count < 1:
        raise ValueError("count must be at least 1")
    until = period_end(period, today)
    return shift(period, period_start(period, today), 1 - count), until


def periods(period: Period, since: datetime.date, until: datetime.date) -> Iterator[datetime.date]:
    """The start of every period in `[since, until)`, in order (a chart's axis, gaps included)."""
    current = period_start(period, since)
    while current < until:
        yield current
        current = shift(period, current, 1)


def label(period: Period, start: datetime.date) -> str:
    """A short label for a period on a chart axis or a table row (numbers only, language-free)."""
    match period:
        case Period.DAY:
            return start.isoformat()
        case Period.WEEK:
            iso = start.isocalendar()
            return f"{iso.year}-W{iso.week:02d}"
        case Period.MONTH:
            return f"{start.year}-{start.month:02d}"
        case Period.QUARTER:
            return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        case Period.YEAR:
            return str(start.year)
    raise ValueError(f"unknown period {period!r}")


def in_subtree(path: str, roots: tuple[str, ...]) -> bool:
    """Whether the unit at `path` is one of `roots` or below one ("HQ/SH" holds "HQ/SH/T1",
    not "HQ/SH2")."""
    return any(path == root or path.startswith(root + "/") for root in roots)


def ancestor_code(path: str, kinds: Mapping[str, str], level: str) -> str | None:
    """The code of the nearest unit of kind `level` on `path` (the unit itself included), or
    None when the path has none (a channel's sale has no team). `kinds` maps unit codes to
    their kinds."""
    for code in reversed(path.split("/")):
        if kinds.get(code) == level:
            return code
    return None


@dataclass(slots=True)
class Figures:
    """One row's figures. Amounts are sums of rounded amounts (no rounding needed); `margin`
    is what the agency keeps: commission earned from insurers less commission paid out."""

    policies: int = 0
    premium: Decimal = ZERO
    commission_in: Decimal = ZERO
    commission_out: Decimal = ZERO
    cancellations: int = 0
    refunds: Decimal = ZERO

    @property
    def margin(self) -> Decimal:
        return self.commission_in - self.commission_out

    def add(self, other: Figures) -> None:
        self.policies += other.policies
        self.premium += other.premium
        self.commission_in += other.commission_in
        self.commission_out += other.commission_out
        self.cancellations += other.cancellations
        self.refunds += other.refunds

    def as_dict(self) -> dict[str, object]:
        return {
            "policies": self.policies,
            "premium": self.premium,
            "commission_in": self.commission_in,
            "commission_out": self.commission_out,
            "margin": self.margin,
            "cancellations": self.cancellations,
            "refunds": self.refunds,
        }


@dataclass(frozen=True, slots=True)
class Row:
    period: datetime.date | None  # the period's first day; None: the whole window
    key: str  # the group's value (an insurer code, a line, a unit code…); "" for the total
    name: str
    figures: Figures = field(default_factory=Figures)


def share(part: Decimal, whole: Decimal) -> Decimal | None:
    """`part` of `whole` as a fraction to four places (a pie's slice); None when `whole` is 0."""
    if not whole:
        return None
    return (part / whole).quantize(Decimal("0.0001"))


class CommissionState(StrEnum):
    PENDING = "pending"  # the policy is in its cooling-off period: it may still be clawed back
    EARNED = "earned"  # past cooling-off, not yet paid
    PAID = "paid"


def commission_state(
    *,
    occurred_on: datetime.date,
    cooling_off_until: datetime.date | None,
    paid: bool,
    today: datetime.date,
) -> CommissionState:
    """An outbound commission entry's state for the party it is paid to (the SQL sums of
    `selectors.commission_totals` apply the same test)."""
    if paid:
        return CommissionState.PAID
    if occurred_on > today or (cooling_off_until is not None and cooling_off_until >= today):
        return CommissionState.PENDING
    return CommissionState.EARNED
