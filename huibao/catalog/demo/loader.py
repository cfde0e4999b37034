"""Writes a generated demo market with bulk inserts, every version published.

The load runs in one transaction. Products go on sale directly (the generator's documents are
validated by the tests against the schema and the publication rules), `premium_from` comes from
the rating engine, the catalog revision moves once and one audit entry records the load.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from huibao.catalog import io, rating_port, services
from huibao.catalog.demo.generator import Market
from huibao.catalog.models import (
    CatalogRevision,
    Coverage,
    Crowd,
    Document,
    Insurer,
    Plan,
    Product,
    ProductStatus,
    ProductVersion,
    Scenario,
    VersionStatus,
)
from huibao.core import audit
from huibao.core.hooks import Hook


@dataclass(frozen=True)
class LoadReport:
    insurers: int
    products: int
    plans: int
    coverages: int
    documents: int
    seconds: float


# Announced in the load's transaction with the new insurers' ids (distribution gives each an
# active agreement, so that the demo market sells), and at the start of a wipe (distribution
# removes the agreements that refer to the insurers about to go).
market_loaded: Hook[tuple[int, ...], None] = Hook("catalog.demo.market_loaded")
market_wiping: Hook[None, None] = Hook("catalog.demo.market_wiping")


def catalog_has_data() -> bool:
    return Product.objects.exists() or Insurer.objects.exists()


def wipe_catalog(*, actor: Any = None) -> None:
    """Deletes every product, insurer, crowd and scenario. Refused by the database (ProtectedError)
    when quotes or policies still point at a version."""
    with transaction.atomic():
        market_wiping.announce(None)
        Product.objects.update(current_version=None)
        ProductVersion.objects.all().delete()
        Product.objects.all().delete()
        Insurer.objects.all().delete()
        Crowd.objects.all().delete()
        Scenario.objects.all().delete()
        services.bump_revision()
        audit.record("catalog.demo.wipe", "catalog", "", actor=actor, before=None, after={"wiped": True})


def load_market(market: Market, *, actor: Any = None) -> LoadReport:
    started = time.monotonic()
    now = timezone.now()
    with transaction.atomic():
        insurers = Insurer.objects.bulk_create(
            [
                Insurer(
                    code=i.code,
                    name=i.name,
                    short_name=i.short_name,
                    kind=i.kind,
                    founded_year=i.founded_year,
                    registered_capital_yi=i.registered_capital_yi,
                    solvency_ratio=i.solvency_ratio,
                    service_rating=i.service_rating,
                    hotline=i.hotline,
                    headquarters=i.headquarters,
                    description=i.description,
                )
                for i in market.insurers
            ]
        )
        insurer_ids = {i.code: i.pk for i in insurers}
        market_loaded.announce(tuple(insurer_ids.values()))
        crowd_ids = {
            c.code: c.pk
            for c in Crowd.objects.bulk_create(
                [Crowd(code=code, name=name, sort_order=i) for i, (code, name) in enumerate(market.crowds)]
            )
        }
        scenario_ids = {
            s.code: s.pk
            for s in Scenario.objects.bulk_create(
                [
                    Scenario(code=code, name=name, sort_order=i)
                    for i, (code, name) in enumerate(market.scenarios)
                ]
            )
        }

        products = Product.objects.bulk_create(
            [
                Product(
                    code=p.document["product"]["code"],
                    insurer_id=insurer_ids[p.document["product"]["insurer"]],
                    name=p.document["product"]["name"],
                    line=p.document["product"]["line"],
                    status=ProductStatus.ON_SALE,
                    sales_count=p.sales_count,
                    rating_avg=p.rating_avg,
                    rating_count=p.rating_count,
                )
                for p in market.products
            ],
            batch_size=500,
        )
        crowd_links = [
            Product.crowds.through(product_id=product.pk, crowd_id=crowd_ids[code])
            for product, p in zip(products, market.products, strict=True)
            for code in p.document["product"]["crowds"]
        ]
        Product.crowds.through.objects.bulk_create(crowd_links, batch_size=2000)
        scenario_links = [
            Product.scenarios.through(product_id=product.pk, scenario_id=scenario_ids[code])
            for product, p in zip(products, market.products, strict=True)
            for code in p.document["product"]["scenarios"]
        ]
        Product.scenarios.through.objects.bulk_create(scenario_links, batch_size=2000)

        versions = ProductVersion.objects.bulk_create(
            [
                ProductVersion(
                    product=product,
                    number=1,
                    status=VersionStatus.PUBLISHED,
                    published_at=now,
                    **io.version_kwargs(p.document["version"]),
                )
                for product, p in zip(products, market.products, strict=True)
            ],
            batch_size=200,
        )
        plan_rows: list[Plan] = []
        plan_docs: list[dict[str, Any]] = []
        document_rows: list[Document] = []
        for version, p in zip(versions, market.products, strict=True):
            for i, plan_data in enumerate(p.document["plans"]):
                plan_rows.append(Plan(version=version, **io.plan_kwargs(plan_data, i)))
                plan_docs.append(plan_data)
            for i, doc in enumerate(p.document["documents"]):
                document_rows.append(Document(version=version, **io.document_kwargs(doc, i)))
        plans = Plan.objects.bulk_create(plan_rows, batch_size=1000)
        coverage_rows = [
            Coverage(plan=plan, **io.coverage_kwargs(c, j))
            for plan, plan_data in zip(plans, plan_docs, strict=True)
            for j, c in enumerate(plan_data["coverages"])
        ]
        Coverage.objects.bulk_create(coverage_rows, batch_size=2000)
        Document.objects.bulk_create(document_rows, batch_size=500)

        plans_of: dict[int, list[Plan]] = {}
        for plan in plans:
            plans_of.setdefault(plan.version.pk, []).append(plan)
        for product, version in zip(products, versions, strict=True):
            product.current_version = version
            version.product = product
            product.premium_from = rating_port.cheapest_premium(version, plans_of.get(version.pk, []))
        Product.objects.bulk_update(products, ["current_version", "premium_from"], batch_size=500)

        CatalogRevision.objects.get_or_create(pk=1)
        services.bump_revision()
        report = LoadReport(
            insurers=len(insurers),
            products=len(products),
            plans=len(plans),
            coverages=len(coverage_rows),
            documents=len(document_rows),
            seconds=0.0,
        )
        audit.record(
            "catalog.demo.load",
            "catalog",
            str(market.seed),
            actor=actor,
            before=None,
            after={"seed": market.seed, "insurers": report.insurers, "products": report.products},
        )
    return LoadReport(**{**report.__dict__, "seconds": round(time.monotonic() - started, 2)})
