"""Embedded-sale test helpers: a return-shipping product that allows embedded sale, a channel,
and good sales of it."""

from __future__ import annotations

import datetime
import hashlib
import itertools
from decimal import Decimal
from typing import Any

from django.utils import timezone

from huibao.catalog.models import Document, LineOfBusiness, Product
from huibao.catalog.rules import document_sha256
from huibao.catalog.tests.factories import CoverageFactory, InsurerFactory, PlanFactory, on_sale_product
from huibao.distribution.models import SalesUnit
from huibao.distribution.tests.factories import unit
from huibao.embedded.rules import EmbeddedSale, ShownDocument

_seq = itertools.count(1)

# Order amount bands (元) → base premium; the plan factor multiplies it.
ORDER_BANDS = {"0": "0.50", "100": "1.00", "1000": "3.00", "5000": "12.00"}

PRICING: dict[str, Any] = {
    "inputs": {
        "order_amount": {
            "type": "decimal",
            "label": "订单金额（元）",
            "min": 1,
            "max": 50000,
            "default": "99",
        }
    },
    "tables": {
        "order": {
            "label": "订单金额档",
            "keys": ["order_amount"],
            "bands": {"order_amount": [0, 100, 1000, 5000]},
            "values": ORDER_BANDS,
        },
        "plan_factor": {"label": "方案系数", "keys": ["plan"], "values": {"standard": "1", "plus": "2"}},
    },
    "steps": [{"name": "premium", "label": "应缴保费", "expr": "table('order') * table('plan_factor')"}],
    "result": "premium",
}

RULES: dict[str, Any] = {
    "signature": "confirmation",
    "effective": {"rule": "same_day"},
    "subject": [
        {"code": "order_number", "label": "订单号", "pattern": "^[0-9A-Za-z-]{6,32}$", "required": True}
    ],
    "embedded_sale": {"allowed": True, "max_premium": "10.00", "consent_max_age_minutes": 30},
}


def _seal_documents(product: Product) -> None:
    for doc in Document.objects.filter(version=product.current_version):
        doc.content_sha256 = document_sha256(doc.title, doc.body, doc.key_clauses)
        doc.save(update_fields=["content_sha256"])


def return_shipping(
    *, embedded: dict[str, Any] | None = None, line: str = LineOfBusiness.RETURN_SHIPPING
) -> Product:
    """A return-shipping product on sale (plans standard and plus, fixed 10 元 / 20 元 cover,
    three documents) allowing embedded sale up to 10 元 unless `embedded` says otherwise."""
    product = on_sale_product(name="测试退货运费险", line=line, insurer=InsurerFactory(), coverages=())
    version = product.current_version
    assert version is not None
    rules = dict(RULES)
    if embedded is not None:
        rules["embedded_sale"] = embedded
    version.pricing = PRICING
    version.application_rules = rules
    version.term_options = [{"code": "order", "label": "单笔订单", "days": 15}]
    version.cooling_off_days = 0
    version.save(update_fields=["pricing", "application_rules", "term_options", "cooling_off_days"])
    version.plans.all().delete()
    for i, (code, si) in enumerate((("standard", "10"), ("plus", "20"))):
        plan = PlanFactory(
            version=version,
            code=code,
            name=code,
            min_sum_insured=Decimal(si),
            max_sum_insured=Decimal(si),
            sort_order=i,
        )
        CoverageFactory(plan=plan, code="return_freight", name="退货运费补偿", sum_insured=Decimal(si))
    _seal_documents(product)
    return product


def channel(
    code: str | None = None, *, lines: tuple[str, ...] = ("return_shipping", "flight_delay", "accident")
) -> SalesUnit:
    n = next(_seq)
    root = SalesUnit.objects.filter(kind="agency").first() or unit(f"HQ{n}", "agency")
    return unit(code or f"CH{n}", "channel", root, licence_lines=lines, licence_number=f"LIC{n}")


def shown(product: Product) -> tuple[ShownDocument, ...]:
    return tuple(
        ShownDocument(d.pk, d.content_sha256)
        for d in Document.objects.filter(version=product.current_version).order_by("sort_order", "id")
    )


def identity(text: str = "110101199003074514") -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def sale(
    product: Product,
    *,
    order_ref: str | None = None,
    plan_code: str = "standard",
    order_amount: str = "199",
    consent_at: datetime.datetime | None = None,
    documents: tuple[ShownDocument, ...] | None = None,
    identity_ref: str | None = None,
    scenario: dict[str, Any] | None = None,
    docs_cache: dict[int, tuple[ShownDocument, ...]] | None = None,
) -> EmbeddedSale:
    n = next(_seq)
    ref = order_ref or f"ORD-{n:08d}"
    if documents is None:
        if docs_cache is not None:
            documents = docs_cache.setdefault(product.pk, shown(product))
        else:
            documents = shown(product)
    return EmbeddedSale(
        product_code=product.code,
        plan_code=plan_code,
        identity_ref=identity_ref if identity_ref is not None else identity(f"id-{n}"),
        order_ref=ref,
        documents=documents,
        consent_at=consent_at or timezone.now() - datetime.timedelta(seconds=30),
        page_version="checkout-2026.12.1",
        scenario=scenario
        if scenario is not None
        else {"order_amount": order_amount, "order_number": f"TB{n:010d}"},
        insured_name="张三",
    )
