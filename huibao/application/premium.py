"""The total premium of an application, computed in this one place by every step that changes it
(start, data, underwriting, an underwriter's decision, declined items left out). Pure: no ORM."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol

from huibao.application.states import UnderwritingOutcome
from huibao.billing.rules import first_instalment
from huibao.core.money import to_fen


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
    payment mode): each item's first instalment (`billing.rules.first_instalment`: the whole
    premium for single or annual payment, the first month for monthly), declined items left out."""
    return to_fen(
        sum(
            (
                first_instalment(premium, mode or "single")
                for premium, outcome, mode in items
                if outcome != UnderwritingOutcome.DECLINE and premium > 0
            ),
            Decimal(0),
        )
    )
