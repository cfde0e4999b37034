"""Starting an application from a quote that belongs to someone else is refused, over the API and
on the pages, with the answer an unknown quote gets (nothing is created, nothing revealed)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from huibao.account.services import create_staff_user
from huibao.application.models import Application
from huibao.application.services.start import start_application
from huibao.application.tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _start_over_api(client: Client, quote_id: Any) -> Any:
    return client.post(
        "/api/v1/applications",
        json.dumps({"quote_ids": [str(quote_id)]}),
        content_type="application/json",
    )


def test_another_customers_quote_is_answered_like_an_unknown_one_over_the_api() -> None:
    # given: customer A's quote, and customer B logged in
    product = f.simple_product()
    owner, other = f.customer("13900001111"), f.customer("13900002222")
    quote = f.quote(product, owner)
    # when
    response = _start_over_api(_client_of(other), quote.pk)
    unknown_id = uuid.uuid4()
    unknown = _start_over_api(_client_of(other), unknown_id)
    # then: 404 in the error shape naming the field, as for a quote that does not exist
    assert response.status_code == 404, response.content
    body = response.json()
    assert body["code"] == "not_found"
    assert [e["field"] for e in body["errors"]] == ["quote_ids"]
    expected = unknown.json()
    assert body == {**expected, "message": expected["message"].replace(str(unknown_id), str(quote.pk))}
    assert Application.objects.count() == 0


def test_the_owner_and_a_quote_made_before_logging_in_still_start() -> None:
    # given
    product = f.simple_product()
    owner = f.customer("13900001111")
    own = f.quote(product, owner)
    anonymous = f.quote(f.simple_product())
    client = _client_of(owner)
    # when
    mine = _start_over_api(client, own.pk)
    before_login = _start_over_api(client, anonymous.pk)
    # then
    assert mine.status_code == 201, mine.content
    assert before_login.status_code == 201, before_login.content
    assert Application.objects.filter(customer=owner).count() == 2


def test_another_customers_quote_is_refused_on_the_start_page() -> None:
    # given
    product = f.simple_product()
    owner, other = f.customer("13900001111"), f.customer("13900002222")
    quote = f.quote(product, owner)
    client = _client_of(other)
    # when
    response = client.post(reverse("application:start"), {"quote_id": str(quote.pk)})
    # then: back where the customer came from, with the unknown-quote message, nothing started
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["报价不存在"]
    assert Application.objects.count() == 0


def test_an_agent_still_starts_from_a_customers_quote() -> None:
    # given: a quote a customer made while logged in, handed to an agent
    product = f.simple_product()
    owner = f.customer("13900001111")
    quote = f.quote(product, owner)
    agent = create_staff_user("agent_wang", "Sturdy-pass-2026", ["customer_service"])
    # when
    app = start_application(quote_ids=[quote.pk], started_by=agent)
    # then
    assert app.started_by == agent and app.customer is None
    assert app.items.get().origin_quote_id == quote.pk


def test_another_customers_quote_stays_out_of_the_bundle_basket() -> None:
    # given
    product = f.simple_product()
    owner, other = f.customer("13900001111"), f.customer("13900002222")
    quote = f.quote(product, owner)
    client = _client_of(other)
    # when
    response = client.post(reverse("application:bundle_add"), {"quote_id": str(quote.pk)})
    page = client.get(reverse("application:bundle"))
    # then: refused as an unknown quote, and the basket shows nothing of it
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["报价不存在，请重新报价"]
    assert client.session.get("apply_bundle", []) == []
    assert product.name not in page.content.decode()


def test_a_basket_filled_before_logging_in_keeps_only_what_the_user_may_use() -> None:
    # given: a visitor's basket holding an anonymous quote and (planted) another customer's quote
    mine, theirs = f.simple_product(), f.simple_product()
    owner, visitor = f.customer("13900001111"), f.customer("13900002222")
    anonymous, foreign = f.quote(mine), f.quote(theirs, owner)
    client = _client_of(visitor)
    session = client.session
    session["apply_bundle"] = [str(anonymous.pk), str(foreign.pk)]
    session.save()
    # when
    html = client.get(reverse("application:bundle")).content.decode()
    # then
    assert str(anonymous.pk) in html and str(foreign.pk) not in html
