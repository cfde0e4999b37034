"""The header's 消息 link on every page: a logged-in customer's unread count, accessible, gone
once read; no link for visitors or staff."""

from __future__ import annotations

import re

import pytest

from huibao.notification import services
from huibao.notification.tests.conftest import ISSUED, make_customer

pytestmark = pytest.mark.django_db


def _issue(user, n: int = 1):
    return services.notify(
        user=user, template="policy.issued", context=ISSUED, dedup_key=f"hdr:{user.pk}:{n}", reference="P1"
    )


def _link(html: str) -> str:
    match = re.search(r'<a class="inbox-link"[^>]*>.*?</a>', html, re.S)
    assert match, "no 消息 link in the header"
    return match.group(0)


@pytest.mark.parametrize("page", ["/", "/products/", "/policy/mine/"])
def test_every_page_shows_the_unread_count_with_an_accessible_label(client, customer, page) -> None:
    _issue(customer, 1)
    _issue(customer, 2)
    client.force_login(customer)
    link = _link(client.get(page).content.decode())
    assert 'aria-label="消息，2条未读"' in link
    assert 'data-testid="unread-badge">2<' in link
    assert 'href="/account/messages/"' in link


def test_the_badge_disappears_once_everything_is_read(client, customer) -> None:
    _issue(customer)
    client.force_login(customer)
    assert 'data-testid="unread-badge"' in _link(client.get("/").content.decode())
    client.post("/account/messages/read-all/")
    link = _link(client.get("/").content.decode())
    assert 'data-testid="unread-badge"' not in link and 'aria-label="消息，没有未读"' in link


def test_only_ones_own_messages_count(client, customer) -> None:
    _issue(make_customer(email="other@example.com"))
    client.force_login(customer)
    assert 'data-testid="unread-badge"' not in _link(client.get("/").content.decode())


def test_beyond_99_the_badge_says_99_plus(client, customer) -> None:
    for n in range(100):
        _issue(customer, n)
    client.force_login(customer)
    assert 'data-testid="unread-badge">99+<' in _link(client.get("/").content.decode())


def test_visitors_have_no_messages_link(client) -> None:
    assert 'class="inbox-link"' not in client.get("/").content.decode()
