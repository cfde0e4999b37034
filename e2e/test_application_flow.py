"""The electronic application in a real browser on a phone: a new customer from quote to a signed
e-policy, an agent-started application the customer completes themself, and a bundle of three
products with one signature, one payment and three policies.

Notifications (payment result) are delivered at once over HTTP to the live server
(Django's immediate task backend; HUIBAO_PUBLIC_URL is the live server's address).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import watch_csp
from huibao.account.demo import totp_secret_base32
from huibao.account.services import create_staff_user, enrol_totp
from huibao.account.sms import get_sms_backend, reset_sms_backends
from huibao.application.models import Application
from huibao.application.states import ApplicationStatus
from huibao.application.tests import factories as f
from huibao.catalog.models import Document, LineOfBusiness, Product
from huibao.core.masking import mask_name
from huibao.esign import pdf
from huibao.esign.tests.ink import GLYPHS
from huibao.payment.tests.factories import GOOD_CARD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "Sturdy-pass-2026"
READ_SECONDS = 1
LONG_TEXT = "\n\n".join(
    f"第{n}条 本条款约定保险人与投保人之间的权利义务，被保险人在保险期间内因意外伤害事故身故或伤残的，"
    "保险人按照合同约定给付保险金。投保人应如实告知，未如实告知的，保险人有权解除合同。"
    for n in range(1, 25)
)


@pytest.fixture
def flow(settings: Any, live_server: Any, tmp_path: Path) -> Iterator[str]:
    """Notifications delivered at once to the live server; a private CA for the PDFs."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    settings.HUIBAO_PUBLIC_URL = live_server.url
    settings.VAR_DIR = tmp_path / "var"
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = ""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SMS_BACKEND = "huibao.account.sms.ConsoleSmsBackend"
    reset_sms_backends()
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()
    yield live_server.url
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()
    reset_sms_backends()


def product(name: str, *, line: str = LineOfBusiness.ACCIDENT, insurer: Any = None, **rules: Any) -> Product:
    """A product on sale whose terms (one key clause) must be read for READ_SECONDS."""
    p = f.simple_product(
        rules={"signature": "handwritten", **rules}, min_read_seconds=READ_SECONDS, insurer=insurer, line=line
    )
    Product.objects.filter(pk=p.pk).update(name=name)
    Document.objects.filter(version=p.current_version).update(body=LONG_TEXT + "\n\n酒后驾驶不赔。")
    p.refresh_from_db()
    return p


# --- what a person does on the pages ------------------------------------------------------------------


def quote_and(page: Page, base: str, product: Product, button: str) -> None:
    page.goto(f"{base}/products/{product.code}/")
    page.get_by_role("button", name="获取报价").click()
    expect(page.locator(".premium-box--saved")).to_be_visible()
    page.locator(".premium-box--saved").get_by_role("button", name=button).click()


def fill_data(page: Page, name: str, id_number: str, **extra: str) -> None:
    expect(page.locator("h1")).to_have_text("填写投保信息")
    page.get_by_label("姓名", exact=True).fill(name)
    page.get_by_label("身份证号", exact=True).fill(id_number)
    phone = page.get_by_label("手机号", exact=True)
    if not phone.input_value():
        phone.fill("13900005555")
    for label, value in extra.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="保存，下一步").click()


def verify_and_confirm(page: Page) -> None:
    expect(page.locator("h1")).to_have_text("实名认证")
    page.get_by_text("本人同意将以上姓名和身份证号用于身份核验").click()
    page.get_by_role("button", name="开始实名认证").click()
    expect(page.locator("h1")).to_have_text("确认投保信息")
    page.get_by_role("button", name="确认无误，提交核保").click()


