"""What a customer reads about their premium, their quote, their underwriting and their payment,
on a phone: per month when paid monthly, a plain explanation, the rule that fired, and why a
payment was refused."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from e2e.test_application_flow import (  # noqa: F401 (the fixture)
    PASSWORD,
    fill_data,
    flow,
    log_in,
    pay,
    product,
    quote_and,
    read_documents,
    sign,
    verify_and_confirm,
)
from huibao.application.models import Application
from huibao.application.tests import factories as f
from huibao.catalog.models import ProductVersion
from huibao.payment.models import Payment
from huibao.rating.models import Quote
from huibao.rating.services import clear_cache

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def customer(phone_number: str) -> Any:
    user = f.customer(phone_number)
    user.set_password(PASSWORD)
    user.save()
    return user


def monthly(p: Any) -> Any:
    ProductVersion.objects.filter(pk=p.current_version_id).update(payment_modes=["monthly", "annual"])
    clear_cache()
    return p


def test_monthly_payment_shows_the_month_and_the_year_everywhere(flow: str, phone: Page) -> None:  # noqa: F811
    # given: an accident product of ¥100.00 a year, paid monthly (¥8.33 a month)
    accident = monthly(product("月缴意外险"))
    customer("13900008888")
    id_number = f.resident_id(f.years_ago(35))
    page = phone
    log_in(page, flow, "13900008888", "/")
    # when: they quote it
    page.goto(f"{flow}/products/{accident.code}/")
    page.get_by_role("button", name="获取报价").click()
    box = page.locator(".premium-box--saved .premium-box__amount")
    # then: the amount per month, with its period and the total per year
    expect(box).to_contain_text("¥8.33/月")
    expect(box).to_contain_text("年缴合计 ¥100.00")
    page.locator(".premium-box--saved").get_by_role("button", name="立即投保").click()
    # and so does every page of the application
    expect(page.get_by_test_id("item-premium")).to_contain_text("¥8.33/月")
    expect(page.get_by_test_id("total")).to_contain_text("年缴合计 ¥100.00")
    fill_data(page, "王小明", id_number)
    verify_and_confirm(page)
    read_documents(page, 1)
    sign(page, "王小明")
    expect(page.get_by_test_id("item-premium")).to_contain_text("¥8.33/月")
    # the first instalment is what is charged at checkout
    expect(page.get_by_role("button", name=re.compile("去支付"))).to_have_text("去支付 ¥8.33")
    pay(page, "王小明")
    app = Application.objects.get()
    assert Payment.objects.get(pk=app.payment_id).amount == Decimal("8.33")
    expect(page.get_by_test_id("policy")).to_contain_text("¥8.33/月")
    expect(page.get_by_test_id("policy")).to_contain_text("年缴合计 ¥100.00")
    page.goto(f"{flow}/apply/")
    expect(page.get_by_test_id("app-premium")).to_contain_text("¥8.33/月")
    page.goto(f"{flow}/policy/mine/")
    expect(page.get_by_test_id("premium")).to_contain_text("¥8.33/月")
    page.get_by_test_id("policy").locator("a.policy-card").click()
    expect(page.get_by_test_id("premium")).to_contain_text("¥8.33/月")
    expect(page.get_by_test_id("premium")).to_contain_text("年缴合计 ¥100.00")


def test_annual_payment_is_shown_unchanged(flow: str, phone: Page) -> None:  # noqa: F811
    accident = product("年缴意外险")
    customer("13900008889")
    page = phone
    log_in(page, flow, "13900008889", "/")
    quote_and(page, flow, accident, "立即投保")
    expect(page.get_by_test_id("item-premium")).to_have_text("¥100.00")
    expect(page.get_by_test_id("total")).to_have_text("¥100.00")


MEDICAL_PRICING = {
    "inputs": {
        "social_insurance": {
            "type": "choice",
            "label": "有无社保",
            "choices": {"yes": "有社保", "no": "无社保"},
            "default": "yes",
        }
    },
    "tables": {
        "base": {
            "label": "年龄段基础保费",
            "keys": ["age", "social_insurance"],
            "bands": {"age": [0, 31]},
            "values": {"0|yes": "200", "0|no": "440", "31|yes": "300", "31|no": "660"},
        },
        "plan_factor": {"label": "计划系数", "keys": ["plan"], "values": {"basic": "1.539"}},
    },
    "steps": [
        {"name": "base", "label": "基础保费", "expr": "table('base')"},
        {"name": "plan_factor", "label": "计划系数", "expr": "table('plan_factor')"},
        {"name": "premium", "label": "应缴保费", "expr": "base * plan_factor"},
    ],
    "result": "premium",
}


def test_the_saved_quote_is_explained_in_plain_words_with_a_short_number(flow: str, phone: Page) -> None:  # noqa: F811
    # given: a medical product priced by age band, social insurance and plan
    medical = product("安心百万医疗")
    ProductVersion.objects.filter(pk=medical.current_version_id).update(
        pricing=MEDICAL_PRICING, payment_modes=["annual"]
    )
    clear_cache()
    page = phone
    page.goto(f"{flow}/products/{medical.code}/")
    page.get_by_label("被保险人年龄").fill("33")
    # when: they ask for the quote
    page.get_by_role("button", name="获取报价").click()
    saved = page.locator(".premium-box--saved")
    expect(saved).to_be_visible()
    # then: a short quote number, and the calculation in words and money to the fen
    quote = Quote.objects.get()
    expect(page.get_by_test_id("quote-number")).to_have_text(re.compile(r"^Q\d{8}[2-9A-Z]{6}$"))
    expect(page.get_by_test_id("quote-number")).to_have_text(quote.number)
    steps = page.get_by_test_id("explanation").locator("li")
    expect(steps.nth(0)).to_have_text("基础保费（33岁，有社保）¥300.00")
    expect(steps.nth(1)).to_have_text("计划系数（基础版）1.539")
    expect(steps.nth(2)).to_have_text("应缴保费¥300.00 × 1.539 = ¥461.70")
    text = saved.inner_text()
    for developer in ("base[", "plan_factor", "461.700000", str(quote.id)):
        assert developer not in text, developer
    # and the UUID stays the public id the buttons post
    assert saved.locator("input[name=quote_id]").first.get_attribute("value") == str(quote.id)


def test_manual_underwriting_gives_the_rule_that_fired_and_the_underwriters_note(
    flow: str,  # noqa: F811
    phone: Page,
) -> None:
    from huibao.application.services.referral import decide_case
    from huibao.underwriting.tests.factories import underwriter

    # given: a product that refers a sum insured above ¥5万 (the quote's is ¥10万), one question
    hospital = {"code": "hospitalised", "text": "过去2年内是否曾住院？", "knock_out_answer": True}
    accident = product(
        "高额意外险",
        **{},
    )
    version = accident.current_version
    eligibility = {**version.eligibility, "health_questions": [hospital]}
    ProductVersion.objects.filter(pk=version.pk).update(
        eligibility=eligibility, underwriting={"refer_sum_insured_above": "50000"}
    )
    clear_cache()
    customer("13900008890")
    id_number = f.resident_id(f.years_ago(35))
    page = phone
    log_in(page, flow, "13900008890", "/")
    quote_and(page, flow, accident, "立即投保")
    # when: every health answer is 否 and the application goes to an underwriter
    page.get_by_label("姓名", exact=True).fill("王小明")
    page.get_by_label("身份证号", exact=True).fill(id_number)
    page.get_by_label("手机号", exact=True).fill("13900008890")
    page.locator(".question label.radio", has_text="否").click()
    page.get_by_role("button", name="保存，下一步").click()
    verify_and_confirm(page)
    # then: the reason is the sum insured, in plain words — not the health answers
    expect(page.locator("h1")).to_have_text("人工核保中")
    reasons = page.get_by_test_id("referral-reasons")
    expect(reasons).to_contain_text("保额10万元超过5万元，需由核保人员人工审核。")
    expect(page.locator("main")).not_to_contain_text("健康告知")
    expect(page.locator("main")).not_to_contain_text("财务核保")
    # when: the underwriter accepts with a loading and a note
    app = Application.objects.get()
    decide_case(
        app.items.get().cases.get(),
        decision="accept_with_terms",
        underwriter=underwriter(),
        reasons="保额较高，按标准保费加收25%承保",
        loading_percent=25,
    )
    page.reload()
    # then: the terms page gives the underwriter's note and the rule, and no health reason
    expect(page.locator("h1")).to_have_text("核保通过，但有附加条件")
    expect(page.get_by_test_id("underwriter-note")).to_have_text(
        "核保人员说明：保额较高，按标准保费加收25%承保"
    )
    expect(page.get_by_test_id("terms-reasons")).to_contain_text("保额10万元超过5万元")
    expect(page.locator("main")).not_to_contain_text("根据您的健康告知")


def test_paying_with_someone_elses_card_says_why_and_what_is_refunded_when(
    flow: str,  # noqa: F811
    phone: Page,
) -> None:
    from huibao.payment.tests.factories import GOOD_CARD

    accident = product("他人代付意外险")
    customer("13900008891")
    id_number = f.resident_id(f.years_ago(35))
    page = phone
    log_in(page, flow, "13900008891", "/")
    quote_and(page, flow, accident, "立即投保")
    fill_data(page, "王小明", id_number)
    verify_and_confirm(page)
    read_documents(page, 1)
    sign(page, "王小明")
    # when: the applicant's spouse pays with her own card
    expect(page.locator("h1")).to_have_text("支付保费")
    our_page = page.url
    page.get_by_role("button", name=re.compile("去支付")).click()
    page.wait_for_url(re.compile(r"/payment/sandbox/pay/"))
    page.get_by_label("银行卡号").fill(GOOD_CARD)
    page.get_by_text("使用他人的银行卡").click()
    page.get_by_label("付款人姓名").fill("李小红")
    page.get_by_label("付款人身份证号").fill(f.resident_id(f.years_ago(33)))
    page.get_by_role("button", name="确认支付").click()
    # the gateway took the money and sends her back to our pay page, which refused it
    page.wait_for_url(our_page)
    # then: why, how much comes back and when — and a way to pay again
    refused = page.get_by_test_id("payment-refused")
    expect(refused).to_contain_text("付款人须为投保人本人")
    expect(refused).to_contain_text("全额退款 ¥100.00")
    expect(refused).to_contain_text("预计1–7个工作日到账")
    expect(refused).to_contain_text("请使用投保人 王小明 本人名下的银行卡重新支付")
    expect(page.locator("main")).not_to_contain_text("已拒收并退款")
    expect(page.get_by_role("button", name=re.compile("去支付"))).to_be_visible()
    # and the back office has the real payer and the refund
    payment = Payment.objects.get()
    assert payment.paid_by_name == "李小红" and payment.refunded_amount == Decimal("100.00")
