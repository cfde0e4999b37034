"""The premium of a payment mode, one owner: what the customer pays per period and per year.

A premium is rated per year (or once, for single payment). Paid monthly, it is split into 12
instalments: every instalment but the last is `to_fen(annual / 12)` (ROUND_HALF_UP), the last
absorbs the remainder (`billing.rules.amounts`). So the amount per period a customer is quoted
is the first instalment they pay at checkout, and both come from `per_period` here: the rating
engine (`rating.rules.instalment_for`), billing's schedules and every page and API output that
shows a premium (`shown`, the `premium` template filter in `core_premium`) use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from huibao.core.money import to_fen

INSTALMENTS_PER_YEAR: Mapping[str, int] = {"single": 1, "annual": 1, "monthly": 12}
# The period a customer pays for, per mode ("" when the premium is paid once or yearly and
# shows unchanged).
PERIODS: Mapping[str, str] = {"single": "", "annual": "", "monthly": "month"}


def count(mode: str) -> int:
    """The instalments a year of a mode; KeyError for an unknown mode."""
    return INSTALMENTS_PER_YEAR[mode]


def per_period(annual: Decimal, mode: str) -> Decimal:
    """The amount of each instalment but the last (the first instalment: what is paid at
    checkout); the premium itself for single and annual payment."""
    n = INSTALMENTS_PER_YEAR.get(mode or "single", 1)
    return to_fen(annual) if n == 1 else to_fen(annual / n)


@dataclass(frozen=True, slots=True)
class ShownPremium:
    """A premium as the customer sees it: `amount` per `period` and, when paid in instalments,
    the `annual` total."""

    amount: Decimal
    period: str  # "" (paid once / yearly: shown unchanged) or "month"
    annual: Decimal | None  # the total per year when paid in instalments

    @property
    def in_instalments(self) -> bool:
        return self.annual is not None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "amount": str(self.amount),
            "period": self.period or None,
            "annual_total": str(self.annual) if self.annual is not None else None,
        }


def shown(premium: Decimal, mode: str | None) -> ShownPremium:
    """The per-period view of a (yearly or single) premium in `mode`."""
    mode = mode or "single"
    period = PERIODS.get(mode, "")
    if not period:
        return ShownPremium(to_fen(premium), "", None)
    return ShownPremium(per_period(premium, mode), period, to_fen(premium))


def shown_total(items: list[tuple[Decimal, str | None]]) -> ShownPremium:
    """Several premiums (a bundle's items, as (premium, mode)) as one figure: paid monthly when
    any item is, the per-period amounts and the annual totals added up. A mix of monthly and
    yearly items is shown as what is due now (the first payment) with the annual total."""
    parts = [shown(p, m) for p, m in items]
    annual = to_fen(sum((p for p, _ in items), Decimal(0)))
    if not any(s.in_instalments for s in parts):
        return ShownPremium(annual, "", None)
    due = to_fen(sum((s.amount for s in parts), Decimal(0)))
    periodic = all(s.in_instalments for s in parts)
    return ShownPremium(due, "month" if periodic else "first", annual)
