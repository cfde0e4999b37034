"""Read access to the catalog: what is on sale, one product by code, versions and revisions."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from huibao.catalog.models import (
    CatalogRevision,
    Coverage,
    Plan,
    Product,
    ProductStatus,
    ProductVersion,
    VersionStatus,
)
from huibao.core.errors import NotFound


def products_on_sale() -> QuerySet[Product]:
    """Products a customer may buy, with insurer and current version joined."""
    return Product.objects.filter(status=ProductStatus.ON_SALE, current_version__isnull=False).select_related(
        "insurer", "current_version"
    )


def product_by_code(code: str, *, on_sale_only: bool = True) -> Product:
    """One product by code (on sale unless `on_sale_only=False`); raises NotFound."""
    qs = products_on_sale() if on_sale_only else Product.objects.select_related("insurer", "current_version")
    product = qs.filter(code=code).first()
    if product is None:
        raise NotFound(f"产品“{code}”不存在或已停售", code="product_not_found")
    return product


def version_with_content(version_id: int) -> ProductVersion:
    """A version with its product, plans (with coverages) and documents prefetched; raises NotFound."""
    version = (
        ProductVersion.objects.select_related("product", "product__insurer")
        .prefetch_related(
            Prefetch(
                "plans", queryset=Plan.objects.prefetch_related(Prefetch("coverages", Coverage.objects.all()))
            ),
            "documents",
        )
        .filter(pk=version_id)
        .first()
    )
    if version is None:
        raise NotFound(f"产品版本 {version_id} 不存在", code="version_not_found")
    return version


def current_version(product: Product) -> ProductVersion:
    """The published version on sale with its content; raises NotFound when none is published."""
    if product.current_version_id is None:
        raise NotFound(f"产品“{product.code}”没有已发布的版本", code="no_published_version")
    return version_with_content(product.current_version_id)


def draft_version(product: Product) -> ProductVersion | None:
    return product.versions.filter(status=VersionStatus.DRAFT).first()


def versions_of(product: Product) -> QuerySet[ProductVersion]:
    return product.versions.order_by("-number")


def catalog_revision() -> int:
    """The catalog revision counter; caches compare it to know when to rebuild."""
    return CatalogRevision.objects.filter(pk=1).values_list("counter", flat=True).first() or 0
