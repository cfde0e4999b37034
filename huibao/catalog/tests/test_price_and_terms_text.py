"""The lowest premium in the page's language (¥216.60起 / from ¥216.60), and the demo products'
terms stating their real 保险期间 and 交费期间 (issue 9, polish)."""

from __future__ import annotations

from decimal import Decimal

from django.template import Context, Template
from django.utils import translation

from huibao.catalog.demo import generate_market
from huibao.catalog.demo.lines import TERM_CODES
from huibao.catalog.demo.texts import period_text


def render_price(amount: Decimal, language: str) -> str:
    with translation.override(language):
        return Template("{% load catalog_format %}{% price_from amount %}").render(
            Context({"amount": amount})
        )


def test_the_lowest_premium_reads_in_the_language_s_order_with_its_space() -> None:
    zh = render_price(Decimal("216.6"), "zh-hans")
    en = render_price(Decimal("216.6"), "en")
    assert zh == '<span class="price__amount">¥216.60</span><span class="price__unit">起</span>'
    assert en == '<span class="price__unit">from</span> <span class="price__amount">¥216.60</span>'
    assert "and up" not in en and render_price(None, "en") == ""  # type: ignore[arg-type]


def test_a_term_life_s_terms_list_its_terms_and_its_premium_term() -> None:
    options = [{"code": c, "label": label, **extra} for c, label, extra in TERM_CODES]
    text = period_text(options, ["annual", "monthly"])
    assert "保至70岁" in text and "保险期间为10年，" not in text
    assert "交费期间与保险期间相同" in text and "年交或月交" in text


def test_a_whole_life_s_terms_state_its_premium_term_choices() -> None:
    text = period_text(
        [{"code": "life", "label": "终身", "to_age": 105}], ["annual"], {"1": "趸交", "10": "10年交"}
    )
    assert text.startswith("本合同保险期间为终身") and "交费期间为趸交或10年交" in text


def test_every_demo_product_s_terms_state_the_premium_term_and_term_life_its_real_terms() -> None:
    market = generate_market(20261122, 120)
    for product in market.products:
        body = product.document["documents"][0]["body"]
        assert "交费期间" in body, product.document["product"]["code"]
        if product.document["product"]["line"] == "term_life":
            assert "保至70岁" in body and "本合同保险期间为10年，" not in body
