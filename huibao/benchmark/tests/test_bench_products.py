"""`bench issue`'s own products: copies of the simplest product, one per insurer, that nobody has
to wait to read (so both sides of the bench saturate the server) and that change nothing else."""

from __future__ import annotations

import pytest

from bench.issue import BENCH_PRODUCT_PREFIX, _bench_products
from huibao.application.tests import factories as f
from huibao.catalog.models import Document, Product, ProductStatus
from huibao.rating.tests.factories import insurer

pytestmark = pytest.mark.django_db


def test_the_bench_products_are_the_source_without_reading_minimums_one_per_insurer() -> None:
    # given a product whose document must be read 10 s and whose key clauses 3 s each, and a
    # second insurer selling the same line
    source = f.simple_product(min_read_seconds=10, one_document=False)
    doc = Document.objects.filter(version=source.current_version).order_by("sort_order", "pk")[0]
    doc.key_clauses = [{**c, "min_read_seconds": 3} for c in doc.key_clauses] or [
        {
            "code": "exclusions",
            "kind": "exclusion",
            "title": "责任免除",
            "text": "不承担的责任",
            "min_read_seconds": 3,
        }
    ]
    doc.save(update_fields=["key_clauses"])
    other = insurer("bench-other")
    f.simple_product(insurer=other, one_document=False)
    # when the bench makes its products for two insurers, twice
    codes = _bench_products(source.code, 2)
    again = _bench_products(source.code, 2)
    # then there is one on sale per insurer, the source's first, made once
    assert (
        codes
        == again
        == [
            f"{BENCH_PRODUCT_PREFIX}{source.insurer.code}",
            f"{BENCH_PRODUCT_PREFIX}{other.code}",
        ]
    )
    copies = [Product.objects.get(code=code) for code in codes]
    assert [p.insurer_id for p in copies] == [source.insurer_id, other.pk]
    assert all(p.status == ProductStatus.ON_SALE for p in copies)
    assert Product.objects.filter(code__startswith=BENCH_PRODUCT_PREFIX).count() == 2
    # and each has the source's document and clauses with nothing to wait for, and its plans
    for product in copies:
        copied = list(Document.objects.filter(version=product.current_version).order_by("sort_order", "pk"))
        assert [d.kind for d in copied] == [
            d.kind
            for d in Document.objects.filter(version=source.current_version).order_by("sort_order", "pk")
        ]
        assert all(d.min_read_seconds == 0 for d in copied)
        assert all(c["min_read_seconds"] == 0 for d in copied for c in d.key_clauses)
        copy = copied[0]
        assert [c["code"] for c in copy.key_clauses] == [c["code"] for c in doc.key_clauses]
        assert copy.body == doc.body
        assert sorted(p.code for p in product.current_version.plans.all()) == sorted(
            p.code for p in source.current_version.plans.all()
        )
    # the source itself is unchanged
    assert Document.objects.get(pk=doc.pk).min_read_seconds == 10
