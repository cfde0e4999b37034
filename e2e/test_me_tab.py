"""The 我的 tab on a phone: on every page (standard and elder mode), the log-in state, my policies,
my applications, messages, settings and log-out; any policy two taps from any page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from huibao.application.services.start import start_application
from huibao.application.tests import factories as af
from huibao.esign import pdf
from huibao.policy.tests import factories as pf

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
PASSWORD = "Sturdy-pass-2026"


@pytest.fixture
def owner(settings: Any, tmp_path: Path) -> Iterator[Any]:
    """A customer with a password, two issued policies and one application to finish."""
    settings.VAR_DIR = tmp_path / "var"
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = ""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()
    user = pf.customer("13900008888")
    user.set_password(PASSWORD)
    user.save()
    yield user
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()


def tap_me(page: Page) -> None:
    """The 我的 tab, or inside the application flow (where the tab bar gives way to the flow's
    own buttons) the header's 我的."""
    tab = page.get_by_test_id("tab-me")
    (tab if tab.is_visible() else page.get_by_test_id("me-link")).click()


def two_taps_to(page: Page, number: str) -> None:
    """From wherever the page is: 我的, then the policy; lands on that policy's page."""
    tap_me(page)
    expect(page.locator("h1")).to_have_text("我的")
    page.get_by_test_id("me-policies").get_by_role("link", name=number).click()
    expect(page.get_by_test_id("number")).to_have_text(number)


def test_the_me_tab_is_on_every_page_and_any_policy_is_two_taps_away(
    live_server: Any, phone: Page, owner: Any, screenshot_dir: Path
) -> None:
    # given: two policies and a draft application of the customer
    first = pf.simple_issued(owner)
    second = pf.simple_issued(owner)
    product = af.simple_product()
    draft = start_application(quote_ids=[af.quote(product, owner).pk], user=owner)
    base = live_server.url
    page = phone
    # when: a visitor opens the home page, the 我的 tab and the header's 登录 are there
    page.goto(f"{base}/")
    expect(page.get_by_test_id("tab-me")).to_be_visible()
    expect(page.get_by_test_id("login-link")).to_be_visible()
    # tapping 我的 asks them to log in first, then shows their page
    page.get_by_test_id("tab-me").click()
    page.locator("#id_phone").fill("13900008888")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form.account-form button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("我的")
    # then: the log-in state, policies, applications, messages, settings, log-out
    expect(page.get_by_test_id("login-state")).to_have_text("已登录：139****8888")
    expect(page.get_by_test_id("me-policies").get_by_role("link")).to_have_count(3)  # two, and "all"
    expect(page.get_by_test_id("me-applications")).to_contain_text(draft.number)
    expect(page.get_by_test_id("me-messages").get_by_role("link", name="我的消息")).to_be_visible()
    expect(page.get_by_test_id("me-settings")).to_contain_text("适老模式")
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    expect(page.get_by_test_id("me-link")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "me.png"), full_page=True)
    # and: from any page, any policy is two taps away
    for path in ("/", "/products/", "/rankings/", f"/policy/mine/{first.public_id}/", "/apply/"):
        page.goto(f"{base}{path}")
        two_taps_to(page, second.number if "mine" in path else first.number)
    page.goto(f"{base}/apply/")
    page.get_by_test_id("tab-me").click()
    page.get_by_test_id("me-applications").get_by_role("link", name=draft.number).click()
    expect(page.locator("h1")).to_have_text("填写投保信息")
    two_taps_to(page, first.number)  # from inside the application flow too

    # when: elder mode is switched on from the settings
    page.get_by_test_id("tab-me").click()
    page.get_by_test_id("me-settings").get_by_role("button", name="开启").click()
    expect(page.locator("body")).to_have_class("elder")
    # then: the tab is still there, large, and the policies still two taps away
    tab = page.get_by_test_id("tab-me")
    box = tab.bounding_box()
    assert box is not None and box["height"] >= 56, box
    size = (
        page.get_by_test_id("me-policies")
        .locator(".me-list__detail")
        .first.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    )
    assert size >= 20, size
    page.screenshot(path=str(screenshot_dir / "me-elder.png"), full_page=True)
    page.goto(f"{base}/products/")
    two_taps_to(page, second.number)

    # when: they log out from their page
    page.get_by_test_id("tab-me").click()
    page.get_by_role("button", name="退出登录").click()
    # then: logged out, the header offers 登录 again
    expect(page.get_by_test_id("login-link")).to_be_visible()
    page.goto(f"{base}/account/me/")
    expect(page).to_have_url(f"{base}/account/login/?next=/account/me/")
