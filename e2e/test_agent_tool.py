"""The agent's tool on a phone (issue 9, polish): an agent logs in and lands on the tool, picks
the quote they just made from their list by its short number, sends the customer the link with
复制链接 (已复制, the link on the clipboard), and reads 「之前的链接已失效」 only when a link was
replaced; on a desktop the admin links to the tool and speaks Chinese; English pages read
"from ¥…"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import PHONE
from huibao.account.demo import totp_secret_base32
from huibao.account.services import create_staff_user, enrol_totp, sync_roles
from huibao.application.tests import factories as f
from huibao.catalog.models import Product

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "Sturdy-pass-2026"
PHONE_WIDTH = PHONE["width"]


def log_in(page: Page, base: str, device: Any) -> None:
    page.goto(f"{base}/account/staff/login/")
    page.locator("#id_username").fill("agent_he")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_otp_token").fill(pyotp.TOTP(totp_secret_base32(device)).now())
    page.locator("main form button[type=submit]").click()


def assert_back_office_frame(page: Page) -> None:
    """The page has the agent/staff frame of the back office, fitted to the phone: 汇保工作台 and
    the sections the agent may open (代理人投保 among them) in the header, none of the customer's
    chrome (tab bar, compare tray, footer), and nothing wider than the screen."""
    header = page.locator("header.site-header")
    expect(header.locator(".brand__name")).to_have_text("汇保工作台")
    nav = page.get_by_test_id("staff-nav")
    expect(nav).to_be_visible()
    expect(nav.get_by_role("link", name="代理人投保")).to_have_count(1)
    expect(nav.get_by_role("link", name="工作台首页")).to_have_count(1)
    expect(page.locator("nav.tabbar")).to_have_count(0)
    expect(page.locator("#compare-tray")).to_have_count(0)
    expect(page.locator("footer.site-footer")).to_have_count(0)
    # mobile-first: the header's nav scrolls inside itself, the page does not scroll sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    box = header.bounding_box()
    assert box is not None and box["width"] <= PHONE_WIDTH


def test_an_agent_lands_on_the_tool_picks_a_quote_and_copies_the_link(
    live_server: Any, phone: Page, browser: Any, settings: Any, screenshot_dir: Path
) -> None:
    # given: an agent, and a product on sale
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    sync_roles()
    device = enrol_totp(create_staff_user("agent_he", PASSWORD, ["agent"]))
    product = f.simple_product()
    Product.objects.filter(pk=product.pk).update(name="安心意外险")
    base = live_server.url
    phone.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    # when: the agent logs in
    log_in(phone, base, device)
    # then: the agent tool, with a way back to the back office
    expect(phone.locator("h1")).to_have_text("代理人投保")
    expect(phone.get_by_role("link", name="‹ 工作台")).to_be_visible()
    assert_back_office_frame(phone)
    # when: the agent quotes for the customer and comes back to the tool
    phone.goto(f"{base}/products/{product.code}/")
    phone.get_by_role("button", name="获取报价").click()
    number = phone.get_by_test_id("quote-number").inner_text().strip()
    assert number.startswith("Q")
    phone.goto(f"{base}/apply/agent/")
    # then: the quote is in the list by its short number; the agent ticks it and starts
    option = phone.get_by_test_id("quote-option").filter(has_text=number)
    expect(option).to_contain_text("安心意外险")
    phone.screenshot(path=str(screenshot_dir / "agent-tool-quotes.png"), full_page=True)
    option.locator("input[type=checkbox]").check()
    phone.get_by_role("button", name="发起投保").click()
    expect(phone.locator("h1")).to_contain_text("投保单")
    assert_back_office_frame(phone)
    phone.get_by_label("姓名", exact=True).fill("李小明")
    phone.get_by_label("身份证号", exact=True).fill(f.resident_id(f.years_ago(40)))
    phone.get_by_label("手机号", exact=True).fill("13900006666")
    phone.get_by_role("button", name="保存投保信息").click()
    # when: the first link
    phone.get_by_role("button", name="生成邀请链接和二维码").click()
    # then: no word of an earlier link
    expect(phone.get_by_text("邀请链接已生成", exact=True)).to_be_visible()
    expect(phone.get_by_text("之前的链接已失效")).to_have_count(0)
    # when: 复制链接
    link = phone.get_by_test_id("invite-link").inner_text().strip()
    phone.get_by_test_id("copy-link").click()
    # then: 已复制, and the link is on the clipboard
    expect(phone.get_by_test_id("copy-status")).to_have_text("已复制")
    assert phone.evaluate("navigator.clipboard.readText()") == link
    phone.screenshot(path=str(screenshot_dir / "agent-invite-copied.png"), full_page=True)
    # when: a new link replaces it
    phone.get_by_role("button", name="重新生成（旧链接失效）").click()
    expect(phone.get_by_text("已生成新的邀请链接，之前的链接已失效")).to_be_visible()
    assert phone.get_by_test_id("invite-link").inner_text().strip() != link

    # and on a desktop the admin, in Chinese, links to the tool
    desktop = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    desktop.add_cookies(phone.context.cookies())
    page = desktop.new_page()
    page.goto(f"{base}/admin/")
    expect(page.get_by_test_id("admin-backoffice-nav").get_by_role("link", name="代理人投保")).to_be_visible()
    expect(page.locator("#content-main")).to_contain_text("产品目录")
    expect(page.locator("#content-main")).not_to_contain_text("Coverages")
    page.screenshot(path=str(screenshot_dir / "agent-admin-index.png"), full_page=True)
    page.get_by_test_id("admin-backoffice-nav").get_by_role("link", name="代理人投保").click()
    expect(page.locator("h1")).to_have_text("代理人投保")
    desktop.close()


def test_english_pages_read_from_and_the_price(live_server: Any, phone: Page, screenshot_dir: Path) -> None:
    # given: a product priced from ¥100.00
    product = f.simple_product()
    Product.objects.filter(pk=product.pk).update(name="安心意外险", premium_from="100.00")
    base = live_server.url
    phone.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
    # when: its page in English
    phone.goto(f"{base}/products/{product.code}/")
    # then: "from ¥100.00", not "¥100.00and up"
    price = phone.locator(".price--large")
    expect(price).to_have_text("from ¥100.00")
    phone.screenshot(path=str(screenshot_dir / "product-price-en.png"), full_page=True)
