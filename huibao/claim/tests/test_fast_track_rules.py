"""The fast-track qualification, table-driven (pure: no database)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from huibao.claim import fast_track
from huibao.claim.fast_track import Facts, percentile, qualify

CLEAN = Facts(
    amount_claimed=Decimal("1800.00"),
    fast_track_limit=Decimal("2000.00"),
    materials_complete=True,
    duplicate_materials=False,
    eligible=True,
    route="pass",
    payable=Decimal("1800.00"),
)


@pytest.mark.parametrize(
    ("changes", "codes"),
    [
        ({}, ()),
        ({"amount_claimed": Decimal("2000.00"), "payable": Decimal("2000.00")}, ()),  # at the limit
        ({"amount_claimed": Decimal("2000.01")}, ("over_limit",)),
        ({"fast_track_limit": Decimal("500.00")}, ("over_limit",)),  # set per product
        ({"materials_complete": False}, ("materials_incomplete",)),
        ({"duplicate_materials": True}, ("duplicate_material",)),
        ({"eligible": False}, ("not_eligible",)),
        ({"route": "review"}, ("fraud_review",)),
        ({"route": "review", "cleared": True}, ()),  # an analyst cleared it
        ({"route": "block"}, ("fraud_block",)),
        ({"route": "block", "cleared": True}, ("fraud_block",)),  # a block is never cleared into it
        ({"route": ""}, ("not_screened",)),
        ({"calculable": False, "payable": None}, ("not_calculable",)),
        ({"refusal": "既往症不予赔偿", "payable": Decimal("0")}, ("benefit_refused",)),
        ({"payable": Decimal("0")}, ("nothing_payable",)),
        ({"payable": None}, ("nothing_payable",)),
        ({"payable": Decimal("1500.00")}, ()),  # a deductible applied: still fast
        ({"insurer_decides": True}, ("insurer_decides",)),  # the insurer's own system decides
        (
            {"amount_claimed": Decimal("5000"), "route": "review", "duplicate_materials": True},
            ("over_limit", "duplicate_material", "fraud_review"),
        ),
    ],
)
def test_qualify(changes: dict, codes: tuple[str, ...]) -> None:
    verdict = qualify(replace(CLEAN, **changes))
    assert verdict.codes == codes
    assert verdict.qualified is (codes == ())
    assert verdict.summary == "；".join(fast_track.REASONS[c] for c in codes)


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 50, None),
        ([7.0], 90, 7.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([10.0, 1.0, 5.0], 50, 5.0),
        ([float(v) for v in range(1, 11)], 90, 9.1),
        ([1.0, 2.0], 100, 2.0),
    ],
)
def test_percentile(values: list[float], p: float, expected: float | None) -> None:
    result = percentile(values, p)
    assert result == (pytest.approx(expected) if expected is not None else None)
