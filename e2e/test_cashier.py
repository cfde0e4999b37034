"""The sandbox cashier on a phone, as a real phone cashier behaves: the payer comes from the
real-name binding (masked, never typed again), a declined card says why in Chinese and offers a
one-tap retry (straight to a new cashier), the application is not "支付中" after the failure,
and paying again ends on our result page.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from e2e import test_application_flow as journey
from e2e.test_application_flow import (
    PASSWORD,
    fill_data,
    log_in,
    product,
    quote_and,
    read_documents,
    verify_and_confirm,
)
from huibao.application.models import Application
from huibao.application.states import ApplicationStatus
from huibao.application.tests import factories as f
from huibao.payment.models import Payment
from huibao.payment.services import create_payment
from huibao.payment.tests.factories import DECLINED_CARD, GOOD_CARD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
flow = journey.flow  # the live server with notifications delivered at once


def test_declined_card_says_why_offers_a_retry_and_paying_again_ends_on_our_result_page(
    flow: str, phone: Page, screenshot_dir: Path
) -> None:
    # given: a signed application of a logged-in customer, on our pay page
    accident = product("安心出行意外险", signature="confirmation")
    customer = f.customer("13900008801")
    customer.set_password(PASSWORD)
    customer.save()
    id_number = f.resident_id(f.years_ago(40))
    page = phone
    log_in(page, flow, "13900008801", "/")
    quote_and(page, flow, accident, "立即投保")
    fill_data(page, "赵文华", id_number)
    verify_and_confirm(page)
    read_documents(page, 1)
    page.get_by_label("我已阅读并同意以上声明，确认投保").check()
    page.get_by_role("button", name="确认签名").click()
    expect(page.locator("h1")).to_have_text("支付保费")
    our_page = page.url

    # when: they go to the cashier
    page.get_by_role("button", name=re.compile("去支付")).click()
    page.wait_for_url(re.compile(r"/payment/sandbox/pay/"))
    # then: the amount, and the payer of the real-name binding, masked; name and ID not asked
    expect(page.get_by_test_id("amount")).to_have_text("¥100.00")
    expect(page.get_by_test_id("payer-name")).to_have_text("赵**")
    expect(page.get_by_test_id("payer")).to_contain_text("已实名")
    expect(page.get_by_label("付款人姓名")).to_be_hidden()
    expect(page.get_by_label("付款人身份证号")).to_be_hidden()
    # styled as a cashier: its own stylesheet, a big full-width pay button
    pay_button = page.get_by_role("button", name=re.compile("确认支付"))
    box = pay_button.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] >= 48, box
    assert pay_button.evaluate("el => getComputedStyle(el).backgroundColor") != "rgba(0, 0, 0, 0)"
    page.screenshot(path=str(screenshot_dir / "cashier.png"), full_page=True)

    # when: the card is declined
    page.get_by_label("银行卡号").fill(DECLINED_CARD)
    pay_button.click()
    # then: a Chinese reason, no raw code, and a retry
    result = page.get_by_test_id("result")
    expect(result).to_contain_text("支付失败")
    expect(page.get_by_test_id("reason")).to_have_text("发卡行拒绝了本次交易，请换一张银行卡重新支付")
    expect(page.locator("body")).not_to_contain_text("card_declined")
    page.screenshot(path=str(screenshot_dir / "cashier-declined.png"), full_page=True)
    declined_cashier = page.url
    # and: our pay page says why and offers to pay again; the application is no longer 支付中
    app = Application.objects.get()
    assert app.status == ApplicationStatus.SIGNED
    page.goto(our_page)
    expect(page.get_by_test_id("payment-failed")).to_contain_text("银行卡被发卡行拒绝")
    expect(page.locator("main")).not_to_contain_text("card_declined")
    page.goto(f"{flow}/apply/")
    expect(page.locator("main")).to_contain_text(app.number)
    expect(page.locator("main")).not_to_contain_text("支付中")

    # when: back at the cashier's answer, one tap on 重新支付 opens a new payment's cashier
    page.goto(declined_cashier)
    page.get_by_role("button", name="重新支付").click()
    page.wait_for_url(lambda url: "/payment/sandbox/pay/" in url and url != declined_cashier)
    page.get_by_label("银行卡号").fill(GOOD_CARD)
    page.get_by_role("button", name=re.compile("确认支付")).click()
    # then: straight back to our result page, the policy issued
    page.wait_for_url(re.compile(r"/done/$"))
    expect(page.locator("h1")).to_contain_text("投保成功")
    app.refresh_from_db()
    assert app.status == ApplicationStatus.ISSUED
    assert [p.status for p in Payment.objects.order_by("created_at")] == ["failed", "succeeded"]


def test_the_cashier_in_elder_mode_has_large_type(flow: str, phone: Page) -> None:
    # given: an open payment bound to its payer, and a visitor in elder mode
    payment = create_payment(
        amount=Decimal("100"),
        payer_name="钱秀兰",
        payer_id_number=f.resident_id(f.years_ago(72), male=False),
        reference_kind="test",
        reference_id="elder-1",
        expires_in=datetime.timedelta(minutes=30),
        return_url="/",
    )
    page = phone
    page.goto(f"{flow}/")
    page.get_by_role("button", name="适老模式").click()
    expect(page.locator("body")).to_have_class("elder")
    # when: the cashier opens
    page.goto(payment.checkout_url)
    # then: body and secondary text at least 20 px
    expect(page.locator("body")).to_have_class(re.compile("cashier--elder"))
    for selector in ("[data-testid=payer]", ".cashier__hint", ".cashier__test", "label[for=card-number]"):
        size = page.locator(selector).first.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
        assert size >= 20, (selector, size)
