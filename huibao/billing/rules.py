"""Premium schedules, pure: no Django, no I/O.

A premium mode splits the annual premium into instalments. The one rounding point: every
instalment but the last is the rounded share (`huibao.core.premium.per_period`: `to_fen(annual /
count)`, ROUND_HALF_UP — the monthly instalment rating quotes and every page shows), and the
**last** instalment absorbs the remainder, so the instalments add up to the annual premium exactly. The annual
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
import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from huibao.core.money import to_fen
from huibao.core.premium import INSTALMENTS_PER_YEAR, per_period

MONTHS_BETWEEN: Mapping[str, int] = {"single": 12, "annual": 12, "monthly": 1}
# The modes paid in several instalments a year (the others are paid whole at checkout).
INSTALMENT_MODES = frozenset(mode for mode, count in INSTALMENTS_PER_YEAR.items() if count > 1)

# Business parameters with their defaults in code (docs/billing.md).
LONG_GRACE_LINES = frozenset({"term_life", "whole_life", "critical_illness"})
LONG_GRACE_DAYS = 60
DEFAULT_GRACE_DAYS = 30
REINSTATEMENT_YEARS = 2


# The payment kind of a customer's own payment of instalments at the hosted checkout.
CHECKOUT_KIND = "billing_checkout"


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
    share = per_period(total, mode)
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


# --- policy years after the first (a premium term of several years, 缴费期间) -----------------

# How many days before a policy year's first due date its instalments are created (the
# roll-forward), so the year shows on the pages and a due-soon reminder can be sent in time.
ROLL_FORWARD_LEAD_DAYS = 30


def year_start(start: datetime.date, year: int) -> datetime.date:
    """The first day of policy year `year` (1-based): the `year - 1`th anniversary of `start`
    (29 Feb → 28 Feb in a common year)."""
    if year < 1:
        raise ScheduleError("policy years start at 1")
    return add_months(start, 12 * (year - 1))


def plan_year(
    annual_premium: Decimal,
    mode: str,
    start: datetime.date,
    year: int,
    *,
    modal_factor: Decimal = Decimal(1),
) -> list[PlannedInstalment]:
    """The instalments of policy year `year`: the same amounts as every year (`amounts`), due
    from its anniversary on, numbered on from the years before (year 2 monthly: 13…24)."""
    per_year = instalment_count(mode)
    offset = per_year * (year - 1)
    return [
        PlannedInstalment(number=offset + p.number, due_on=p.due_on, amount=p.amount)
        for p in plan(annual_premium, mode, year_start(start, year), modal_factor=modal_factor)
    ]


def next_year_on(
    start: datetime.date, planned_years: int, premium_years: int, *, lead_days: int = ROLL_FORWARD_LEAD_DAYS
) -> datetime.date | None:
    """The day the instalments of the year after `planned_years` are to be created, `lead_days`
    before its anniversary; None when the premium term is over (nothing after its last year)."""
    if premium_years < 1 or planned_years < 1:
        raise ScheduleError("the premium term and the planned years are at least one year")
    if planned_years >= premium_years:
        return None
    return year_start(start, planned_years + 1) - datetime.timedelta(days=lead_days)


def premium_of_year(
    year: int, annual_premium: Decimal, year_premiums: Sequence[Decimal | str] = ()
) -> Decimal:
    """The annual premium of policy year `year` (1-based): the year's own when the premium steps
    up by year (`year_premiums`, year 1 first), else the level `annual_premium`."""
    if year_premiums:
        if not 1 <= year <= len(year_premiums):
            raise ScheduleError(f"no premium for policy year {year} of {len(year_premiums)}")
        return Decimal(str(year_premiums[year - 1]))
    return annual_premium


def year_of(number: int, mode: str) -> int:
    """The policy year an instalment number falls in (monthly 13 → year 2)."""
    return (number - 1) // instalment_count(mode) + 1


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


# --- re-planning a schedule when its premium changes (an endorsement) ------------------------------
#
# From the change's effective date the rest of the policy year carries the new premium, and so
# does every later one. The policy year the date falls in is the current year (a schedule of
# several years plans one year at a time: its rows are numbered on, year 2 monthly is 13…24). In
# it, the instalment whose period the date falls in (its due date to the next one's; for annual
# payment the whole policy year) is the current one: the part of it still to run is re-rated pro
# rata, once rounded to the fen (ROUND_HALF_UP):
#
#     current delta = to_fen((new per-period − old per-period) × remaining days / period days)
#
# and every later instalment of the year becomes the new schedule's amount (`amounts(new
# annual)`: the one owner of per-period amounts, its last absorbing the remainder). A later policy
# year already planned (the roll-forward creates it 30 days before its anniversary) takes the new
# premium whole; years not yet planned are planned from the new premium (`services.roll_forward`).
# Rows of earlier years (an instalment of last year still owed) are the old premium's and stay.
# An instalment already settled — paid, or being charged or paid at the checkout right now — never
# changes: its delta is settled apart (charged or refunded now). So over the year the customer pays
#
#     Σ instalments before + current instalment + current delta + Σ new amounts after
#
# = the old premium to the change date + the new premium after it, with one rounding.


@dataclass(frozen=True, slots=True)
class InstalmentNow:
    """One instalment as a re-plan finds it: `settled` means its amount may not change (paid, or
    a charge or checkout of it outstanding); `frozen` instalments (waived, cancelled) are left."""

    number: int
    due_on: datetime.date
    amount: Decimal
    settled: bool
    frozen: bool = False


@dataclass(frozen=True, slots=True)
class ReplannedInstalment:
    number: int
    due_on: datetime.date
    old_amount: Decimal
    new_amount: Decimal  # the instalment's amount from now on (== old for a settled one)
    adjustment: Decimal  # settled apart, now: + to charge, − to refund (0 when the amount moved)
    settled: bool
    current: bool  # the instalment whose period the change falls in (re-rated pro rata)
    # Part of `new_amount` carried from a settled instalment's delta not settled apart (`carry`).
    carried: Decimal = Decimal("0.00")
    policy_year: int = 1

    @property
    def changed(self) -> bool:
        return self.new_amount != self.old_amount or self.adjustment != 0


@dataclass(frozen=True, slots=True)
class Replan:
    effective_on: datetime.date
    old_annual: Decimal
    new_annual: Decimal
    remaining_days: int  # of the current instalment's period, from the effective date
    period_days: int
    # the instalments of the current policy year, then those of later years already planned
    lines: tuple[ReplannedInstalment, ...]
    policy_year: int = 1  # the policy year the change takes effect in (1-based)

    @property
    def adjustment(self) -> Decimal:
        """What is charged (+) or refunded (−) now, apart from the instalments."""
        return sum((line.adjustment - line.carried for line in self.lines), Decimal("0.00"))

    @property
    def year_total(self) -> Decimal:
        """What the customer pays for the policy year of the change once re-planned (what is
        settled apart included)."""
        year = (line.new_amount for line in self.lines if line.policy_year == self.policy_year)
        return sum(year, Decimal("0.00")) + self.adjustment

    @property
    def changed(self) -> tuple[ReplannedInstalment, ...]:
        return tuple(line for line in self.lines if line.changed)


def policy_year_of(start: datetime.date, day: datetime.date) -> int:
    """The policy year (1-based) `day` falls in, for policy years starting on `start`'s
    anniversaries (a day before `start` counts as year 1)."""
    year = 1
    while year_start(start, year + 1) <= day:
        year += 1
    return year


def replan(
    instalments: list[InstalmentNow],
    *,
    mode: str,
    start: datetime.date,
    old_annual: Decimal,
    new_annual: Decimal,
    effective_on: datetime.date,
    later_annual: Mapping[int, Decimal] | None = None,
) -> Replan:
    """The schedule whose first policy year starts on `start` re-planned for `new_annual` from
    `effective_on` (see above): `old_annual` and `new_annual` are the premiums of the policy year
    the date falls in; `later_annual` the new premium of a later policy year already planned, by
    year (`new_annual` when absent: a level premium). Raises ScheduleError when the date's policy
    year is not planned (past the premium term), or an instalment would not stay positive."""
    ordered = sorted(instalments, key=lambda i: i.number)
    count = instalment_count(mode)
    step = MONTHS_BETWEEN[mode]
    day = max(effective_on, start)
    year = policy_year_of(start, day)
    this_year = [i for i in ordered if year_of(i.number, mode) == year]
    if len(this_year) != count:
        raise ScheduleError("the change takes effect after the schedule's years planned")
    try:
        new = amounts(new_annual, mode)
        old = amounts(old_annual, mode)
        later = {
            y: amounts((later_annual or {}).get(y, new_annual), mode)
            for y in {year_of(i.number, mode) for i in ordered if year_of(i.number, mode) > year}
        }
    except ScheduleError as exc:
        raise ScheduleError(f"the new premium cannot be split into instalments: {exc}") from None
    begins = year_start(start, year)
    offset = count * (year - 1)

    def period(number: int) -> tuple[datetime.date, datetime.date]:
        n = number - offset
        return add_months(begins, (n - 1) * step), add_months(begins, n * step)

    current = next(i for i in this_year if period(i.number)[0] <= day < period(i.number)[1])
    period_start, period_end = period(current.number)
    period_days = (period_end - period_start).days
    remaining = (period_end - day).days
    lines = []
    for inst in ordered:
        inst_year = year_of(inst.number, mode)
        if inst_year < year:
            continue  # an earlier year's instalment (still owed, perhaps): the old premium's
        index = (inst.number - 1) % count
        if inst.frozen or inst.number < current.number:
            delta = Decimal("0.00")
        elif inst.number == current.number:
            delta = to_fen((new[index] - old[index]) * Decimal(remaining) / Decimal(period_days))
        elif inst_year == year:
            delta = new[index] - inst.amount
        else:
            delta = later[inst_year][index] - inst.amount
        if inst.settled or inst.frozen:
            amount, adjustment = inst.amount, delta
        else:
            amount, adjustment = inst.amount + delta, Decimal("0.00")
        if amount <= 0:
            raise ScheduleError(f"instalment {inst.number} would be {amount}: it must stay positive")
        lines.append(
            ReplannedInstalment(
                number=inst.number,
                due_on=inst.due_on,
                old_amount=inst.amount,
                new_amount=amount,
                adjustment=adjustment,
                settled=inst.settled,
                current=inst.number == current.number,
                policy_year=inst_year,
            )
        )
    return Replan(day, old_annual, new_annual, remaining, period_days, tuple(lines), policy_year=year)


def carry(plan_: Replan, settled_apart: Decimal) -> Replan:
    """`plan_` when `settled_apart` — not its own adjustment — is what was charged or refunded
    apart: an instalment settled (or unsettled, a charge having failed) since the change was
    priced. The difference moves onto the next instalment from the current one that can still
    change (`carried`). ScheduleError when none can, or it would not stay positive."""
    difference = plan_.adjustment - settled_apart
    if difference == 0:
        return plan_
    lines = list(plan_.lines)
    current = next(line.number for line in lines if line.current)
    target = next((n for n, line in enumerate(lines) if not line.settled and line.number >= current), None)
    if target is None:
        raise ScheduleError("no instalment left to carry the difference")
    line = lines[target]
    amount = line.new_amount + difference
    if amount <= 0:
        raise ScheduleError(f"instalment {line.number} would be {amount}: it must stay positive")
    lines[target] = dataclasses.replace(line, new_amount=amount, carried=line.carried + difference)
    return dataclasses.replace(plan_, lines=tuple(lines))
