"""Catalog endpoints under /api/v1/: products (search, detail), insurers, lines, crowds, scenarios.

Endpoints are thin: search goes through `huibao.catalog.search`, detail loads one product with a
fixed number of queries, and `huibao.catalog.schemas` shapes the answers. Unknown codes raise
`NotFound`, which `huibao.api` maps to 404.
"""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from huibao.catalog.models import (
    Coverage,
    Crowd,
    Insurer,
    LineOfBusiness,
    Plan,
    Product,
    ProductStatus,
    Scenario,
)
from huibao.catalog.schemas import (
    CountedLabelOut,
    InsurerDetailOut,
    InsurerOut,
    ProductDetailOut,
    ProductListOut,
    ProductQuery,
    insurer_out,
    product_detail,
    product_summary,
)
from huibao.catalog.search import SearchFilters, cached_summaries, search_products
from huibao.core.errors import FieldError, NotFound

router = Router(tags=["catalog"])

ON_SALE = Q(status=ProductStatus.ON_SALE, current_version__isnull=False)


class DetailQuery(Schema):
    include: str = Field("", description="include=documents 时返回条款全文（body）")


@router.get("/products", response=ProductListOut, summary="搜索与筛选在售产品")
def list_products(request: HttpRequest, params: Query[ProductQuery]) -> ProductListOut:
    filters = SearchFilters(
        line=params.line or None,
        crowd=params.crowd or None,
        scenario=params.scenario or None,
        insurer=params.insurer or None,
        age=params.age,
        max_premium=params.max_premium,
        min_rating=params.min_rating,
    )
    page = search_products(params.q, filters, params.sort, params.offset, params.limit, load_items=False)
    return ProductListOut(
        total=page.total,
        items=cached_summaries("api", page.ids, product_summary),
        facets={
            name: [CountedLabelOut(code=code, label=label, count=n) for code, label, n in values]
            for name, values in page.facets.items()
        },
    )


@router.get("/products/{code}", response=ProductDetailOut, summary="在售产品的当前版本详情")
def get_product(request: HttpRequest, code: str, params: Query[DetailQuery]) -> ProductDetailOut:
    product = (
        Product.objects.filter(ON_SALE, code=code)
        .select_related("insurer", "current_version")
        .prefetch_related(
            "crowds",
            "scenarios",
            Prefetch(
                "current_version__plans",
                queryset=Plan.objects.prefetch_related(
                    Prefetch("coverages", queryset=Coverage.objects.order_by("sort_order", "code"))
                ),
            ),
            "current_version__documents",
        )
        .first()
    )
    if product is None:
        raise NotFound(
            f"no product on sale with code {code!r}",
            errors=[FieldError("code", "not_found", f"产品 {code} 不存在或未在售")],
        )
    includes = {part.strip() for part in params.include.split(",")}
    return product_detail(product, with_document_bodies="documents" in includes)


def _insurer_counts() -> dict[str, int]:
    return {code: n for code, _, n in search_products(limit=1).facets["insurer"]}


@router.get("/insurers", response=list[InsurerOut], summary="合作保险公司")
def list_insurers(request: HttpRequest) -> list[InsurerOut]:
    counts = _insurer_counts()
    return [insurer_out(i, counts.get(i.code, 0)) for i in Insurer.objects.filter(is_active=True)]


@router.get("/insurers/{code}", response=InsurerDetailOut, summary="保险公司详情及其在售产品")
def get_insurer(request: HttpRequest, code: str) -> InsurerDetailOut:
    insurer = Insurer.objects.filter(code=code, is_active=True).first()
    if insurer is None:
        raise NotFound(
            f"no insurer with code {code!r}",
            errors=[FieldError("code", "not_found", f"保险公司 {code} 不存在")],
        )
    page = search_products(filters=SearchFilters(insurer=code), sort="sales", limit=100)
    base = insurer_out(insurer, page.total)
    return InsurerDetailOut(
        **base.model_dump(),
        description=insurer.description,
        products=[product_summary(p) for p in page.items],
    )


@router.get("/catalog/lines", response=list[CountedLabelOut], summary="险种及在售产品数")
def list_lines(request: HttpRequest) -> list[CountedLabelOut]:
    counts = dict(
        Product.objects.filter(ON_SALE).values_list("line").annotate(n=Count("id")).values_list("line", "n")
    )
    return [
        CountedLabelOut(code=code, label=str(label), count=counts.get(code, 0))
        for code, label in LineOfBusiness.choices
    ]


@router.get("/catalog/crowds", response=list[CountedLabelOut], summary="人群及在售产品数")
def list_crowds(request: HttpRequest) -> list[CountedLabelOut]:
    rows = Crowd.objects.annotate(
        n=Count(
            "products",
            filter=Q(products__status=ProductStatus.ON_SALE, products__current_version__isnull=False),
        )
    )
    return [CountedLabelOut(code=c.code, label=c.name, count=c.n) for c in rows]


@router.get("/catalog/scenarios", response=list[CountedLabelOut], summary="场景及在售产品数")
def list_scenarios(request: HttpRequest) -> list[CountedLabelOut]:
    rows = Scenario.objects.annotate(
        n=Count(
            "products",
            filter=Q(products__status=ProductStatus.ON_SALE, products__current_version__isnull=False),
        )
    )
    return [CountedLabelOut(code=c.code, label=c.name, count=c.n) for c in rows]
