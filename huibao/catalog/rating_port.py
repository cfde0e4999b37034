"""The catalog's one door to the rating engine (`huibao.rating`).

Publication needs two answers from the engine: does the version's pricing spec compile against
the version's own data (plans, terms, payment modes), and what is its cheapest premium
("from ¥x"). Keeping the calls here means the catalog depends on a small contract, not on the
engine's internals.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from huibao.catalog.models import Plan, ProductVersion
from huibao.core.errors import FieldError
from huibao.rating import rules
from huibao.rating.errors import SpecError
from huibao.rating.services import build_rating_product


def pricing_problems(version: ProductVersion, plans: Sequence[Plan] | None = None) -> list[FieldError]:
    """Errors of the version's pricing spec (empty when it compiles against the version)."""
    if not version.pricing:
        return [FieldError("pricing", "required", "the version has no pricing spec")]
    try:
        build_rating_product(version, list(plans) if plans is not None else None)
    except SpecError as exc:
        where = f"pricing.{exc.step}" if exc.step else "pricing"
        return [FieldError(where, "spec_error", str(exc))]
    return []


def cheapest_premium(version: ProductVersion, plans: Sequence[Plan] | None = None) -> Decimal | None:
    """The lowest premium of the version (youngest eligible adult, minimum sum insured, cheapest
    plan), computed by `huibao.rating.rules.cheapest_premium`; None when nothing can be priced."""
    product = build_rating_product(version, list(plans) if plans is not None else None)
    return rules.cheapest_premium(product)
