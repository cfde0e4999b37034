"""The Content-Security-Policy in a real browser: the main pages, htmx's swaps, the back office and
the API documentation (Swagger UI) work under it, and nothing is reported blocked. (The
application flow, the agent's pages and the signature pad are covered by the other browser tests,
whose `phone` pages fail on any violation too.)"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from playwright.sync_api import expect

from e2e.conftest import watch_csp
from huibao.account.services import create_staff_user, enrol_totp, sync_roles
from huibao.catalog.search import invalidate_index
from huibao.catalog.tests.web_catalog import build_catalog

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def staff_session() -> str:
    """The session cookie of a back-office user who passed the password and TOTP steps."""
    sync_roles()
    staff = create_staff_user("csp_auditor", "Sturdy-pass-2026", ["auditor"])
    device = enrol_totp(staff)
    client = Client()
    client.force_login(staff)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client.cookies["sessionid"].value


def test_pages_htmx_admin_and_api_docs_work_under_the_csp(live_server: Any, browser: Any) -> None:
    # given a small market, and a desktop browser watching for CSP violations
    invalidate_index()
    build_catalog()
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    violations = watch_csp(context)
    page = context.new_page()
    base = live_server.url

    # when: the home page is served, with its policy
    response = page.goto(base + "/")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("h1")).to_have_text("先比一比，再投保")
    # and htmx swaps the filtered results in
    page.goto(base + "/products/")
    page.locator("details.filters summary").click()
    page.locator("#f-line").select_option("medical")
    page.wait_for_url(re.compile(r"line=medical"))
    expect(page.locator(".results__count")).to_have_text("共找到 3 款产品")
    page.locator('button[data-compare="pingan-e-sheng-bao"]').click()
    expect(page.locator("#compare-tray .compare-tray__title")).to_have_text("对比 1/4")
    # and the other public pages open
    for path, heading in (
        ("/products/pingan-e-sheng-bao/", None),
        ("/products/pingan-e-sheng-bao/quote/", None),
        ("/rankings/", None),
        ("/compare/?codes=pingan-e-sheng-bao,zhongan-zun-xiang-e-sheng", None),
        ("/account/login/", None),
        ("/policy/verify/", "保单真伪查验"),
    ):
        page.goto(base + path)
        if heading:
            expect(page.locator("h1")).to_have_text(heading)
    # and Swagger UI renders the API from our own static files
    page.goto(base + "/api/docs")
    expect(page.locator(".swagger-ui .information-container")).to_contain_text("Huibao API")
    expect(page.locator(".opblock").first).to_be_visible()
    # and the back office, with its theme, lists and a change page
    page.goto(base + "/admin/login/")
    expect(page.locator("#site-name")).to_contain_text("汇保管理后台")
    context.add_cookies([{"name": "sessionid", "value": staff_session(), "url": base}])
    for path in ("/admin/", "/admin/catalog/product/", "/admin/core/auditentry/"):
        page.goto(base + path)
        expect(page.locator("#site-name")).to_be_visible()
    # the theme's stylesheet applies (it was an inline style before the policy)
    header_bg = page.locator("#header").evaluate("e => getComputedStyle(e).backgroundColor")
    assert header_bg == "rgb(10, 61, 156)"
    context.close()

    # then the browser reported nothing blocked
    assert violations == []
