"""The total premium: the items the underwriting did not decline, to the fen."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from huibao.application.premium import total_premium
from huibao.application.states import UnderwritingOutcome as U


@dataclass(frozen=True)
class Item:
    premium: Decimal
    underwriting_outcome: str


@pytest.mark.parametrize(
    ("items", "total"),
    [
        ([], Decimal("0.00")),
        ([Item(Decimal("100.00"), U.PENDING)], Decimal("100.00")),
        ([Item(Decimal("100.00"), U.ACCEPT), Item(Decimal("58.30"), U.ACCEPT_WITH_TERMS)], Decimal("158.30")),
        ([Item(Decimal("100.00"), U.ACCEPT), Item(Decimal("58.30"), U.DECLINE)], Decimal("100.00")),
        ([Item(Decimal("80.00"), U.DECLINE)], Decimal("0.00")),
        ([Item(Decimal("0.105"), U.REFER), Item(Decimal("0.10"), U.ACCEPT)], Decimal("0.21")),
    ],
)
def test_total_premium_leaves_declined_items_out_and_rounds_to_the_fen(
    items: list[Item], total: Decimal
) -> None:
    assert total_premium(items) == total
    assert str(total_premium(items)) == str(total)
