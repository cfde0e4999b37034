"""How many screens a customer confirms something on (实名认证 consent, 确认投保信息, the documents,
the key clauses, the signature), counted by the pages the browser loads, for the demo market's
百万医疗 policy and its 中华财险 car bundle (交强险 + 商业险 + 驾乘意外险): each document read and each key
clause confirmed on its own still, but the documents on one page, the key clauses on one page of
their own, and a clause the three products share asked once.

The documents and clauses are timed 1 s here (the demo's 10-15 s and 3 s are the same code).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from e2e import test_application_flow as journey
from e2e.test_application_flow import PASSWORD, READ_SECONDS, draw_name, log_in, pay
from huibao.application.models import Application, ClauseConfirmation
from huibao.application.selectors import key_clauses
from huibao.application.states import ApplicationStatus
from huibao.application.tests import factories as f
from huibao.catalog.demo.generator import AUTO_BUNDLE_CODES, generate_market
from huibao.catalog.demo.loader import load_market
from huibao.catalog.documents import clear_document_cache
from huibao.catalog.models import Document, Product
from huibao.rating.services import clear_cache

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
flow = journey.flow

# The pages on which the customer confirms something.
CONFIRMING = re.compile(r"/apply/[0-9a-f-]+/(identity|review|terms|documents|clauses|face|sign)/")


@pytest.fixture
def market() -> Iterator[None]:
    """The smallest demo market that holds the car bundle, its texts timed 1 s for the test."""
    load_market(generate_market(products=36))
    for doc in Document.objects.all():
        clauses = [{**c, "min_read_seconds": READ_SECONDS} for c in doc.key_clauses or []]
        Document.objects.filter(pk=doc.pk).update(min_read_seconds=READ_SECONDS, key_clauses=clauses)
    clear_document_cache()
    clear_cache()
    yield
    clear_document_cache()


def count_confirmation_screens(page: Page) -> list[str]:
    """The (live) list of confirming pages the browser loads from now on."""
    loads: list[str] = []
    page.on("load", lambda p: loads.append(p.url) if CONFIRMING.search(p.url) else None)
    return loads


def read_and_confirm(page: Page, documents: int) -> int:
    for n in range(documents):
        expect(page.get_by_test_id("reading-count")).to_have_text(f"共{documents}份文件，已读{n}份")
        page.locator("[data-reader-box]").evaluate("el => el.scrollTo(0, el.scrollHeight)")
        button = page.get_by_role("button", name=re.compile("我已阅读"))
        expect(button).to_be_enabled(timeout=READ_SECONDS * 1000 + 5000)
        button.click()
    return journey.confirm_clauses(page)


def sign(page: Page, name: str) -> None:
    expect(page.locator("h1")).to_have_text("签名确认")
    draw_name(page, name)
    page.get_by_role("button", name="确认签名").click()


def customer(phone: str) -> Any:
    user = f.customer(phone)
    user.set_password(PASSWORD)
    user.save()
    return user


def test_the_medical_policy_takes_at_most_five_confirmation_screens(
    flow: str, market: None, phone: Page
) -> None:
    # given: the demo's first 百万医疗 (4 documents, 13 key clauses) and a customer
    medical = Product.objects.filter(line="medical").order_by("code").first()
    assert medical is not None
    customer("13900008101")
    page = phone
    log_in(page, flow, "13900008101", "/")
    journey.quote_and(page, flow, medical, "立即投保")
    loads = count_confirmation_screens(page)
    # when: they fill in the form (every health question 否) and go through to paying
    expect(page.locator("h1")).to_have_text("填写投保信息")
    for radio in page.locator(".question").get_by_role("radio", name="否").all():
        radio.check()
    journey.fill_data(page, "王小明", f.resident_id(f.years_ago(35)))
    journey.verify_and_confirm(page)
    clauses = read_and_confirm(page, 4)
    sign(page, "王小明")
    pay(page, "王小明")
    # then: at most five confirmation screens, every clause still confirmed on its own
    app = Application.objects.get()
    assert app.status == ApplicationStatus.ISSUED
    assert len(loads) <= 5, loads
    assert clauses == len(key_clauses(app)) == 13
    assert ClauseConfirmation.objects.filter(application=app, confirmed_at__isnull=False).count() == 13


def test_the_car_bundle_takes_at_most_eight_confirmation_screens_and_asks_a_shared_clause_once(
    flow: str, market: None, phone: Page
) -> None:
    # given: 中华财险's 交强险 + 商业险 + 驾乘意外险 (9 documents, 25 key clauses, some the same)
    products = [Product.objects.get(code=code) for code in AUTO_BUNDLE_CODES]
    customer("13900008102")
    page = phone
    log_in(page, flow, "13900008102", "/")
    for product in products:
        journey.quote_and(page, flow, product, "加入组合投保")
        expect(page.locator("h1")).to_have_text("组合投保")
    page.get_by_role("button", name="3个产品一起投保").click()
    loads = count_confirmation_screens(page)
    # when: one form for the three, then on to paying
    journey.fill_data(
        page,
        "王小明",
        f.resident_id(f.years_ago(45)),
        **{"车牌号": "京A12345", "车架号（VIN）": "LSVAM4187C2184847"},
    )
    journey.verify_and_confirm(page)
    asked = read_and_confirm(page, 9)
    sign(page, "王小明")
    pay(page, "王小明")
    # then: at most eight confirmation screens; the shared clauses asked once, recorded for each
    app = Application.objects.get()
    assert app.status == ApplicationStatus.ISSUED and app.policies.count() == 3
    assert len(loads) <= 8, loads
    clauses = key_clauses(app)
    assert len(clauses) == 25 and asked < 25
    rows = ClauseConfirmation.objects.filter(application=app, confirmed_at__isnull=False)
    assert rows.count() == 25
    shared = rows.filter(clause_code="truthful_disclosure")
    assert shared.count() == 3 and len({r.document_id for r in shared}) == 3