def read_documents(page: Page, count: int, *, clause_text: str | None = "酒后驾驶不赔。") -> None:
    """The documents, all on one page: "我已阅读" of each stays disabled until its box is scrolled
    to its end and its minimum time passed, then the next opens in place. Then the key clauses,
    all on a page of their own, each confirmed by itself (a clause several products share once)."""
    for n in range(count):
        expect(page.get_by_test_id("reading-count")).to_have_text(f"共{count}份文件，已读{n}份")
        expect(page.locator("h1")).to_contain_text("请阅读《")
        button = page.get_by_role("button", name=re.compile("我已阅读"))
        expect(button).to_be_disabled()
        page.locator("[data-reader-box]").evaluate("el => el.scrollTo(0, el.scrollHeight)")
        expect(page.locator("[data-scroll-state]")).to_have_text("已阅读至文末")
        expect(button).to_be_enabled(timeout=READ_SECONDS * 1000 + 5000)
        button.click()
    confirm_clauses(page, clause_text=clause_text)


def confirm_clauses(page: Page, *, clause_text: str | None = None) -> int:
    """Confirms every key clause of the clauses page, one after the other; returns how many."""
    expect(page.locator("h1")).to_have_text("重要条款确认")
    page.wait_for_load_state("load")  # reached by htmx's HX-Redirect: the whole page, not just its title
    if clause_text is not None:
        expect(page.get_by_test_id("clause-text").first).to_have_text(clause_text)
    total = page.get_by_test_id("clause").count()
    for n in range(total):
        expect(page.get_by_test_id("clause-count")).to_contain_text(f"已确认{n}项")
        button = page.get_by_role("button", name=re.compile("我已阅读并理解此条款"))
        expect(button).to_be_enabled(timeout=READ_SECONDS * 1000 + 5000)
        button.click()
    expect(page.locator("h1")).not_to_have_text("重要条款确认")
    page.wait_for_load_state("load")
    return total


