"""Test helpers: product documents taken from the demo generator, and the rows they refer to."""

from __future__ import annotations

import copy
from typing import Any

from huibao.catalog.demo import data as demo_data
from huibao.catalog.demo import generate_market
from huibao.catalog.models import Crowd, Insurer, Scenario
from huibao.distribution.services import ensure_demo_agreements


def reference_rows() -> None:
    """Insurers, crowds and scenarios of the demo market (no products)."""
    market = generate_market(7, 14)
    insurers = Insurer.objects.bulk_create(
        Insurer(code=i.code, name=i.name, short_name=i.short_name, kind=i.kind, hotline=i.hotline)
        for i in market.insurers
    )
    # Their products sell: an active agreement of the agency each.
    ensure_demo_agreements(i.pk for i in insurers)
    Crowd.objects.bulk_create(Crowd(code=c, name=n) for c, n in demo_data.CROWDS)
    Scenario.objects.bulk_create(Scenario(code=c, name=n) for c, n in demo_data.SCENARIOS)


def product_document(line: str = "medical", seed: int = 7) -> dict[str, Any]:
    """A generated, valid product document of `line` (a deep copy: tests may change it)."""
    market = generate_market(seed, 14)
    for product in market.products:
        if product.document["product"]["line"] == line:
            return copy.deepcopy(product.document)
    raise AssertionError(f"no {line} product generated")
