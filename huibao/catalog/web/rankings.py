"""The "cheapest for you" ranking: each product of a line priced by the rating engine for a profile."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from huibao.catalog.models import Product
from huibao.core.errors import DomainError
from huibao.rating import rules as rating_rules
from huibao.rating import services as rating_services


def cheapest_for_profile(
    products: Iterable[Product], *, age: int, sex: str, limit: int
) -> list[tuple[Product, Decimal]]:
    """The `limit` products with the lowest premium for an insured of `age` and `sex`, cheapest
    first; products the profile is not eligible for (or that cannot be priced) are left out."""
    priced: list[tuple[Product, Decimal]] = []
    for product in products:
        if product.current_version_id is None:
            continue
        try:
            rating_product = rating_services.get_rating_product(product.current_version_id)
        except DomainError:  # a version whose spec does not compile is not ranked
            continue
        premium = rating_rules.premium_for_profile(rating_product, {"age": age, "sex": sex})
        if premium is not None:
            priced.append((product, premium))
    priced.sort(key=lambda pair: (pair[1], -pair[0].sales_count, pair[0].code))
    return priced[:limit]
