"""A new visitor on a phone: search, filter, compare three products, open one and get a quote."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from huibao.catalog.search import invalidate_index
from huibao.catalog.tests.web_catalog import build_catalog
from huibao.rating.models import Quote

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def type_into(field, text: str) -> None:
    """Types like a person (keyup events), replacing what the field held."""
    field.fill("")
    field.press_sequentially(text, delay=30)


def premium_of(page) -> Decimal:
    return Decimal(page.locator("[data-premium]").get_attribute("data-premium"))


def test_browse_compare_and_quote_on_a_phone(live_server, transactional_db, phone, screenshot_dir):
    # given: a small market and a new visitor
    invalidate_index()
    build_catalog()
    page = phone
    page.goto(live_server.url + "/")
    expect(page.locator("h1")).to_have_text("先比一比，再投保")
    expect(page.locator("nav.tabbar")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "home.png"), full_page=True)

    # when: they search in Chinese
    page.get_by_label("搜索产品").fill("医疗")
    page.get_by_role("button", name="搜索").click()
    page.wait_for_url(re.compile(r"/products/\?q="))
    expect(page.locator(".results__count")).to_contain_text("款产品")

    # and filter to the medical line (htmx swaps the results and keeps the URL in sync)
    page.locator("details.filters summary").click()
    page.locator("#f-line").select_option("medical")
    page.wait_for_url(re.compile(r"line=medical"))
    assert "crowd=" not in page.url  # blank filters stay out of the shared URL
    expect(page.locator(".results__count")).to_have_text("共找到 3 款产品")
    expect(page.locator("#f-line option[value=medical]")).to_have_text("医疗险 (3)")

    # and add the three to compare
    # (each add waits for the tray to count it: a click during the previous swap would be lost)
    for count, code in enumerate(("pingan-e-sheng-bao", "zhongan-zun-xiang-e-sheng", "cpic-lan-yi-bao"), 1):
        page.locator(f'button[data-compare="{code}"]').click()
        expect(page.locator("#compare-tray .compare-tray__title")).to_have_text(f"对比 {count}/4")
        expect(page.locator("#compare-tray .compare-tray__msg")).to_contain_text("加入对比")
    expect(page.locator(".tabbar .badge")).to_have_text("3")

    # then: the comparison highlights the rows that differ
    page.get_by_role("link", name="开始对比").click()
    page.wait_for_url(re.compile(r"/compare/\?codes="))
    expect(page.locator(".compare-table__product")).to_have_count(3)
    deductible = page.locator("tr", has=page.locator("th", has_text="免赔额"))
    expect(deductible).to_have_class(re.compile(r"\bdiffers\b"))
    expect(page.locator("tr", has=page.locator("th", has_text="保障期限"))).to_have_class(
        re.compile(r"\bsame\b")
    )
    highlighted = deductible.locator("td").first.evaluate("el => getComputedStyle(el).backgroundColor")
    assert highlighted not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")
    page.screenshot(path=str(screenshot_dir / "compare.png"), full_page=True)
    # "only differences" hides the rows that are the same
    page.get_by_label("只看不同项").check()
    expect(page.locator("tr.same").first).to_be_hidden()

    # when: they open a product and fill the quote form
    page.locator(".compare-table__product", has_text="平安e生保百万医疗").click()
    page.wait_for_url(re.compile(r"/products/pingan-e-sheng-bao/$"))
    expect(page.locator("h1")).to_have_text("平安e生保百万医疗")
    page.screenshot(path=str(screenshot_dir / "product.png"), full_page=True)
    age = page.get_by_label("被保险人年龄")
    sum_insured = page.get_by_label("保额（元）")
    type_into(age, "30")
    page.locator("label.radio", has_text="女").click()
    type_into(sum_insured, "1000000")

    # then: the premium appears and follows the sum insured and the age
    premium = page.locator("[data-premium]")
    # ¥100万 × 1.5 per ¥1万 (age 18-40) × 1.00 (female)
    expect(premium).to_have_attribute("data-premium", "150.00")
    first = premium_of(page)
    type_into(sum_insured, "3000000")
    expect(premium).not_to_have_attribute("data-premium", str(first))
    higher_sum = premium_of(page)
    assert higher_sum > first
    type_into(age, "50")
    expect(premium).not_to_have_attribute("data-premium", str(higher_sum))
    assert premium_of(page) > higher_sum

    # and an age above the limit shows the rule next to the age field
    type_into(age, "80")
    expect(page.locator("#err-age")).to_contain_text("65")
    expect(premium).to_have_count(0)
    type_into(age, "40")
    expect(page.locator("#err-age")).to_be_empty()
    expect(premium).to_be_visible()

    # when: they ask for the quote
    page.get_by_role("button", name="获取报价").click()
    # then: it is saved and explained
    expect(page.locator(".premium-box--saved")).to_be_visible()
    saved = Quote.objects.get()
    expect(page.get_by_test_id("quote-number")).to_have_text(saved.number)
    expect(page.locator(".steps li")).to_have_count(len(saved.steps))
