"""Renewal rules: pure, no Django.

- Which policies renew and how (`decide`): a product version whose `renewal` document says
  `renewable`; within its guaranteed renewal years (保证续保, counted in policy terms from the
  first one) the policy renews on its own version's rate table at the new age and cannot be
  refused (no new health questions); after them, or without a guarantee, the current published
  version of the product applies — refused when the product no longer sells or the plan is gone.
  `max_renewal_age` (the insured's age at the new start) refuses in both cases.
- Dates: the expiring policy's cover ends at `expires_at` (exclusive); its last day is the day
  before; reminders go 30, 7 and 1 days before `expires_at`'s date; automatic renewal charges
  from the last day, and is retried each day of the grace period after it; an offer not paid by
  the end of the grace period lapses.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REMINDER_DAYS: tuple[int, ...] = (30, 7, 1)


@dataclass(frozen=True, slots=True)
class RenewalTerms:
    """What a version's `renewal` document says (schema `$defs/renewal`)."""

    renewable: bool = False
    guaranteed_years: int = 0
    max_renewal_age: int | None = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any] | None) -> RenewalTerms:
        doc = doc or {}
        max_age = doc.get("max_renewal_age")
        return cls(
            renewable=bool(doc.get("renewable", False)),
            guaranteed_years=int(doc.get("guaranteed_years") or 0),
            max_renewal_age=None if max_age is None else int(max_age),
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """`guaranteed`: priced on the policy's own version; `refusal`: why it does not renew ("")."""

    guaranteed: bool
    refusal: str = ""
    code: str = ""


def decide(
    terms: RenewalTerms,
    *,
    term_number: int,
    new_age: int,
    product_on_sale: bool,
    plan_available: bool,
) -> Decision:
    """How the policy's `term_number`-th term (2 = the first renewal) is offered."""
    guaranteed = terms.guaranteed_years > 0 and term_number <= terms.guaranteed_years
    if terms.max_renewal_age is not None and new_age > terms.max_renewal_age:
        return Decision(
            guaranteed,
            f"被保险人续保时{new_age}周岁，超过本产品最高续保年龄{terms.max_renewal_age}周岁",
            "max_renewal_age",
        )
    if guaranteed:
        return Decision(True)
    if not product_on_sale:
        return Decision(False, "本产品已停售，保证续保期外不再续保", "not_on_sale")
    if not plan_available:
        return Decision(False, "原保障方案已不再提供，无法续保", "plan_gone")
    return Decision(False)


def age_on(birth: datetime.date, day: datetime.date) -> int:
    """Whole years of age (周岁) on `day`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def last_day(expires_on: datetime.date) -> datetime.date:
    """The last covered day of a policy whose cover ends at the start of `expires_on`."""
    return expires_on - datetime.timedelta(days=1)


def grace_until(expires_on: datetime.date, grace_days: int) -> datetime.date:
    """The last day an offer can still be paid (the grace period after the last covered day)."""
    return last_day(expires_on) + datetime.timedelta(days=grace_days)


def reminder_due(expires_on: datetime.date, run_date: datetime.date) -> int | None:
    """The reminder (days before expiry) due on `run_date`, if any."""
    days = (expires_on - run_date).days
    return days if days in REMINDER_DAYS else None


def out_trade_no(offer_id: int, day: datetime.date) -> str:
    """The merchant reference of an automatic renewal charge: one attempt per offer and day."""
    return f"RN{offer_id}D{day:%Y%m%d}"
