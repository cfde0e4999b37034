"""The consumer polish list on a phone (390×844, zh-CN): 加入对比 turns into 已加入 (and back), the
compare page leads to each product's quote, the home page's 「不知道怎么选」 leads somewhere and its
quick searches are whole touch targets, an error-summary link shows the field's label below the
sticky header, a man is not asked 目前是否怀孕 and the review lists the answers in the form's order,
the face check names the applicant in full and says what happened, and "my policies" and the
policy page give the same end of cover."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from e2e import test_application_flow as journey
from e2e.test_application_flow import PASSWORD, log_in, quote_and, read_documents
from e2e.test_policy_hub import log_in as log_in_as
from huibao.application.tests import factories as f
from huibao.catalog.models import Document, Product
from huibao.catalog.search import invalidate_index
from huibao.catalog.tests.web_catalog import build_catalog
from huibao.policy.tests import factories as pf

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
flow = journey.flow  # the live server with notifications delivered at once

MEDICAL = ("pingan-e-sheng-bao", "zhongan-zun-xiang-e-sheng")
# In the form's order; stored by code they would read abnormal_exam, cancer, hospitalised, pregnant.
QUESTIONS = [
    {"code": "hospitalised", "text": "过去2年内是否曾住院？", "knock_out_answer": True},
    {"code": "pregnant", "text": "目前是否怀孕？", "knock_out_answer": True, "sex": "F"},
    {"code": "cancer", "text": "是否患有或曾患有恶性肿瘤？", "knock_out_answer": True},
    {"code": "abnormal_exam", "text": "过去1年内体检是否有异常？", "knock_out_answer": True},
]


def compare_button(page: Page, code: str) -> Any:
    return page.locator(f'button[data-compare="{code}"]')


def test_compare_buttons_say_added_and_the_compare_page_leads_to_a_quote(
    live_server: Any, transactional_db: None, phone: Page, screenshot_dir: Path
) -> None:
    # given: a small market and a visitor on the search results
    invalidate_index()
    build_catalog()
    page = phone
    page.goto(live_server.url + "/products/?q=医疗", timeout=60_000)  # the first search builds the index
    first, second = (compare_button(page, code) for code in MEDICAL)
    expect(first).to_have_text("加入对比")
    expect(first).to_have_attribute("aria-pressed", "false")

    # when: they add two products
    first.click()
    expect(page.locator("#compare-tray .compare-tray__title")).to_have_text("对比 1/4")
    # then: the button says so at once (the htmx answer), and the other does not
    expect(first).to_have_text("已加入对比")
    expect(first).to_have_attribute("aria-pressed", "true")
    expect(second).to_have_text("加入对比")
    second.click()
    expect(page.locator("#compare-tray .compare-tray__title")).to_have_text("对比 2/4")
    expect(second).to_have_text("已加入对比")
    page.screenshot(path=str(screenshot_dir / "polish-compare-added.png"))

    # and after a reload the page still shows both as added
    page.reload()
    expect(compare_button(page, MEDICAL[0])).to_have_text("已加入对比")
    expect(compare_button(page, MEDICAL[1])).to_have_text("已加入对比")

    # when: 已加入 is tapped again, the product leaves the tray and the button turns back
    compare_button(page, MEDICAL[1]).click()
    expect(page.locator("#compare-tray .compare-tray__title")).to_have_text("对比 1/4")
    expect(compare_button(page, MEDICAL[1])).to_have_text("加入对比")
    # and removed from the tray's ×, the page's button turns back too
    compare_button(page, MEDICAL[1]).click()
    expect(compare_button(page, MEDICAL[1])).to_have_text("已加入对比")
    page.locator("#compare-tray").get_by_role("button", name=re.compile("平安e生保")).click()
    expect(compare_button(page, MEDICAL[0])).to_have_text("加入对比")
    expect(compare_button(page, MEDICAL[1])).to_have_text("已加入对比")

    # when: they compare two products
    page.goto(live_server.url + f"/compare/?codes={','.join(MEDICAL)}")
    # then: each column has a buy button leading to that product's quote
    buy = page.get_by_test_id("compare-buy")
    expect(buy).to_have_count(2)
    expect(buy.first).to_have_text("立即投保")
    expect(page.get_by_test_id("compare-buy-bottom")).to_have_count(2)
    box = buy.first.bounding_box()
    assert box is not None and box["height"] >= 44, box
    page.screenshot(path=str(screenshot_dir / "polish-compare-buy.png"), full_page=True)
    page.get_by_test_id("compare-buy-bottom").nth(1).click()
    page.wait_for_url(re.compile(rf"/products/{MEDICAL[1]}/quote/$"))
    expect(page.get_by_role("button", name="获取报价")).to_be_visible()


def test_home_quick_searches_are_touch_targets_and_the_advice_banner_leads_to_a_ranking(
    live_server: Any, transactional_db: None, phone: Page, screenshot_dir: Path
) -> None:
    # given: the home page on a phone
    invalidate_index()
    build_catalog()
    page = phone
    page.goto(live_server.url + "/", timeout=60_000)  # the first request builds the search index
    # then: every quick search (and every category chip) is at least 44 px tall
    for selector in (".hot-words a", "a.chip"):
        heights = page.locator(selector).evaluate_all("els => els.map(e => e.getBoundingClientRect().height)")
        assert heights and min(heights) >= 44, (selector, heights)
    banner = page.get_by_test_id("advice-banner")
    expect(banner).to_contain_text("不知道怎么选")
    banner.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "polish-home.png"), full_page=True)
    # when: they tap the banner's button
    banner.get_by_role("link", name="帮我挑一挑").click()
    # then: the ranking that prices for who is insured
    page.wait_for_url(re.compile(r"/rankings/\?tab=cheapest"))
    expect(page.locator("#profile-h")).to_have_text("被保险人信息")
    page.get_by_role("button", name="开始排行").click()
    expect(page.locator(".rank-list li").first).to_be_visible()


def _medical_with_questions(**rules: Any) -> Product:
    product = f.simple_product(
        rules={"signature": "confirmation", **rules}, health_questions=QUESTIONS, min_read_seconds=1
    )
    Product.objects.filter(pk=product.pk).update(name="安心百万医疗")
    Document.objects.filter(version=product.current_version).update(body="条款正文。\n\n酒后驾驶不赔。")
    return product


def _customer(phone_number: str) -> Any:
    user = f.customer(phone_number)
    user.set_password(PASSWORD)
    user.save()
    return user


def test_a_man_is_not_asked_about_pregnancy_and_the_review_keeps_the_form_order(
    flow: str, phone: Page, screenshot_dir: Path
) -> None:
    # given: a product asking four questions, one of them of women only, and a customer logged in
    product = _medical_with_questions()
    _customer("13900009101")
    page = phone
    log_in(page, flow, "13900009101", f"/products/{product.code}/")
    quote_and(page, flow, product, "立即投保")
    expect(page.locator("h1")).to_have_text("填写投保信息")
    # while no ID number is typed, every question shows
    expect(page.get_by_text("目前是否怀孕？", exact=True)).to_be_visible()

    # when: they save the empty form and tap the first error of the summary
    page.get_by_role("button", name="保存，下一步").click()
    link = page.locator("#error-summary a").first
    expect(link).to_have_text("请填写姓名")
    link.click()
    # then: the field's label is in view below the sticky header, and the cursor is in the field
    expect(page.get_by_label("姓名", exact=True)).to_be_focused()
    header_bottom = page.locator(".site-header").evaluate("e => e.getBoundingClientRect().bottom")
    label_top = page.locator('label[for="f-applicant-name"]').evaluate("e => e.getBoundingClientRect().top")
    assert label_top >= header_bottom, (label_top, header_bottom)
    page.screenshot(path=str(screenshot_dir / "polish-error-link.png"))

    # when: a man's ID number is typed (the insured is himself)
    page.get_by_label("姓名", exact=True).fill("李明远")
    page.get_by_label("身份证号", exact=True).fill(f.resident_id(f.years_ago(35), male=True))
    # then: the pregnancy question goes away; the others stay, in the product's order
    expect(page.get_by_text("目前是否怀孕？", exact=True)).to_be_hidden()
    legends = page.locator(".question:visible legend").all_inner_texts()
    assert legends == ["过去2年内是否曾住院？", "是否患有或曾患有恶性肿瘤？", "过去1年内体检是否有异常？"], (
        legends
    )
    page.screenshot(path=str(screenshot_dir / "polish-health-man.png"), full_page=True)
    for question in page.locator(".question:visible").all():
        question.locator("label.radio", has_text="否").click()
    page.get_by_role("button", name="保存，下一步").click()

    # then: saved without the question (the server does not ask it of a man either)
    expect(page.locator("h1")).to_have_text("实名认证")
    page.get_by_text("本人同意将以上姓名和身份证号用于身份核验").click()
    page.get_by_role("button", name="开始实名认证").click()
    expect(page.locator("h1")).to_have_text("确认投保信息")
    # and the review lists the answers in the order the form asked them
    answers = page.locator("dt:text-is('健康告知') + dd").all_inner_texts()
    assert [a.rsplit(" ", 1)[0] for a in answers] == legends, answers
    assert not any("怀孕" in a for a in answers)
    page.screenshot(path=str(screenshot_dir / "polish-review-answers.png"), full_page=True)


def test_the_face_check_names_the_applicant_and_says_it_passed(
    flow: str, phone: Page, screenshot_dir: Path
) -> None:
    # given: a product that always asks for a face check, and a customer at the face check
    product = _medical_with_questions(face_check={"always": True})
    _customer("13900009102")
    page = phone
    log_in(page, flow, "13900009102", f"/products/{product.code}/")
    quote_and(page, flow, product, "立即投保")
    page.get_by_label("姓名", exact=True).fill("李明远")
    page.get_by_label("身份证号", exact=True).fill(f.resident_id(f.years_ago(40), male=False))
    for question in page.locator(".question:visible").all():
        question.locator("label.radio", has_text="否").click()
    page.get_by_role("button", name="保存，下一步").click()
    page.get_by_text("本人同意将以上姓名和身份证号用于身份核验").click()
    page.get_by_role("button", name="开始实名认证").click()
    # (a woman is asked all four questions, in order)
    answers = page.locator("dt:text-is('健康告知') + dd").all_inner_texts()
    assert [a.rsplit(" ", 1)[0] for a in answers] == [q["text"] for q in QUESTIONS], answers
    page.get_by_role("button", name="确认无误，提交核保").click()
    read_documents(page, 1)
    expect(page.locator("h1")).to_have_text("人脸识别")
    # then: the page names the applicant in full: it is her own application
    expect(page.locator("p.lead", has_text="人脸识别")).to_contain_text("投保人 李明远 本人")
    page.screenshot(path=str(screenshot_dir / "polish-face.png"), full_page=True)

    # when: she does the check at the provider's page
    page.get_by_role("button", name="开始人脸识别").click()
    page.wait_for_url(re.compile(r"/identity/sandbox/face/"))
    page.get_by_role("button", name="开始检测").click()
    # then: back on the platform, the next page says it passed and what comes next
    expect(page.locator("h1")).to_have_text("签名确认")
    expect(page.get_by_test_id("face-passed")).to_have_text(
        "人脸识别已通过，已确认是您本人操作。下一步：请签名确认投保。"
    )
    page.screenshot(path=str(screenshot_dir / "polish-face-passed.png"), full_page=True)


def test_my_policies_and_the_policy_page_end_the_cover_on_the_same_day(
    live_server: Any, transactional_db: None, phone: Page, screenshot_dir: Path, settings: Any, tmp_path: Path
) -> None:
    # given: an issued one-year policy (cover ends at 00:00 of a day, i.e. 24:00 of the day before)
    settings.VAR_DIR = tmp_path / "var"
    owner = pf.customer("13900009103")
    policy = pf.simple_issued(owner)
    end = timezone.localtime(policy.expires_at)
    assert (end.hour, end.minute) == (0, 0)
    last_day = (end - timedelta(days=1)).date()
    page = phone
    log_in_as(page, live_server.url, owner)
    # when: they look at "my policies" and then the policy
    page.goto(live_server.url + "/policy/mine/")
    # then: both end the cover at 24:00 of the same last day (the list said the next day's date)
    start = timezone.localtime(policy.effective_at)
    expect(page.get_by_test_id("period")).to_have_text(f"{start:%Y-%m-%d %H:%M} 至 {last_day:%Y-%m-%d} 24:00")
    page.screenshot(path=str(screenshot_dir / "polish-mine-period.png"))
    page.get_by_test_id("all-actions").click()
    expect(page.locator("dt:text-is('保险期间') + dd")).to_contain_text(f"至{last_day:%Y年%m月%d日}24时止")
