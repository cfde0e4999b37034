"""A whole purchase in elder mode (适老模式) on a phone: on every step, no text a customer reads is
smaller than 20 px, headings larger than the body, text contrast at least 4.5:1 (WCAG AA), hints
shown, one main button per screen; 朗读 reads documents and key clauses aloud (and is absent where
the browser has no speech synthesis); the handwritten name on the taller pad passes the check.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from e2e import test_application_flow as journey
from e2e.test_application_flow import PASSWORD, READ_SECONDS, draw_name, log_in, pay
from huibao.application.models import Application
from huibao.application.states import ApplicationStatus
from huibao.application.tests import factories as f

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
flow = journey.flow

# Every visible element of the page with text of its own: its font size, its colour against the
# first opaque background behind it (WCAG contrast), and the sizes of the headings and body.
_TYPE = """
() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const linear = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c;
    }
    return [255, 255, 255];
  };
  const small = [], faint = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('[aria-hidden=true], .visually-hidden, script, style, noscript')) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (box.width < 1 || box.height < 1 || style.visibility === 'hidden') continue;
    const size = parseFloat(style.fontSize);
    const text = el.textContent.trim().slice(0, 16);
    if (size < 20) small.push(`${el.tagName.toLowerCase()}.${el.className} "${text}" ${size}px`);
    const fg = rgb(style.color), bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const what = `${el.tagName.toLowerCase()}.${el.className} "${text}"`;
    if (ratio < 4.5) faint.push(`${what} ${ratio.toFixed(2)}:1`);
  }
  const h1 = document.querySelector('main h1');
  return {
    small, faint,
    body: parseFloat(getComputedStyle(document.body).fontSize),
    h1: h1 ? parseFloat(getComputedStyle(h1).fontSize) : 0,
    mainButtons: [...document.querySelectorAll('main .button:not(.button--ghost):not(.button--link)')]
      .filter((b) => b.getBoundingClientRect().height > 0 && !b.closest('[hidden]')).length,
  };
}
"""


def assert_elder_type(page: Page, step: str) -> None:
    found = page.evaluate(_TYPE)
    assert found["small"] == [], (step, found["small"])
    assert found["faint"] == [], (step, found["faint"])
    assert found["body"] >= 20 and found["h1"] >= found["body"] * 1.25, (step, found)
    assert found["mainButtons"] <= 1, (step, found)


def test_a_whole_purchase_in_elder_mode(flow: str, phone: Page) -> None:
    # given: an accident product (one document, one key clause) and a customer in elder mode
    product = journey.product("安心意外险")
    customer = f.customer("13900008301")
    customer.set_password(PASSWORD)
    customer.save()
    page = phone
    log_in(page, flow, "13900008301", "/")
    page.get_by_role("button", name="适老模式").click()
    expect(page.locator("body")).to_have_class("elder")
    # when: they quote and apply
    journey.quote_and(page, flow, product, "立即投保")
    expect(page.locator("h1")).to_have_text("填写投保信息")
    # then: the data form in large type, its input hints kept
    assert_elder_type(page, "data")
    expect(page.locator(".field__hint").first).to_be_visible()
    journey.fill_data(page, "王小明", f.resident_id(f.years_ago(62)))
    expect(page.locator("h1")).to_have_text("实名认证")
    assert_elder_type(page, "identity")
    page.get_by_text("本人同意将以上姓名和身份证号用于身份核验").click()
    page.get_by_role("button", name="开始实名认证").click()
    expect(page.locator("h1")).to_have_text("确认投保信息")
    assert_elder_type(page, "review")
    page.get_by_role("button", name="确认无误，提交核保").click()
    # the document: 朗读 reads it aloud in Chinese and stops on a second tap
    expect(page.locator("h1")).to_contain_text("请阅读《")
    assert_elder_type(page, "document")
    speaker = page.get_by_role("button", name="朗读")
    expect(speaker).to_be_visible()
    # (headless Chromium has no voice: the synthesiser is recorded, not heard)
    page.evaluate(
        "() => { window.__spoken = []; window.__cancelled = 0;"
        " speechSynthesis.speak = (u) => window.__spoken.push([u.lang, u.text.slice(0, 20)]);"
        " const cancel = speechSynthesis.cancel.bind(speechSynthesis);"
        " speechSynthesis.cancel = () => { window.__cancelled += 1; cancel(); }; }"
    )
    speaker.click()
    expect(page.get_by_role("button", name="停止朗读")).to_have_attribute("aria-pressed", "true")
    spoken = page.evaluate("() => window.__spoken")
    assert spoken and spoken[0][0] == "zh-CN" and spoken[0][1].startswith("第1条"), spoken
    cancelled = page.evaluate("() => window.__cancelled")
    page.get_by_role("button", name="停止朗读").click()
    expect(page.get_by_role("button", name="朗读")).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("() => window.__cancelled") > cancelled
    # a browser without speech synthesis shows no 朗读 at all (from the next page on)
    page.add_init_script("Object.defineProperty(window, 'speechSynthesis', {value: undefined});")
    page.locator("[data-reader-box]").evaluate("el => el.scrollTo(0, el.scrollHeight)")
    button = page.get_by_role("button", name=re.compile("我已阅读"))
    expect(button).to_be_enabled(timeout=READ_SECONDS * 1000 + 5000)
    button.click()
    expect(page.locator("h1")).to_have_text("重要条款确认")
    assert_elder_type(page, "clauses")
    expect(page.locator("[data-read-aloud]")).to_be_hidden()
    journey.confirm_clauses(page)
    # the signature on elder mode's taller pad passes the check
    expect(page.locator("h1")).to_have_text("签名确认")
    assert_elder_type(page, "sign")
    pad = page.locator("#signature-canvas").bounding_box()
    assert pad is not None and pad["height"] >= 200
    draw_name(page, "王小明")
    page.get_by_role("button", name="确认签名").click()
    expect(page.locator("h1")).to_have_text("支付保费")
    assert_elder_type(page, "pay")
    pay(page, "王小明")
    assert_elder_type(page, "done")
    app = Application.objects.get()
    assert app.status == ApplicationStatus.ISSUED and app.signatures.get().signer_name == "王小明"
