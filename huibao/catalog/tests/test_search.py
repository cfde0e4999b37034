from decimal import Decimal

import pytest

from huibao.catalog.models import LineOfBusiness, ProductStatus
from huibao.catalog.search import SORTS, SearchFilters, search_products, segment
from huibao.catalog.tests.factories import (
    CrowdFactory,
    InsurerFactory,
    ScenarioFactory,
    bump_revision,
    on_sale_product,
)
from huibao.core.errors import ValidationFailed

pytestmark = pytest.mark.django_db


@pytest.fixture
def market():
    pingan = InsurerFactory(code="pingan", name="中国平安财产保险股份有限公司", short_name="平安产险")
    zhongan = InsurerFactory(code="zhongan", name="众安在线财产保险股份有限公司", short_name="众安保险")
    adults = CrowdFactory(code="adult", name="成人", sort_order=2)
    kids = CrowdFactory(code="children", name="少儿", sort_order=1)
    health = ScenarioFactory(code="health", name="健康保障")
    shopping = ScenarioFactory(code="shopping", name="网购")
    products = {
        "medical": on_sale_product(
            name="尊享e生百万医疗险",
            code="zunxiang",
            insurer=zhongan,
            line=LineOfBusiness.MEDICAL,
            coverages=("一般医疗保险金", "重大疾病医疗保险金"),
            crowds=(adults,),
            scenarios=(health,),
            premium_from=Decimal("136.00"),
            sales_count=900,
            rating_avg=Decimal("4.80"),
            eligibility={"min_age_days": 30, "max_age": 60},
        ),
        "kids_medical": on_sale_product(
            name="小蜜蜂少儿百万医疗",
            code="bee",
            insurer=pingan,
            line=LineOfBusiness.MEDICAL,
            coverages=("住院医疗",),
            crowds=(kids,),
            scenarios=(health,),
            premium_from=Decimal("98.00"),
            sales_count=300,
            rating_avg=Decimal("4.60"),
            eligibility={"min_age_days": 28, "max_age": 17},
        ),
        "accident": on_sale_product(
            name="平安综合意外险",
            code="pa-accident",
            insurer=pingan,
            line=LineOfBusiness.ACCIDENT,
            coverages=("意外身故", "意外医疗"),
            crowds=(adults,),
            premium_from=Decimal("59.00"),
            sales_count=500,
            rating_avg=Decimal("4.20"),
            eligibility={"min_age_days": 6570, "max_age": 65},
        ),
        "shipping": on_sale_product(
            name="众安退货运费险",
            code="za-shipping",
            insurer=zhongan,
            line=LineOfBusiness.RETURN_SHIPPING,
            coverages=("退货运费损失",),
            scenarios=(shopping,),
            premium_from=Decimal("0.50"),
            sales_count=10000,
            rating_avg=Decimal("4.90"),
            eligibility={},
        ),
    }
    return products


def codes(page):
    return [p.code for p in page.items]


def test_segmentation_knows_insurance_words():
    # when
    tokens = segment("尊享e生百万医疗险")

    # then: the domain word and its parts are both index terms
    assert "百万医疗" in tokens
    assert "医疗" in tokens


def test_blank_query_lists_every_on_sale_product_by_sales(market):
    # when
    page = search_products()

    # then
    assert page.total == 4
    assert codes(page) == ["za-shipping", "zunxiang", "pa-accident", "bee"]


def test_medical_finds_million_medical_products(market):
    # when
    page = search_products("医疗")

    # then: both 百万医疗 products match through segmentation; the accident product only matches
    # through its "意外医疗" coverage, so it ranks below them
    assert set(codes(page)[:2]) == {"zunxiang", "bee"}
    assert "za-shipping" not in codes(page)


def test_synonym_finds_medical_products(market):
    # when
    page = search_products("医疗险")

    # then
    assert {"zunxiang", "bee"} <= set(codes(page))
    assert "za-shipping" not in codes(page)


def test_insurer_name_search(market):
    # when
    by_short_name = search_products("众安")
    by_full_name = search_products("平安保险")

    # then
    assert set(codes(by_short_name)) == {"zunxiang", "za-shipping"}
    assert set(codes(by_full_name)) == {"bee", "pa-accident"}


def test_words_are_and_ed(market):
    # when
    page = search_products("平安 医疗")

    # then: only the Ping An product that is about medical cover ranks first; the Ping An accident
    # product matches through its 意外医疗 coverage
    assert codes(page)[0] == "bee"
    assert "zunxiang" not in codes(page)


def test_typo_and_prefix_still_match(market):
    # when
    typo = search_products("运废险")  # 费 mistyped as 废
    prefix = search_products("退货")

    # then
    assert codes(typo) == ["za-shipping"]
    assert codes(prefix) == ["za-shipping"]


def test_unknown_query_finds_nothing(market):
    # when
    page = search_products("火星移民")

    # then
    assert page.total == 0
    assert page.items == []


