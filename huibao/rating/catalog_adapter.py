"""The rating engine as the catalog's port sees it (`huibao.catalog.rating_port.RatingEngine`),
registered in `RatingConfig.ready()`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from huibao.catalog.models import Plan, ProductVersion
from huibao.core.errors import DomainError, FieldError
from huibao.rating import rules, services
from huibao.rating.errors import SpecError
from huibao.rating.models import Quote


class CatalogRating:
    def pricing_problems(self, version: ProductVersion, plans: Sequence[Plan] | None) -> list[FieldError]:
        try:
            services.build_rating_product(version, list(plans) if plans is not None else None)
        except SpecError as exc:
            where = f"pricing.{exc.step}" if exc.step else "pricing"
            return [FieldError(where, "spec_error", str(exc))]
        return []

    def cheapest_premium(self, version: ProductVersion, plans: Sequence[Plan] | None) -> Decimal | None:
        product = services.build_rating_product(version, list(plans) if plans is not None else None)
        return rules.cheapest_premium(product)

    def premium_for_profile(self, version_id: int, *, age: int, sex: str) -> Decimal | None:
        try:
            product = services.get_rating_product(version_id)
        except DomainError:  # a version whose spec does not compile is not priced
            return None
        return rules.premium_for_profile(product, {"age": age, "sex": sex})

    def referenced_inputs(self, version_id: int) -> frozenset[str]:
        try:
            return frozenset(services.get_rating_product(version_id).spec.referenced)
        except DomainError:
            return frozenset()

    def explain_quote(self, quote: object) -> list[object]:
        assert isinstance(quote, Quote)
        return list(services.explain_quote(quote))

    def create_quote(
        self,
        *,
        product_code: str,
        plan_code: str,
        inputs: Mapping[str, object],
        user: object | None,
        channel: str,
        persist: bool,
    ) -> Quote:
        return services.create_quote(
            product_code=product_code,
            plan_code=plan_code,
            inputs=dict(inputs),
            user=user,
            channel=channel,
            persist=persist,
        )
