"""Test factories for the catalog (shared by the catalog, search, API and admin tests).

`on_sale_product(...)` builds a complete product on sale: insurer, published current version with
one plan and its coverages, a document, and the CatalogRevision counter bumped as catalog services
do.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factory
from django.db.models import F
from django.utils import timezone

from huibao.catalog.models import (
    CatalogRevision,
    Coverage,
    Crowd,
    Document,
    DocumentKind,
    Insurer,
    InsurerKind,
    LineOfBusiness,
    Plan,
    Product,
    ProductStatus,
    ProductVersion,
    Scenario,
    VersionStatus,
)
from huibao.distribution.services import ensure_demo_agreement


class InsurerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Insurer
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"insurer{n}")
    name = factory.Sequence(lambda n: f"测试财产保险股份有限公司{n}")
    short_name = factory.Sequence(lambda n: f"测试{n}")
    kind = InsurerKind.PROPERTY
    hotline = "95500"

    @factory.post_generation
    def agreement(obj: Insurer, create: bool, extracted: Any, **kwargs: Any) -> None:
        """Its products sell: an active agreement of the agency (`InsurerFactory(agreement=False)`:
        none, for tests of what is refused without one)."""
        if create and extracted is not False:
            ensure_demo_agreement(obj)


class CrowdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Crowd
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"crowd{n}")
    name = factory.Sequence(lambda n: f"人群{n}")


class ScenarioFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Scenario
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"scenario{n}")
    name = factory.Sequence(lambda n: f"场景{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    code = factory.Sequence(lambda n: f"product-{n}")
    insurer = factory.SubFactory(InsurerFactory)
    name = factory.Sequence(lambda n: f"测试产品{n}")
    line = LineOfBusiness.ACCIDENT
    status = ProductStatus.DRAFT


class ProductVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductVersion

    product = factory.SubFactory(ProductFactory)
    number = 1
    status = VersionStatus.DRAFT
    tagline = "测试产品"
    eligibility = factory.LazyFunction(
        lambda: {"min_age_days": 28, "max_age": 65, "occupation_classes": [1, 2, 3]}
    )
    term_options = factory.LazyFunction(lambda: [{"code": "1y", "label": "1年", "years": 1}])
    payment_modes = factory.LazyFunction(lambda: ["single"])
    cooling_off_days = 15
    renewal = factory.LazyFunction(lambda: {"renewable": True, "guaranteed_years": 0, "note": ""})
    value_added_services = factory.LazyFunction(list)
    pricing = factory.LazyFunction(
        lambda: {
            "inputs": {},
            "tables": {},
            "constants": {"rate": "0.001"},
            "steps": [{"name": "premium", "label": "应缴保费", "expr": "sum_insured * rate"}],
            "result": "premium",
        }
    )


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    version = factory.SubFactory(ProductVersionFactory)
    code = factory.Sequence(lambda n: f"plan{n}")
    name = "基础版"
    min_sum_insured = Decimal("100000.00")
    max_sum_insured = Decimal("100000.00")


class CoverageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Coverage

    plan = factory.SubFactory(PlanFactory)
    code = factory.Sequence(lambda n: f"cov{n}")
    name = "意外身故"
    sum_insured = Decimal("100000.00")


class DocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Document

    version = factory.SubFactory(ProductVersionFactory)
    kind = DocumentKind.TERMS
    title = "保险条款"
    body = "第一条 保险责任……"
    key_clauses = factory.LazyFunction(
        lambda: [{"code": "exclusion-1", "kind": "exclusion", "title": "责任免除", "text": "酒后驾驶不赔。"}]
    )


def bump_revision() -> None:
    """What catalog services do after every change: move the CatalogRevision counter."""
    CatalogRevision.objects.get_or_create(pk=1)
    CatalogRevision.objects.filter(pk=1).update(counter=F("counter") + 1, changed_at=timezone.now())


def on_sale_product(
    *,
    name: str = "测试意外险",
    code: str | None = None,
    insurer: Insurer | None = None,
    line: str = LineOfBusiness.ACCIDENT,
    coverages: tuple[str, ...] = ("意外身故",),
    crowds: tuple[Crowd, ...] = (),
    scenarios: tuple[Scenario, ...] = (),
    premium_from: Decimal | None = Decimal("50.00"),
    sales_count: int = 0,
    rating_avg: Decimal = Decimal("4.50"),
    eligibility: dict[str, Any] | None = None,
    tagline: str = "",
) -> Product:
    """A product on sale with a published version 1, one plan with `coverages`, and the documents
    publication requires (terms, disclosure, exclusions)."""
    product = ProductFactory(
        name=name,
        insurer=insurer or InsurerFactory(),
        line=line,
        status=ProductStatus.ON_SALE,
        premium_from=premium_from,
        sales_count=sales_count,
        rating_avg=rating_avg,
        rating_count=10,
        **({"code": code} if code else {}),
    )
    version_kwargs: dict[str, Any] = {"tagline": tagline}
    if eligibility is not None:
        version_kwargs["eligibility"] = eligibility
    version = ProductVersionFactory(
        product=product, status=VersionStatus.PUBLISHED, published_at=timezone.now(), **version_kwargs
    )
    plan = PlanFactory(version=version, code="basic", is_recommended=True)
    for i, coverage in enumerate(coverages):
        CoverageFactory(plan=plan, code=f"c{i}", name=coverage, sort_order=i)
    DocumentFactory(version=version, sort_order=0)
    DocumentFactory(
        version=version, kind=DocumentKind.DISCLOSURE, title="投保须知", body="投保须知……", sort_order=1
    )
    DocumentFactory(
        version=version, kind=DocumentKind.EXCLUSIONS, title="责任免除", body="责任免除……", sort_order=2
    )
    product.crowds.set(crowds)
    product.scenarios.set(scenarios)
    product.current_version = version
    product.save(update_fields=["current_version", "updated_at"])
    bump_revision()
    return product
