"""What can I do with this policy, on a phone (390×844): from "my policies" the policy's actions
are one tap away, each a big target that no fixed element (the sticky header, the tab bar, the
sandbox banner) covers — in standard and in elder mode; the header's 消息 link shows the unread
count without covering the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import Page, expect

from huibao.esign import pdf
from huibao.notification import services as notification_services
from huibao.policy.tests import factories as pf

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# True when the element's centre is the topmost thing there (nothing fixed lies over it).
UNCOVERED = """el => {
  const r = el.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  if (y < 0 || y > window.innerHeight || x < 0 || x > window.innerWidth) return false;
  const top = document.elementFromPoint(x, y);
  return top === el || el.contains(top);
}"""


@pytest.fixture
def owner(settings: Any, tmp_path: Path) -> Any:
    settings.VAR_DIR = tmp_path / "var"
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = ""
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()
    yield pf.customer("13900008888")
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()


def log_in(page: Page, base: str, user: Any, **cookies: str) -> None:
    client = Client()
    client.force_login(user)
    cookies[django_settings.SESSION_COOKIE_NAME] = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": k, "value": v, "url": base} for k, v in cookies.items()])


def assert_tappable_and_uncovered(page: Page, selector: str) -> int:
    targets = page.locator(selector)
    count = targets.count()
    assert count > 0
    for i in range(count):
        target = targets.nth(i)
        target.scroll_into_view_if_needed()
        box = target.bounding_box()
        assert box is not None and box["height"] >= 44 and box["width"] >= 44, box
        # scrolled into view, its centre is not under the header or the tab bar; if the tab bar
        # still covers it, scrolling one step more must reveal it (the page leaves room for it)
        if not target.evaluate(UNCOVERED):
            page.mouse.wheel(0, 120)
            page.wait_for_timeout(100)
        assert target.evaluate(UNCOVERED), f"{selector} #{i} is covered"
    return count


@pytest.mark.parametrize(
    ("elder", "language"),
    [(False, "zh-hans"), (True, "zh-hans"), (True, "en")],
    ids=["standard", "elder", "elder-en"],
)
def test_the_policys_actions_are_one_tap_away_on_a_phone(
    live_server: Any, phone: Page, owner: Any, elder: bool, language: str, screenshot_dir: Path
) -> None:
    # given: the owner of an issued policy with an unread message, logged in on a phone
    policy = pf.simple_issued(owner)
    notification_services.notify(
        user=owner,
        template="service.notice",
        context={"title": "保单已签发", "text": "您的保单已签发"},
        dedup_key=f"e2e:{owner.pk}",
    )
    page = phone
    log_in(page, live_server.url, owner, django_language=language, **({"elder_mode": "1"} if elder else {}))
    english = language == "en"

    # when: they open "my policies"
    page.goto(f"{live_server.url}/policy/mine/")
    card = page.get_by_test_id("policy").first
    # then: the policy's most relevant action is right there, and its full list one tap away
    expect(card.get_by_test_id("top-action")).to_be_visible()
    expect(card.get_by_test_id("top-action")).to_have_attribute("data-action", "epolicy")
    assert_tappable_and_uncovered(page, '[data-testid="top-action"], [data-testid="all-actions"]')
    inbox = page.get_by_test_id("inbox-link")
    expect(inbox).to_have_attribute("aria-label", "Messages, 1 unread" if english else "消息，1条未读")
    assert inbox.evaluate(UNCOVERED)

    mode = ("elder" if elder else "standard") + f"-{language}"
    page.screenshot(path=str(screenshot_dir / f"policy-hub-mine-{mode}.png"))
    card.get_by_test_id("all-actions").tap()

    # then: the policy page opens on "我能做什么", the status explained, every action a big
    # target that nothing fixed covers
    page.wait_for_url(f"**/policy/mine/{policy.public_id}/")
    hub = page.get_by_test_id("policy-hub")
    expect(hub.get_by_role("heading", name="What can I do" if english else "我能做什么")).to_be_visible()
    expect(hub.get_by_test_id("status")).to_have_text("Not yet in force" if english else "待生效")
    expect(hub.get_by_test_id("status-meaning")).to_be_visible()
    first = hub.locator(".hub-action").first
    box = first.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 844  # in the first screen
    count = assert_tappable_and_uncovered(page, ".hub-action")
    assert count >= 4
    if elder:
        size = float(first.evaluate("el => parseFloat(getComputedStyle(el).fontSize)"))
        assert size >= 18
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")

    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshot_dir / f"policy-hub-detail-{mode}.png"))

    # and one tap on 历史记录 leads to the policy's history
    page.locator('.hub-action[data-action="history"]').tap()
    page.wait_for_url(f"**/policy/mine/{policy.public_id}/history/")
    expect(page.get_by_test_id("timeline")).to_contain_text("Policy issued" if english else "保单签发")
