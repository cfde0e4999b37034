"""Catalog rows for rating tests and the benchmark, created directly (no catalog services)."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from django.utils import timezone

from huibao.catalog.models import (
    Insurer,
    InsurerKind,
    LineOfBusiness,
    Plan,
    Product,
    ProductStatus,
    ProductVersion,
    VersionStatus,
)
from huibao.distribution.services import ensure_demo_agreement
from huibao.rating.rules import RatingProduct
from huibao.rating.tests import specs

_seq = itertools.count(1)


def insurer(code: str | None = None) -> Insurer:
    n = next(_seq)
    code = code or f"ins{n}"
    obj, _ = Insurer.objects.get_or_create(
        code=code,
        defaults={"name": f"测试保险公司{code}", "short_name": f"测试{n}", "kind": InsurerKind.LIFE},
    )
    # Its products sell: an active agreement of the agency covers every line.
    ensure_demo_agreement(obj)
    return obj


def product_from(
    template: RatingProduct,
    *,
    code: str | None = None,
    line: str = LineOfBusiness.TERM_LIFE,
    pricing: dict[str, Any] | None = None,
    status: str = VersionStatus.PUBLISHED,
    eligibility: dict[str, Any] | None = None,
    term_options: list[dict[str, Any]] | None = None,
    payment_modes: list[str] | None = None,
    insurer_obj: Insurer | None = None,
) -> ProductVersion:
    """A product on sale whose current version copies a spec fixture of `specs`."""
    code = code or f"{template.product_code}-{next(_seq)}"
    product = Product.objects.create(
        code=code,
        insurer=insurer_obj or insurer(),
        name=f"测试产品{code}",
        line=line,
        status=ProductStatus.ON_SALE,
    )
    elig = template.eligibility
    version = ProductVersion.objects.create(
        product=product,
        number=1,
        status=status,
        eligibility=eligibility
        if eligibility is not None
        else {
            "min_age_days": elig.min_age_days,
            "max_age": elig.max_age,
            "occupation_classes": list(elig.occupation_classes),
            "regions": list(elig.regions),
        },
        term_options=term_options
        if term_options is not None
        else [{"code": t.code, "label": t.label} for t in template.term_options],
        payment_modes=payment_modes if payment_modes is not None else list(template.payment_modes),
        pricing=pricing if pricing is not None else _SPECS[template.product_code](),
        published_at=timezone.now() if status != VersionStatus.DRAFT else None,
    )
    for order, plan in enumerate(template.plans):
        Plan.objects.create(
            version=version,
            code=plan.code,
            name=plan.name,
            sort_order=order,
            min_sum_insured=plan.min_sum_insured,
            max_sum_insured=plan.max_sum_insured,
            sum_insured_step=plan.sum_insured_step,
        )
    product.current_version = version
    product.save(update_fields=["current_version"])
    return version


_SPECS = {
    "term-life": specs.term_life_spec,
    "auto": specs.auto_spec,
    "travel": specs.travel_spec,
    "accident": specs.accident_spec,
}


def term_life_version(**kwargs: Any) -> ProductVersion:
    return product_from(specs.term_life_product(), **kwargs)


def auto_version(**kwargs: Any) -> ProductVersion:
    return product_from(specs.auto_product(), line=LineOfBusiness.AUTO_COMMERCIAL, **kwargs)


def travel_version(**kwargs: Any) -> ProductVersion:
    return product_from(specs.travel_product(), line=LineOfBusiness.TRAVEL, **kwargs)


def accident_version(**kwargs: Any) -> ProductVersion:
    return product_from(specs.accident_product(), line=LineOfBusiness.ACCIDENT, **kwargs)


def catalog(n: int) -> list[ProductVersion]:
    """`n` products cycling through the four fixtures (for the benchmark without demo data)."""
    makers = [term_life_version, auto_version, travel_version, accident_version]
    shared = insurer("bench")
    return [makers[i % 4](code=f"bench-{i:04d}", insurer_obj=shared) for i in range(n)]


def plan_sum(version: ProductVersion, code: str) -> Decimal:
    return version.plans.get(code=code).min_sum_insured
