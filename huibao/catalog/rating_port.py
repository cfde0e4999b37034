"""The catalog's one door to the rating engine.

The catalog needs a few answers from the engine: does a version's pricing spec compile against
the version's own data (plans, terms, payment modes), its cheapest premium ("from ¥x"), a
profile's premium (the "cheapest for you" ranking), the inputs a version's formulas use (the
quote form) and a quote (the quote pages). The rating engine sits above the catalog (it prices
the catalog's versions), so the catalog never imports it: the engine registers a `RatingEngine`
in its `AppConfig.ready()` (`huibao.rating.catalog_adapter`), as the sandbox's adapters register
with the payment's port.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

from huibao.catalog.models import Plan, ProductVersion
from huibao.core.errors import FieldError


class RatingEngine(Protocol):
    def pricing_problems(self, version: ProductVersion, plans: Sequence[Plan] | None) -> list[FieldError]:
        """Errors of the version's pricing spec (empty when it compiles against the version)."""
        ...

    def cheapest_premium(self, version: ProductVersion, plans: Sequence[Plan] | None) -> Decimal | None:
        """The lowest premium of the version; None when nothing can be priced."""
        ...

    def premium_for_profile(self, version_id: int, *, age: int, sex: str) -> Decimal | None:
        """The premium of an insured of `age` and `sex`; None when the profile is not eligible or
        the version's spec does not compile."""
        ...

    def referenced_inputs(self, version_id: int) -> frozenset[str]:
        """The input names the version's pricing formulas use; empty when the spec does not compile."""
        ...

    def create_quote(
        self,
        *,
        product_code: str,
        plan_code: str,
        inputs: Mapping[str, object],
        user: object | None,
        channel: str,
        persist: bool,
    ) -> object:
        """A quote of the product's current version (shown by the templates as the engine made it);
        raises `ValidationFailed` naming every invalid input."""
        ...

    def explain_quote(self, quote: object) -> list[object]:
        """A saved quote's calculation in the customer's words: items with `label`, `basis`,
        `value`, `formula` and `is_result` (money to the fen; the full trace is for staff)."""
        ...


_engine: RatingEngine | None = None


def register_engine(engine: RatingEngine) -> None:
    global _engine
    _engine = engine


def engine() -> RatingEngine:
    if _engine is None:
        raise ImproperlyConfigured("no rating engine is registered with the catalog")
    return _engine


def pricing_problems(version: ProductVersion, plans: Sequence[Plan] | None = None) -> list[FieldError]:
    """Errors of the version's pricing spec (empty when it compiles against the version)."""
    if not version.pricing:
        return [FieldError("pricing", "required", "the version has no pricing spec")]
    return engine().pricing_problems(version, plans)


def cheapest_premium(version: ProductVersion, plans: Sequence[Plan] | None = None) -> Decimal | None:
    """The lowest premium of the version (youngest eligible adult, minimum sum insured, cheapest
    plan); None when nothing can be priced."""
    return engine().cheapest_premium(version, plans)
