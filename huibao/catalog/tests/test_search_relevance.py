"""The relevance set: realistic queries against the demo market of 1,000 products, each with the
lines of business its answers must come from. The first page (10) of every query holds no product
of an unrelated line, and every line the query names is found."""

from collections import Counter

import pytest
from django.core.management import call_command

from huibao.catalog.search import SearchFilters, search_products

pytestmark = pytest.mark.django_db

SEED = 20261122
MEDICAL, CI, ACCIDENT = {"medical"}, {"critical_illness"}, {"accident"}

# query → the lines of business that may answer it (all of them must be found).
RELEVANCE_SET: dict[str, set[str]] = {
    "百万医疗": MEDICAL,
    "医疗险": MEDICAL,
    "住院医疗": MEDICAL,
    "少儿医疗": MEDICAL,
    "父母医疗": MEDICAL,
    "高端医疗": MEDICAL,
    "众安百万医疗": MEDICAL,
    "防癌险": MEDICAL,
    "重疾险": CI,
    "重疾": CI,
    "大病": CI,
    "少儿重疾": CI,
    "意外险": ACCIDENT,
    "意外": ACCIDENT,
    "少儿意外": ACCIDENT,
    "老人意外": ACCIDENT,
    "交通意外": ACCIDENT,
    "意外医疗": ACCIDENT,
    "网约车": ACCIDENT,
    "平安 意外险": ACCIDENT,
    "车险": {"auto_compulsory", "auto_commercial"},
    "交强险": {"auto_compulsory"},
    "商业车险": {"auto_commercial"},
    "旅游保险": {"travel"},
    "出国旅游": {"travel"},
    "境外旅行": {"travel"},
    "申根签证": {"travel"},
    "航班延误": {"flight_delay"},
    "运费险": {"return_shipping"},
    "退货": {"return_shipping"},
    "网购": {"return_shipping", "account_security"},
    "碎屏险": {"phone_screen"},
    "手机": {"phone_screen"},
    "宠物险": {"pet"},
    "宠物医疗": {"pet"},
    "猫": {"pet"},
    "家财险": {"home_property"},
    "房子": {"home_property"},
    "定期寿险": {"term_life"},
    "寿险": {"term_life", "whole_life"},
    "终身寿险": {"whole_life"},
    "年金险": {"whole_life"},
    "养老": {"whole_life"},
    "账户安全": {"account_security"},
    "盗刷": {"account_security"},
}


@pytest.fixture
def demo_market(db):
    call_command("load_demo", seed=SEED, verbosity=0)


def test_the_relevance_set_is_large_enough():
    assert len(RELEVANCE_SET) >= 30


def test_every_query_of_the_relevance_set_answers_from_its_lines(demo_market):
    # when
    answers = {query: search_products(query, SearchFilters(), limit=1000) for query in RELEVANCE_SET}

    # then: the first page holds no unrelated line, and every named line is found
    problems = {}
    for query, lines in RELEVANCE_SET.items():
        page = answers[query]
        first_page = [product.line for product in page.items[:10]]
        unrelated = Counter(line for line in first_page if line not in lines)
        missing = lines - {product.line for product in page.items}
        if not first_page or unrelated or missing:
            problems[query] = {"first page": Counter(first_page), "unrelated": unrelated, "missing": missing}
    assert not problems, problems


def test_a_line_word_keeps_the_whole_answer_in_its_line(demo_market):
    # 百万医疗 once listed 644 products, the accident ones with an 意外医疗 cover among them.
    page = search_products("百万医疗", SearchFilters(), limit=1000)

    assert page.total == len(page.items) > 10
    assert {product.line for product in page.items} == {"medical"}


def test_a_crowd_word_keeps_the_answer_for_that_crowd(demo_market):
    # 孩子 is also the 毛孩子 of the pet products' taglines.
    page = search_products("孩子", SearchFilters(), limit=1000)

    assert page.items
    assert all(product.crowds.filter(code="children").exists() for product in page.items[:10])
    assert "pet" not in {product.line for product in page.items[:10]}


def test_a_narrow_word_still_needs_its_own_match(demo_market):
    # 网约车 restricts to accident but does not list every accident product.
    accident = search_products("意外险", SearchFilters(), limit=1000)
    ride_hailing = search_products("网约车", SearchFilters(), limit=1000)

    assert 0 < ride_hailing.total < accident.total
