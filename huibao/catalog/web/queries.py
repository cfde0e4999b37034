"""Read queries behind the catalog pages: what is on sale, loaded in as few queries as possible.

Only on-sale products with a published current version are ever shown to the public, so every
query here goes through `on_sale()`.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404

from huibao.catalog.models import (
    Coverage,
    Crowd,
    Document,
    Plan,
    Product,
    ProductStatus,
    ProductVersion,
    Scenario,
)


def on_sale() -> QuerySet[Product]:
    return Product.objects.filter(status=ProductStatus.ON_SALE, current_version__isnull=False)


def _with_details(queryset: QuerySet[Product]) -> QuerySet[Product]:
    plans = Plan.objects.order_by("sort_order", "code").prefetch_related(
        Prefetch("coverages", queryset=Coverage.objects.order_by("sort_order", "code"))
    )
    return queryset.select_related("insurer", "current_version").prefetch_related(
        "crowds",
        "scenarios",
        Prefetch("current_version__plans", queryset=plans),
        Prefetch("current_version__documents", queryset=Document.objects.order_by("sort_order", "id")),
    )


def product_page(code: str) -> Product:
    """An on-sale product with its current version, plans, coverages and documents; 404 otherwise."""
    product = _with_details(on_sale()).filter(code=code).first()
    if product is None:
        raise Http404("product not on sale")
    return product


def products_for_compare(codes: Sequence[str]) -> list[Product]:
    """The on-sale products among `codes`, in the order given (unknown codes are skipped)."""
    by_code = {p.code: p for p in _with_details(on_sale()).filter(code__in=list(codes))}
    return [by_code[c] for c in codes if c in by_code]


def current_version(product: Product) -> ProductVersion:
    version = product.current_version
    if version is None:  # on_sale() excludes this; kept for the type checker
        raise Http404("product has no current version")
    return version


def crowds_with_counts() -> list[Crowd]:
    return list(
        Crowd.objects.annotate(
            n=Count("products", filter=Q(products__status=ProductStatus.ON_SALE), distinct=True)
        ).filter(n__gt=0)
    )


def scenarios_with_counts() -> list[Scenario]:
    return list(
        Scenario.objects.annotate(
            n=Count("products", filter=Q(products__status=ProductStatus.ON_SALE), distinct=True)
        ).filter(n__gt=0)
    )


def line_counts() -> dict[str, int]:
    return {
        row["line"]: row["n"] for row in on_sale().values("line").annotate(n=Count("id")).order_by("line")
    }


def on_sale_versions_of_line(line: str) -> list[Product]:
    """On-sale products of a line with their current versions and plans (for profile rankings)."""
    return list(
        on_sale()
        .filter(line=line)
        .select_related("insurer", "current_version")
        .prefetch_related("current_version__plans")
        .order_by("code")
    )
