"""A browser on a phone finds the site's icon: no request of any page ends in a 404, the tab's icon
included."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_no_page_request_answers_404_and_the_icons_load(live_server: Any, phone: Page) -> None:
    # given: every response of the visit recorded
    missing: list[str] = []
    phone.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    # when: the home page and the log-in page are opened
    for path in ("/", "/account/login/"):
        phone.goto(f"{live_server.url}{path}")
        phone.wait_for_load_state("networkidle")
    # then: the icons are linked and load; /favicon.ico itself is answered
    hrefs = phone.locator("link[rel=icon], link[rel=apple-touch-icon]").evaluate_all(
        "els => els.map(e => e.href)"
    )
    assert len(hrefs) == 3, hrefs
    for href in [*hrefs, f"{live_server.url}/favicon.ico"]:
        response = phone.request.get(href)
        assert response.status == 200 and response.headers["content-type"].startswith("image/"), href
    assert missing == [], missing
