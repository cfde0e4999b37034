"""The total premium of an application, computed in this one place by every step that changes it
(start, data, underwriting, an underwriter's decision, declined items left out). Pure: no ORM."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol

from huibao.application.states import UnderwritingOutcome
from huibao.core.money import to_fen
from huibao.core.premium import ShownPremium, shown, shown_total


class PricedItem(Protocol):
    """An application item as far as its price goes."""

    @property
    def premium(self) -> Decimal: ...

    @property
    def underwriting_outcome(self) -> str: ...


def total_premium(items: Iterable[PricedItem]) -> Decimal:
    """The sum of the premiums of the items the underwriting did not decline (a declined product
    is not paid for), rounded to the fen."""
    return to_fen(
        sum((i.premium for i in items if i.underwriting_outcome != UnderwritingOutcome.DECLINE), Decimal(0))
    )


def due_at_checkout(items: Iterable[tuple[Decimal, str, str | None]]) -> Decimal:
    """What the customer pays at checkout for items given as (premium, underwriting outcome,
    payment mode): each item's first instalment (`huibao.core.premium.per_period`, the split
    `billing.rules` makes: the whole premium for single or annual payment, the first month for
    monthly), declined items left out — the amount `total_shown` shows."""
    return total_shown(items).amount


def item_shown(premium: Decimal, mode: str | None) -> ShownPremium:
    """An item's premium as the customer pays it (per month and per year when paid monthly)."""
    return shown(premium, mode)


def total_shown(items: Iterable[tuple[Decimal, str, str | None]]) -> ShownPremium:
    """The application's premium as the customer pays it, for items given as (premium,
    underwriting outcome, payment mode): the first payment (per month when every item is paid
    monthly) with the total per year when some item is paid in instalments."""
    paid = [(p, mode) for p, outcome, mode in items if outcome != UnderwritingOutcome.DECLINE and p > 0]
    return shown_total(paid)
