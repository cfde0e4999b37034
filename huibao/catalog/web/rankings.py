"""The "cheapest for you" ranking: each product of a line priced by the rating engine (through the
catalog's port) for a profile."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from huibao.catalog import rating_port
from huibao.catalog.models import Product


def cheapest_for_profile(
    products: Iterable[Product], *, age: int, sex: str, limit: int
) -> list[tuple[Product, Decimal]]:
    """The `limit` products with the lowest premium for an insured of `age` and `sex`, cheapest
    first; products the profile is not eligible for (or that cannot be priced) are left out."""
    priced: list[tuple[Product, Decimal]] = []
    rating = rating_port.engine()
    for product in products:
        if product.current_version_id is None:
            continue
        # None also for a version whose spec does not compile: it is not ranked
        premium = rating.premium_for_profile(product.current_version_id, age=age, sex=sex)
        if premium is not None:
            priced.append((product, premium))
    priced.sort(key=lambda pair: (pair[1], -pair[0].sales_count, pair[0].code))
    return priced[:limit]