def test_filters(market):
    # when
    by_line = search_products(filters=SearchFilters(line=LineOfBusiness.MEDICAL))
    by_crowd = search_products(filters=SearchFilters(crowd="children"))
    by_scenario = search_products(filters=SearchFilters(scenario="shopping"))
    by_insurer = search_products(filters=SearchFilters(insurer="pingan"))
    by_age_10 = search_products(filters=SearchFilters(age=10))
    by_age_0 = search_products(filters=SearchFilters(age=0))
    by_age_62 = search_products(filters=SearchFilters(age=62))
    by_price = search_products(filters=SearchFilters(max_premium=Decimal("100")))
    by_rating = search_products(filters=SearchFilters(min_rating=Decimal("4.7")))

    # then
    assert set(codes(by_line)) == {"zunxiang", "bee"}
    assert codes(by_crowd) == ["bee"]
    assert codes(by_scenario) == ["za-shipping"]
    assert set(codes(by_insurer)) == {"bee", "pa-accident"}
    assert set(codes(by_age_10)) == {"zunxiang", "bee", "za-shipping"}  # accident needs 18+
    assert set(codes(by_age_0)) == {"zunxiang", "bee", "za-shipping"}  # 30 days fits within year 0
    assert set(codes(by_age_62)) == {"pa-accident", "za-shipping"}
    assert set(codes(by_price)) == {"bee", "pa-accident", "za-shipping"}
    assert set(codes(by_rating)) == {"zunxiang", "za-shipping"}


def test_query_and_filter_combine(market):
    # when
    page = search_products("医疗", SearchFilters(crowd="adult"))

    # then
    assert codes(page)[0] == "zunxiang"
    assert "bee" not in codes(page)


def test_sorts(market):
    # when
    pages = {sort: codes(search_products(sort=sort)) for sort in SORTS}

    # then
    assert pages["sales"] == ["za-shipping", "zunxiang", "pa-accident", "bee"]
    assert pages["rating"] == ["za-shipping", "zunxiang", "bee", "pa-accident"]
    assert pages["price_asc"] == ["za-shipping", "pa-accident", "bee", "zunxiang"]
    assert pages["price_desc"] == ["zunxiang", "bee", "pa-accident", "za-shipping"]


def test_paging(market):
    # when
    first = search_products(sort="price_asc", offset=0, limit=2)
    second = search_products(sort="price_asc", offset=2, limit=2)

    # then
    assert first.total == second.total == 4
    assert codes(first) == ["za-shipping", "pa-accident"]
    assert codes(second) == ["bee", "zunxiang"]


def test_facets_count_each_dimension_without_its_own_filter(market):
    # when
    page = search_products(filters=SearchFilters(line=LineOfBusiness.MEDICAL))

    # then: the line facet still offers every line; the others count medical products only
    assert page.facets["line"] == [
        ("medical", "医疗险", 2),
        ("accident", "意外险", 1),
        ("return_shipping", "退货运费险", 1),
    ]
    assert page.facets["insurer"] == [("pingan", "平安产险", 1), ("zhongan", "众安保险", 1)]
    assert page.facets["crowd"] == [("children", "少儿", 1), ("adult", "成人", 1)]
    assert page.facets["scenario"] == [("health", "健康保障", 2)]


def test_invalid_parameters_name_the_field(market):
    # when
    with pytest.raises(ValidationFailed) as caught:
        search_products(sort="cheapest", limit=0)

    # then
    assert {e.field for e in caught.value.errors} == {"sort", "limit"}


def test_index_rebuilds_after_a_catalog_change(market):
    # given: the index is built
    assert search_products("宠物").total == 0

    # when: a product is added, and another one is taken off sale
    on_sale_product(name="萌宠宠物医疗险", code="pet", line=LineOfBusiness.PET, coverages=("宠物医疗",))
    market["shipping"].status = ProductStatus.OFF_SALE
    market["shipping"].save(update_fields=["status", "updated_at"])
    bump_revision()

    # then
    assert codes(search_products("宠物")) == ["pet"]
    assert search_products("运费险").total == 0


def test_index_rebuilds_when_only_the_revision_counter_moves(market):
    # given
    assert search_products("住院").total >= 1
    from huibao.catalog.models import Coverage

    # when: a coverage is renamed (the product row is untouched) and the counter moves
    Coverage.objects.filter(plan__version__product=market["shipping"]).update(name="住院津贴")
    bump_revision()

    # then
    assert "za-shipping" in codes(search_products("住院津贴"))


def test_query_count_does_not_grow_with_page_size(market, django_assert_max_num_queries):
    # given: a warm index
    search_products()

    # when / then
    with django_assert_max_num_queries(5):
        page = search_products(limit=100)
        [p.insurer.name for p in page.items]
        [p.current_version.tagline for p in page.items]
        labels = [p.crowd_labels + p.scenario_labels for p in page.items]
    assert all(isinstance(code, str) and label for pairs in labels for code, label in pairs)


def test_warming_builds_the_index_so_the_first_search_does_not(market, monkeypatch):
    import huibao.catalog.search as search

    search.invalidate_index()
    search.warm_index()
    assert search._index is not None

    def no_build(fingerprint):
        raise AssertionError("the first search built the index although it was warmed")

    monkeypatch.setattr(search, "_build", no_build)
    page = search_products("意外")
    assert page.ids == [market["accident"].id]


@pytest.mark.django_db(databases=[])
def test_a_server_process_warms_the_index_at_start_unless_told_not_to(monkeypatch, settings):
    import importlib
    import sys

    import huibao.catalog.search as search_module

    # Patched before the module is first imported here: the real warm-up would open a database
    # connection from its thread while this test runs.
    started = []
    monkeypatch.setattr(search_module, "warm_index_in_background", lambda: started.append(True))
    for module in ("huibao.wsgi", "huibao.asgi"):
        settings.HUIBAO_WARM_SEARCH_AT_START = True
        if module in sys.modules:
            importlib.reload(sys.modules[module])
        else:
            importlib.import_module(module)
        settings.HUIBAO_WARM_SEARCH_AT_START = False
        importlib.reload(sys.modules[module])
    assert started == [True, True]
