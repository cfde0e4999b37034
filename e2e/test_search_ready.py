"""The browser tests' session loads the search's word segmenter, builds its index and serves one
page before the first page (`conftest._first_page_ready`): under load, a first page paying for
jieba's dictionary and the URL conf took longer than a test waits (15 s)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from huibao.application.tests import factories as f
from huibao.catalog import search
from huibao.catalog.models import Product

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_first_search_page_does_not_load_the_segmenter(
    live_server: Any, phone: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    import jieba

    # given: the URL conf (every app's views and the API) already imported by the session
    assert "huibao.urls" in sys.modules and "huibao.api" in sys.modules
    # and a product on sale; a page would load jieba's dictionary now if nothing had
    loaded: list[str] = []
    monkeypatch.setattr(jieba, "initialize", lambda *a, **k: loaded.append("jieba"))
    product = f.simple_product()
    Product.objects.filter(pk=product.pk).update(name="安心意外险")
    # when: the first page searches the catalogue
    phone.goto(f"{live_server.url}/products/?q=意外")
    # then: the product is found, by a segmenter the session loaded before the page
    expect(phone.locator(".results__count")).to_contain_text("款产品")
    expect(phone.get_by_text("安心意外险").first).to_be_visible()
    assert loaded == []
    # and the index the session built is rebuilt for the test's own products, without the dictionary
    assert search.search_products("意外").total >= 1
    assert loaded == []
