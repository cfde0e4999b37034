"""Premium schedules, pure: no Django, no I/O.

A premium mode splits the annual premium into instalments. The one rounding point: every
instalment but the last is the rounded share (`to_fen(annual / count)`, ROUND_HALF_UP — the
monthly instalment rating quotes, `rating.rules.instalment_for`), and the **last** instalment
absorbs the remainder, so the instalments add up to the annual premium exactly. The annual
premium is the rated one: a modal loading for monthly payment is whatever the product's pricing
spec computes from the `payment_mode` input (rating prices `monthly` with it), so billing splits
the rated premium and adds no factor of its own (`modal_factor` exists for products that state
one outside their spec; it defaults to 1).

Due dates fall on the same day of the month as the start, clamped to the month's end (31 Jan →
28/29 Feb → 31 Mar). An unpaid instalment may be paid until its grace period ends (per product
line: 60 days for life and long-term health, 30 otherwise); the day after, the schedule lapses.
A lapsed schedule may be reinstated within two years of the lapse by paying every instalment
fallen due meanwhile.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from huibao.core.money import to_fen

INSTALMENTS_PER_YEAR: Mapping[str, int] = {"single": 1, "annual": 1, "monthly": 12}
MONTHS_BETWEEN: Mapping[str, int] = {"single": 12, "annual": 12, "monthly": 1}
# The modes paid in several instalments a year (the others are paid whole at checkout).
INSTALMENT_MODES = frozenset(mode for mode, count in INSTALMENTS_PER_YEAR.items() if count > 1)

# Business parameters with their defaults in code (docs/billing.md).
LONG_GRACE_LINES = frozenset({"term_life", "whole_life", "critical_illness"})
LONG_GRACE_DAYS = 60
DEFAULT_GRACE_DAYS = 30
REINSTATEMENT_YEARS = 2


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class PlannedInstalment:
    number: int  # 1-based
    due_on: datetime.date
    amount: Decimal


def instalment_count(mode: str) -> int:
    try:
        return INSTALMENTS_PER_YEAR[mode]
    except KeyError:
        raise ScheduleError(f"unknown premium mode '{mode}'") from None


def add_months(start: datetime.date, months: int) -> datetime.date:
    """`start` moved by `months`, on the same day of the month, clamped to the month's end."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return datetime.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def amounts(annual_premium: Decimal, mode: str, *, modal_factor: Decimal = Decimal(1)) -> list[Decimal]:
    """The instalment amounts of a year; the last absorbs the rounding remainder."""
    if annual_premium <= 0:
        raise ScheduleError("the annual premium must be positive")
    if modal_factor <= 0:
        raise ScheduleError("the modal factor must be positive")
    total = to_fen(annual_premium * modal_factor)
    count = instalment_count(mode)
    share = to_fen(total / count)
    head = [share] * (count - 1)
    last = total - sum(head, Decimal(0))
    if share <= 0 or last <= 0:
        raise ScheduleError(f"premium {total} is too small to split into {count} instalments")
    return [*head, last]


def first_instalment(annual_premium: Decimal, mode: str, *, modal_factor: Decimal = Decimal(1)) -> Decimal:
    """What the customer pays at checkout: the whole premium, or its first instalment."""
    return amounts(annual_premium, mode, modal_factor=modal_factor)[0]


def plan(
    annual_premium: Decimal, mode: str, start: datetime.date, *, modal_factor: Decimal = Decimal(1)
) -> list[PlannedInstalment]:
    """The instalments of one policy year starting on `start` (the first due on `start`)."""
    step = MONTHS_BETWEEN[mode]
    return [
        PlannedInstalment(number=n, due_on=add_months(start, (n - 1) * step), amount=amount)
        for n, amount in enumerate(amounts(annual_premium, mode, modal_factor=modal_factor), start=1)
    ]


def grace_days(line: str, overrides: Mapping[str, int] | None = None) -> int:
    """The grace period of a product line: an operator's override, else the default in code."""
    if overrides and line in overrides:
        return int(overrides[line])
    return LONG_GRACE_DAYS if line in LONG_GRACE_LINES else DEFAULT_GRACE_DAYS


def grace_ends(due_on: datetime.date, days: int) -> datetime.date:
    """The last day an instalment due on `due_on` may be paid without the schedule lapsing."""
    return due_on + datetime.timedelta(days=days)


def is_overdue(due_on: datetime.date, today: datetime.date) -> bool:
    return today > due_on


def lapses(due_on: datetime.date, today: datetime.date, days: int) -> bool:
    """Whether an instalment still unpaid `today` lapses its schedule (grace is over)."""
    return today > grace_ends(due_on, days)


def reinstatement_until(lapsed_on: datetime.date, years: int = REINSTATEMENT_YEARS) -> datetime.date:
    """The last day a schedule lapsed on `lapsed_on` may be reinstated (two years on, unless the
    reference's terms state another number of years)."""
    return add_months(lapsed_on, 12 * years)


def can_reinstate(lapsed_on: datetime.date, today: datetime.date, years: int = REINSTATEMENT_YEARS) -> bool:
    return lapsed_on <= today <= reinstatement_until(lapsed_on, years)


def checkout_reference(schedule_public_id: str, numbers: tuple[int, ...]) -> str:
    """The reference of a customer's payment of some instalments at the hosted checkout:
    `<schedule public id>:<n>,<n>…` (at most 12 instalments: 63 characters)."""
    if not numbers:
        raise ScheduleError("a checkout pays at least one instalment")
    return f"{schedule_public_id}:{','.join(str(n) for n in numbers)}"


def parse_checkout_reference(reference: str) -> tuple[str, tuple[int, ...]]:
    schedule, _, numbers = reference.partition(":")
    try:
        parsed = tuple(int(n) for n in numbers.split(",") if n)
    except ValueError:
        raise ScheduleError(f"not a checkout reference: {reference!r}") from None
    if not schedule or not parsed:
        raise ScheduleError(f"not a checkout reference: {reference!r}")
    return schedule, parsed


def owed(unpaid: list[PlannedInstalment], today: datetime.date) -> list[PlannedInstalment]:
    """The instalments to pay to reinstate: every unpaid one fallen due by `today`."""
    return [i for i in unpaid if i.due_on <= today]


def amount_owed(unpaid: list[PlannedInstalment], today: datetime.date) -> Decimal:
    return sum((i.amount for i in owed(unpaid, today)), Decimal("0.00"))


def out_trade_no(instalment_id: int, today: datetime.date) -> str:
    """The merchant reference of a collection attempt: one per instalment and day, so a retried
    or concurrent collection on the same day names the same charge (the gateway and the unique
    constraint refuse a second), and the next day's retry is a new attempt."""
    return f"BL{instalment_id:012d}D{today:%Y%m%d}"
