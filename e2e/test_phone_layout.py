"""Layout defects found by trying the demo on a phone (390×844), each pinned here: the search
filters line up in two full-width columns; the policy page shows each coverage as a card (name
across, then the sum insured) instead of stray "：" in a squeezed column, and keeps the text of its
key clauses in elder mode (it was marked `.secondary`, which elder mode hides)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import Page, expect

from huibao.catalog.search import invalidate_index
from huibao.catalog.tests.web_catalog import build_catalog
from huibao.esign import pdf
from huibao.policy.tests import factories as pf

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def boxes(page: Page, selector: str) -> list[dict[str, float]]:
    return page.locator(selector).evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return {left: r.left, right: r.right, width: r.width}; })"
    )


def no_horizontal_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_search_filters_line_up_in_two_full_width_columns(live_server: Any, phone: Page) -> None:
    # given: a market and a visitor on a phone who opens the filters
    invalidate_index()
    build_catalog()
    page = phone
    page.goto(f"{live_server.url}/products/?q=医疗")
    page.locator("details.filters summary").click()
    expect(page.locator(".filters__body")).to_be_visible()

    # then: every field sits in one of two columns, its control as wide as the field
    # (the selects were pill-shaped and content-sized, the last field 8 px out of its column)
    fields = boxes(page, ".filters__body .field")
    controls = boxes(page, ".filters__body .field :is(select, input)")
    assert len(fields) == len(controls) >= 6
    assert len({round(f["left"]) for f in fields}) == 2, fields
    for field, control in zip(fields, controls, strict=True):
        assert abs(control["width"] - field["width"]) <= 1, (field, control)
    panel = boxes(page, ".filters__body")[0]
    assert max(f["right"] for f in fields) <= panel["right"] - 8
    radius = page.locator("#f-line").evaluate("el => parseFloat(getComputedStyle(el).borderTopLeftRadius)")
    assert radius <= 12  # a field, not the sort's pill
    no_horizontal_scroll(page)


@pytest.fixture
def policy_owner(settings: Any, tmp_path: Path) -> Any:
    settings.VAR_DIR = tmp_path / "var"
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = ""
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()
    owner = pf.customer("13900007777")
    yield owner
    pdf._signer.cache_clear()
    pdf._validation_context_roots.cache_clear()


def log_in(page: Page, base: str, user: Any, **cookies: str) -> None:
    client = Client()
    client.force_login(user)
    cookies[django_settings.SESSION_COOKIE_NAME] = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": k, "value": v, "url": base} for k, v in cookies.items()])


def test_policy_coverages_are_cards_on_a_phone(live_server: Any, phone: Page, policy_owner: Any) -> None:
    # given: an issued policy and its owner, logged in on a phone
    policy = pf.simple_issued(policy_owner)
    page = phone
    log_in(page, live_server.url, policy_owner)

    # when: they open the policy
    page.goto(f"{live_server.url}/policy/mine/{policy.public_id}/")
    rows = page.locator(".coverage-table tbody tr")
    expect(rows.first).to_be_visible()

    # then: each coverage's name runs across the card, with no "：" before it,
    # and the sum insured is labelled 保额
    for i in range(rows.count()):
        row = rows.nth(i)
        name = row.locator(".coverage-table__name")
        assert name.evaluate("el => getComputedStyle(el, '::before').content") in ("none", "normal")
        assert name.bounding_box()["width"] >= 0.9 * row.bounding_box()["width"]
        label = row.locator(".coverage-table__sum").evaluate("el => getComputedStyle(el, '::before').content")
        assert label == '"保额："'
    no_horizontal_scroll(page)


def test_policy_key_clauses_keep_their_text_in_elder_mode(
    live_server: Any, phone: Page, policy_owner: Any
) -> None:
    # given: an issued policy whose terms have key clauses, its owner in elder mode
    policy = pf.simple_issued(policy_owner)
    page = phone
    log_in(page, live_server.url, policy_owner, elder_mode="1")
    # when
    page.goto(f"{live_server.url}/policy/mine/{policy.public_id}/")
    # then: each key clause shows its title and its text, in large type
    expect(page.locator("body")).to_have_class("elder")
    clauses = page.locator(".clause-list li")
    expect(clauses).to_have_count(2)
    text = clauses.filter(has_text="责任免除").get_by_text("投保前已患疾病不赔。")
    expect(text).to_be_visible()
    assert float(text.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")) >= 16
