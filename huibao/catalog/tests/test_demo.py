from collections import Counter
from decimal import Decimal

import pytest
from django.core.management import call_command

from huibao.catalog.demo import generate_market, line_counts
from huibao.catalog.models import (
    Insurer,
    LineOfBusiness,
    Product,
    ProductStatus,
    ProductVersion,
    VersionStatus,
)
from huibao.catalog.services import publication_problems
from huibao.rating import rules
from huibao.rating.errors import QuoteRejected
from huibao.rating.services import build_rating_product

SEED = 20261122


def test_line_counts_cover_every_line_and_add_up():
    for total in (14, 80, 1000):
        counts = line_counts(total)
        assert sum(counts.values()) == total
        assert set(counts) == set(LineOfBusiness.values)
        assert min(counts.values()) >= 1


def test_the_same_seed_gives_the_same_market():
    # when
    a, b, c = generate_market(SEED, 80), generate_market(SEED, 80), generate_market(SEED + 1, 80)

    # then
    assert a == b
    assert [p.document for p in a.products] != [p.document for p in c.products]


def test_the_default_market_is_large_and_varied():
    # when
    market = generate_market(SEED)

    # then
    assert len(market.insurers) >= 60
    assert {i.kind for i in market.insurers} == {"property", "life", "health"}
    assert len(market.products) >= 1000
    assert len({p.document["product"]["code"] for p in market.products}) == len(market.products)
    sales = [p.sales_count for p in market.products]
    assert max(sales) > 100 * max(min(sales), 1)


@pytest.fixture
def loaded(db):
    call_command("load_demo", seed=SEED, products=80, verbosity=0)


def _default_profile(product, plan):
    """A default eligible insured: the engine's youngest-adult profile, first term, male."""
    inputs = rules.fill_profile(product, plan, {})
    inputs.setdefault("sex", "M")
    if product.term_options:
        inputs.setdefault("term", product.term_options[0].code)
    if product.payment_modes:
        inputs.setdefault("payment_mode", product.payment_modes[0])
    return inputs


def test_load_demo_loads_every_line_on_sale(loaded):
    # then
    counts = Counter(Product.objects.values_list("line", flat=True))
    assert counts == Counter(line_counts(80))
    assert set(counts) == set(LineOfBusiness.values)
    assert Insurer.objects.count() >= 60
    assert Product.objects.exclude(status=ProductStatus.ON_SALE).count() == 0
    assert ProductVersion.objects.exclude(status=VersionStatus.PUBLISHED).count() == 0
    assert Product.objects.filter(premium_from__isnull=True).count() == 0
    assert Product.objects.filter(crowds__isnull=True).count() == 0


def test_load_demo_is_idempotent_and_reset_reloads(loaded):
    # given
    codes = set(Product.objects.values_list("code", flat=True))

    # when
    call_command("load_demo", seed=SEED, products=80, verbosity=0)

    # then
    assert set(Product.objects.values_list("code", flat=True)) == codes

    # when
    call_command("load_demo", seed=SEED, products=40, reset=True, verbosity=0)

    # then
    assert Product.objects.count() == 40


def test_every_loaded_version_passes_the_publication_rules(loaded):
    for version in ProductVersion.objects.select_related("product"):
        assert publication_problems(version) == [], version.product.code


def test_every_product_quotes_for_a_default_eligible_profile(loaded):
    for version in ProductVersion.objects.select_related("product").prefetch_related("plans"):
        product = build_rating_product(version)
        for plan in product.plans:
            # when
            try:
                result = rules.price(product, plan.code, _default_profile(product, plan))
            except QuoteRejected as exc:  # pragma: no cover - the message names the product
                raise AssertionError(f"{version.product.code}/{plan.code}: {exc.as_dict()}") from exc

            # then
            assert result.premium > 0, (version.product.code, plan.code)
        assert version.product.premium_from == rules.cheapest_premium(product)


def test_premiums_never_fall_when_the_sum_insured_rises(loaded):
    checked = 0
    for version in ProductVersion.objects.select_related("product").prefetch_related("plans"):
        product = build_rating_product(version)
        assert "sum_insured" in product.spec.non_decreasing_in
        for plan in product.plans:
            if plan.is_fixed:
                continue
            inputs = _default_profile(product, plan)
            low = rules.price(product, plan.code, {**inputs, "sum_insured": plan.min_sum_insured}).premium
            high = rules.price(product, plan.code, {**inputs, "sum_insured": plan.max_sum_insured}).premium
            assert high >= low, (version.product.code, plan.code)
            checked += 1
    assert checked > 0


def test_line_pricing_makes_sense(loaded):
    # given: the statutory base of the compulsory motor insurance
    ctp = Product.objects.filter(line="auto_compulsory").first().current_version
    product = build_rating_product(ctp)
    base = {"age": 30, "term": "1y", "payment_mode": "annual", "vehicle_class": "family_lt6"}

    # when
    neutral = rules.price(product, "standard", {**base, "floating_level": "A4"}).premium
    three_clean_years = rules.price(product, "standard", {**base, "floating_level": "A3"}).premium

    # then
    assert neutral == Decimal("950.00")
    assert three_clean_years == Decimal("665.00")

    # and term life costs more for an older insured
    tl = build_rating_product(Product.objects.filter(line="term_life").first().current_version)
    young = {"age": 25, "sex": "M", "term": "20y", "payment_mode": "annual", "sum_insured": Decimal(1000000)}
    old = {**young, "age": 45}
    plan = tl.plans[0].code
    assert rules.price(tl, plan, old).premium > rules.price(tl, plan, young).premium * 2