def draw_name(page: Page, name: str) -> None:
    """Writes `name` on the signature pad with the mouse, one cluster of strokes per character."""
    canvas = page.locator("#signature-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    n = len(name)
    size = min(box["height"] * 0.6, box["width"] / (n * 1.3 + 0.3))
    gap = size * 0.3
    left0 = box["x"] + (box["width"] - (n * size + (n - 1) * gap)) / 2
    top = box["y"] + (box["height"] - size) / 2
    for i, ch in enumerate(name):
        left = left0 + i * (size + gap)
        for polyline in GLYPHS[ch]:
            points = [(left + x * size, top + y * size) for x, y in polyline]
            page.mouse.move(*points[0])
            page.mouse.down()
            for x, y in points[1:]:
                page.mouse.move(x, y, steps=8)
            page.mouse.up()


def sign(page: Page, name: str, screenshot: Path | None = None) -> None:
    expect(page.locator("h1")).to_have_text("签名确认")
    # nothing drawn: refused, with the reason under the pad
    page.get_by_role("button", name="确认签名").click()
    expect(page.locator("#signature-error")).to_have_text("请先在签名框内签名")
    draw_name(page, name)
    if screenshot:
        page.screenshot(path=str(screenshot), full_page=True)
    page.get_by_role("button", name="确认签名").click()


def pay(page: Page, name: str) -> str:
    """Pays at the sandbox cashier, which knows the payer from the real-name binding (shown
    masked, not typed again) and sends them back to our page; returns the result page URL."""
    expect(page.locator("h1")).to_have_text("支付保费")
    page.get_by_role("button", name=re.compile("去支付")).click()
    page.wait_for_url(re.compile(r"/payment/sandbox/pay/"))
    expect(page.get_by_test_id("payer-name")).to_have_text(mask_name(name))
    page.get_by_label("银行卡号").fill(GOOD_CARD)
    page.get_by_role("button", name="确认支付").click()
    # back to the merchant's pay page, which waits for the policies if not issued yet
    page.wait_for_url(re.compile(r"/done/$"))
    expect(page.locator("h1")).to_contain_text("投保成功")
    return page.url


def downloaded_epolicy(page: Page, index: int = 0) -> bytes:
    with page.expect_download() as download:
        page.get_by_test_id("download").nth(index).click()
    path = download.value.path()
    return Path(path).read_bytes()


def verified(data: bytes) -> Any:
    # pyHanko validates with asyncio.run(): not on this thread, where Playwright's loop runs.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(pdf.verify_pdf, data).result()


def log_in(page: Page, base: str, phone: str, next_path: str) -> None:
    page.goto(f"{base}/account/login/?next={next_path}")
    page.locator("#id_phone").fill(phone)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form.account-form button[type=submit]").click()


# --- the journeys ----------------------------------------------------------------------------------------


def test_new_customer_quote_to_signed_epolicy(flow: str, phone: Page, screenshot_dir: Path) -> None:
    # given: an accident product and a visitor on a phone
    accident = product("畅行意外险")
    page = phone
    id_number = f.resident_id(f.years_ago(35))
    # when: they quote and press "立即投保", then sign up with their mobile number
    quote_and(page, flow, accident, "立即投保")
    expect(page.locator("h1")).to_have_text("登录后继续投保")
    page.get_by_role("link", name="新用户，用手机号注册").click()
    page.locator("#id_phone").fill("13900005555")
    page.get_by_role("button", name="获取验证码").click()
    text = get_sms_backend().last_text_to("13900005555")  # type: ignore[attr-defined]
    code = re.search(r"(?<!\d)(\d{6})(?!\d)", text or "")
    assert code, text
    page.locator("#id_code").fill(code.group(1))
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.locator("#id_agree").check()
    page.locator("form.account-form button[value=signup]").click()
    # then: straight into the application, the progress bar on its first step
    expect(page.locator(".progress li[aria-current=step]")).to_have_text("填写信息")
    expect(page.get_by_label("手机号", exact=True)).to_have_value("13900005555")
    # a wrong check digit is shown next to the field and at the top
    fill_data(page, "王小明", id_number[:17] + ("0" if id_number[17] != "0" else "1"))
    expect(page.locator("#f-applicant-id_number-error")).to_have_text("身份证号校验位错误")
    expect(page.locator("#error-summary")).to_contain_text("身份证号校验位错误")
    page.screenshot(path=str(screenshot_dir / "apply-data-error.png"), full_page=True)
    fill_data(page, "王小明", id_number)
    page.screenshot(path=str(screenshot_dir / "apply-identity.png"), full_page=True)
    verify_and_confirm(page)
    page.screenshot(path=str(screenshot_dir / "apply-document.png"), full_page=True)
    read_documents(page, 1)
    sign(page, "王小明", screenshot_dir / "apply-sign.png")
    page.screenshot(path=str(screenshot_dir / "apply-pay.png"), full_page=True)
    pay(page, "王小明")
    # and: the policy number, and the e-policy whose PAdES signature validates
    app = Application.objects.get()
    assert app.status == ApplicationStatus.ISSUED and app.channel == "web"
    policy = app.policies.get()
    expect(page.get_by_test_id("policy-number")).to_have_text(policy.number)
    page.screenshot(path=str(screenshot_dir / "apply-done.png"), full_page=True)
    check = verified(downloaded_epolicy(page))
    assert check.valid and check.intact and check.trusted, check.problems
    expect(page.get_by_role("link", name="评价本次投保体验")).to_be_visible()
    expect(page.get_by_role("link", name="我的保单")).to_be_visible()


def test_agent_prepares_the_customer_confirms_signs_and_pays_themself(
    flow: str, browser: Any, phone: Page, screenshot_dir: Path
) -> None:
    # given: an agent with an authenticator, and a customer with an account
    accident = product("家庭意外险")
    agent_user = create_staff_user("agent_li", PASSWORD, [])
    device = enrol_totp(agent_user)
    customer = f.customer("13900006666")
    customer.set_password(PASSWORD)
    customer.save()
    id_number = f.resident_id(f.years_ago(40))
    agent_context = browser.new_context(locale="zh-CN", viewport={"width": 1024, "height": 900})
    agent_violations = watch_csp(agent_context)
    agent_context.set_default_timeout(15_000)
    agent = agent_context.new_page()
    # when: the agent logs in with password + TOTP, quotes and starts the application
    agent.goto(f"{flow}/account/staff/login/?next=/apply/agent/")
    agent.locator("#id_username").fill("agent_li")
    agent.locator("#id_password").fill(PASSWORD)
    agent.locator("#id_otp_token").fill(pyotp.TOTP(totp_secret_base32(device)).now())
    agent.locator("main form button[type=submit]").click()
    expect(agent.locator("h1")).to_have_text("代理人投保")
    quote_and(agent, flow, accident, "立即投保")
    expect(agent.locator("h1")).to_contain_text("投保单")
    fill_data_agent = agent.get_by_role("button", name="保存投保信息")
    agent.get_by_label("姓名", exact=True).fill("李小明")
    agent.get_by_label("身份证号", exact=True).fill(id_number)
    agent.get_by_label("手机号", exact=True).fill("13900006666")
    fill_data_agent.click()
    agent.get_by_role("button", name="生成邀请链接和二维码").click()
    expect(agent.locator("svg.qr")).to_be_visible()
    link = agent.get_by_test_id("invite-link").inner_text()
    agent.screenshot(path=str(screenshot_dir / "apply-agent-invite.png"), full_page=True)
    # then: the customer opens the link, logs in, and does every step themself
    page = phone
    page.goto(link)
    expect(page.locator("h1")).to_have_text("登录后继续投保")
    page.get_by_role("link", name="已有账号，登录").click()
    page.locator("#id_phone").fill("13900006666")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form.account-form button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("代理人邀请您投保")
    expect(page.get_by_test_id("applicant-name")).to_have_text("李**")
    page.get_by_role("button", name="接受邀请，核对投保信息").click()
    expect(page.locator("h1")).to_have_text("实名认证")
    expect(page.get_by_test_id("name")).to_have_text("李小明")
    verify_and_confirm(page)
    # the agent now sees the data locked
    agent.reload()
    expect(agent.get_by_test_id("locked")).to_be_visible()
    read_documents(page, 1)
    sign(page, "李小明")
    pay(page, "李小明")
    app = Application.objects.get()
    assert app.customer_id == customer.pk and app.started_by_id == agent_user.pk
    assert app.status == ApplicationStatus.ISSUED and app.signatures.get().signer_name == "李小明"
    agent.reload()
    expect(agent.get_by_test_id("status")).to_have_text("已承保")
    agent_context.close()
    assert agent_violations == []


def test_bundle_of_three_products_one_signature_one_payment_three_policies(
    flow: str, phone: Page, screenshot_dir: Path
) -> None:
    # given: 交强险 + 商业险 + 驾乘意外 of one insurer, the vehicle asked once
    plate = {"subject": [{"code": "plate_number", "label": "车牌号", "pattern": "^[京沪][A-Z][A-Z0-9]{5}$"}]}
    compulsory = product("安心交强险", line=LineOfBusiness.AUTO_COMPULSORY, **plate)
    commercial = product(
        "安心商业车险", line=LineOfBusiness.AUTO_COMMERCIAL, insurer=compulsory.insurer, **plate
    )
    rider = product("驾乘意外险", insurer=compulsory.insurer)
    customer = f.customer("13900007777")
    customer.set_password(PASSWORD)
    customer.save()
    id_number = f.resident_id(f.years_ago(45))
    page = phone
    log_in(page, flow, "13900007777", "/")
    # when: each is quoted and put in the bundle
    for p in (compulsory, commercial, rider):
        quote_and(page, flow, p, "加入组合投保")
        expect(page.locator("h1")).to_have_text("组合投保")
    expect(page.get_by_test_id("bundle-item")).to_have_count(3)
    page.screenshot(path=str(screenshot_dir / "apply-bundle.png"), full_page=True)
    page.get_by_role("button", name="3个产品一起投保").click()
    # then: one form for all three (the vehicle once), one reading per document, one signature
    expect(page.get_by_test_id("item")).to_have_count(3)
    fill_data(page, "王小明", id_number, 车牌号="京A12345")
    verify_and_confirm(page)
    read_documents(page, 3)
    sign(page, "王小明")
    pay(page, "王小明")
    app = Application.objects.get()
    assert app.status == ApplicationStatus.ISSUED and app.subject == {"plate_number": "京A12345"}
    assert app.signatures.count() == 1 and app.payment_id is not None
    assert app.policies.count() == 3
    expect(page.get_by_test_id("policy")).to_have_count(3)
    check = verified(downloaded_epolicy(page, 2))
    assert check.valid, check.problems
