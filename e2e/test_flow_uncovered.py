"""Nothing fixed or sticky covers the purchase: on every step of an application (data form with its
errors, real-name check, review, underwriting terms, document, key clause, signature pad, pay page,
the cashier, the result), with the comparison tray full, each primary button, error message and the
signature pad's middle is the element found at its own centre, wherever it is scrolled to.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from e2e import test_application_flow as journey
from e2e.test_application_flow import PASSWORD, draw_name, log_in, read_documents
from huibao.application.tests import factories as f
from huibao.catalog.models import Document, Product
from huibao.payment.tests.factories import DECLINED_CARD, GOOD_CARD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
flow = journey.flow  # the live server with notifications delivered at once

# What must never be covered: the flow's buttons, the cashier's, every error shown, the pad.
WATCHED = ", ".join(
    (
        "main button:not([disabled])",
        "main .button",
        ".cashier__pay",
        ".field__error",
        "#error-summary",
        "#signature-error",
        "#signature-canvas",
        "[role=alert]",
    )
)

# Scrolls each visible watched element to the top, the middle and the bottom of the screen and
# asks the browser which element is at its centre: itself or one of its children, or it is covered.
_COVERED = """
(selector) => {
  const name = (el) => el
    ? `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${[...el.classList].join('.')}`
    : 'nothing';
  const problems = [];
  let checked = 0;
  for (const el of document.querySelectorAll(selector)) {
    const box = el.getBoundingClientRect();
    const isCanvas = el.tagName === 'CANVAS';
    if (el.closest('.visually-hidden') || box.width <= 1 || box.height <= 1) continue;
    if (getComputedStyle(el).visibility === 'hidden') continue;
    if (!isCanvas && !el.textContent.trim()) continue;
    checked += 1;
    for (const block of ['start', 'center', 'end']) {
      el.scrollIntoView({block, inline: 'nearest', behavior: 'instant'});
      const r = el.getBoundingClientRect();
      const x = r.left + r.width / 2, y = r.top + r.height / 2;
      if (y < 0 || y >= innerHeight) continue;
      const hit = document.elementFromPoint(x, y);
      if (!(hit === el || el.contains(hit))) {
        problems.push(`${name(el)} "${el.textContent.trim().slice(0, 20)}" (${block}) under ${name(hit)}`);
      }
    }
  }
  window.scrollTo(0, 0);
  return {checked, problems};
}
"""


def assert_uncovered(page: Page, step: str, *, at_least: int = 1) -> None:
    result = page.evaluate(_COVERED, WATCHED)
    assert result["checked"] >= at_least, (step, result)
    assert result["problems"] == [], (step, result["problems"])


def test_no_fixed_element_covers_a_button_or_an_error_on_any_step_of_a_purchase(
    flow: str, phone: Page, screenshot_dir: Path
) -> None:
    # given: a product whose 高血压 answer loads the premium, and a customer whose compare tray is full
    questions = [{"code": "bp", "text": "是否患有高血压？", "knock_out_answer": True}]
    product = f.simple_product(
        rules={"signature": "handwritten"},
        health_questions=questions,
        underwriting={
            "questions": {"bp": {"on_yes": "loading", "loading_percent": "25", "reason": "高血压加费"}}
        },
        min_read_seconds=journey.READ_SECONDS,
    )
    Product.objects.filter(pk=product.pk).update(name="安康意外险")
    body = journey.LONG_TEXT + "\n\n酒后驾驶不赔。"
    Document.objects.filter(version=product.current_version).update(body=body)
    customer = f.customer("13900008802")
    customer.set_password(PASSWORD)
    customer.save()
    id_number = f.resident_id(f.years_ago(40))
    page = phone
    log_in(page, flow, "13900008802", "/")
    page.goto(f"{flow}/products/{product.code}/")
    page.locator(f'button[data-compare="{product.code}"]').click()
    expect(page.locator("#compare-tray .compare-tray__title")).to_have_text("对比 1/4")

    # when: they apply, first with a wrong ID number
    page.get_by_role("button", name="获取报价").click()
    page.locator(".premium-box--saved").get_by_role("button", name="立即投保").click()
    expect(page.locator("h1")).to_have_text("填写投保信息")
    assert_uncovered(page, "data")
    page.get_by_label("姓名", exact=True).fill("王小明")
    page.get_by_label("身份证号", exact=True).fill(id_number[:17] + ("0" if id_number[17] != "0" else "1"))
    page.get_by_label("手机号", exact=True).fill("13900008802")
    page.get_by_role("group", name="是否患有高血压？").get_by_role("radio", name="是").check()
    page.get_by_role("button", name="保存，下一步").click()
    expect(page.locator("#f-applicant-id_number-error")).to_have_text("身份证号校验位错误")
    # then: on each step, nothing covers the buttons, the errors or the pad
    assert_uncovered(page, "data errors", at_least=3)
    page.screenshot(path=str(screenshot_dir / "uncovered-data-errors.png"), full_page=False)
    page.get_by_label("身份证号", exact=True).fill(id_number)
    page.get_by_role("button", name="保存，下一步").click()
    expect(page.locator("h1")).to_have_text("实名认证")
    assert_uncovered(page, "identity")
    page.get_by_text("本人同意将以上姓名和身份证号用于身份核验").click()
    page.get_by_role("button", name="开始实名认证").click()
    expect(page.locator("h1")).to_have_text("确认投保信息")
    assert_uncovered(page, "review")
    page.get_by_role("button", name="确认无误，提交核保").click()
    expect(page.get_by_role("button", name="同意以上核保条件，继续投保")).to_be_visible()
    assert_uncovered(page, "terms", at_least=2)
    page.get_by_role("button", name="同意以上核保条件，继续投保").click()
    expect(page.locator("h1")).to_contain_text("请阅读《")
    assert_uncovered(page, "document")
    read_documents(page, 1)
    expect(page.locator("h1")).to_have_text("签名确认")
    assert_uncovered(page, "sign", at_least=2)
    page.get_by_role("button", name="确认签名").click()
    expect(page.locator("#signature-error")).to_have_text("请先在签名框内签名")
    assert_uncovered(page, "sign error", at_least=3)
    draw_name(page, "王小明")
    page.get_by_role("button", name="确认签名").click()
    expect(page.locator("h1")).to_have_text("支付保费")
    assert_uncovered(page, "pay")
    page.get_by_role("button", name=re.compile("去支付")).click()
    page.wait_for_url(re.compile(r"/payment/sandbox/pay/"))
    assert_uncovered(page, "cashier")
    page.get_by_label("银行卡号").fill(DECLINED_CARD)
    page.get_by_role("button", name=re.compile("确认支付")).click()
    expect(page.get_by_test_id("result")).to_contain_text("支付失败")
    assert_uncovered(page, "cashier declined")
    page.get_by_role("button", name="重新支付").click()
    page.wait_for_url(re.compile(r"/payment/sandbox/pay/"))
    page.get_by_label("银行卡号").fill(GOOD_CARD)
    page.get_by_role("button", name=re.compile("确认支付")).click()
    page.wait_for_url(re.compile(r"/done/$"))
    expect(page.locator("h1")).to_contain_text("投保成功")
    assert_uncovered(page, "done")
