"""CSRF on the JSON API: an unsafe request that carries the session cookie needs the CSRF token,
whether its session is logged in or not; bearer-token clients and cookie-less calls need none.
The refusal is 403 in the error shape and changes nothing."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client

from huibao.account.models import ApiToken, User
from huibao.account.tokens import issue_token
from huibao.application.models import Application
from huibao.application.tests import factories as f
from huibao.rating.models import Quote

pytestmark = pytest.mark.django_db

QUOTE = {"plan_code": "basic", "inputs": {"age": 30}}


@pytest.fixture
def product() -> Any:
    return f.simple_product()


def _browser(user: User | None = None) -> Client:
    """A client that checks CSRF as a real browser request would be checked."""
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def _post(client: Client, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json", headers=headers or {})


def _with_csrf_cookie(client: Client) -> str:
    token = secrets.token_hex(16)
    client.cookies[settings.CSRF_COOKIE_NAME] = token
    return token


def _assert_csrf_refused(response: Any) -> None:
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "csrf_failed" and "X-CSRFToken" in body["message"]
    assert body["errors"] == []


def test_a_logged_in_session_without_the_token_cannot_quote(product: Any) -> None:
    # given
    client = _browser(f.customer())
    # when
    response = _post(client, "/api/v1/quotes", {"product_code": product.code, **QUOTE})
    # then
    _assert_csrf_refused(response)
    assert Quote.objects.count() == 0


def test_a_logged_in_session_without_the_token_cannot_start_an_application(product: Any) -> None:
    # given: an endpoint behind `django_auth` (ninja's own check answered {"detail": …} before)
    user = f.customer()
    quote = f.quote(product, user)
    client = _browser(user)
    # when
    response = _post(client, "/api/v1/applications", {"quote_ids": [str(quote.pk)]})
    # then
    _assert_csrf_refused(response)
    assert Application.objects.count() == 0


def test_a_session_without_the_token_cannot_revoke_a_token() -> None:
    # given
    user = f.customer()
    issued = issue_token(user, "phone")
    client = _browser(user)
    # when
    response = client.delete(f"/api/v1/auth/tokens/{issued.token.pk}")
    # then
    _assert_csrf_refused(response)
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is None


def test_an_anonymous_session_cookie_needs_the_token_too(product: Any) -> None:
    # given: a visitor whose browser holds a session (the bundle basket) but who is not logged in
    client = _browser()
    session = client.session
    session["bundle"] = []
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key or ""
    # when
    response = _post(client, "/api/v1/quotes", {"product_code": product.code, **QUOTE})
    # then
    _assert_csrf_refused(response)


def test_the_session_with_the_token_goes_through(product: Any) -> None:
    # given
    user = f.customer()
    client = _browser(user)
    token = _with_csrf_cookie(client)
    # when
    quoted = _post(client, "/api/v1/quotes", {"product_code": product.code, **QUOTE}, {"X-CSRFToken": token})
    started = _post(
        client, "/api/v1/applications", {"quote_ids": [quoted.json()["id"]]}, {"X-CSRFToken": token}
    )
    # then
    assert quoted.status_code == 201, quoted.content
    assert started.status_code == 201, started.content
    assert Application.objects.get().customer == user


def test_a_wrong_token_is_refused(product: Any) -> None:
    # given
    client = _browser(f.customer())
    _with_csrf_cookie(client)
    # when
    response = _post(
        client,
        "/api/v1/quotes",
        {"product_code": product.code, **QUOTE},
        {"X-CSRFToken": secrets.token_hex(16)},
    )
    # then
    _assert_csrf_refused(response)


def test_a_bearer_token_needs_no_csrf_token_even_beside_a_session_cookie(product: Any) -> None:
    # given: an app with a token, whose cookie jar also holds a session
    user = f.customer()
    secret = issue_token(user, "app").secret
    client = _browser(user)
    # when
    response = _post(
        client,
        "/api/v1/quotes",
        {"product_code": product.code, **QUOTE},
        {"Authorization": f"Bearer {secret}"},
    )
    # then
    assert response.status_code == 201, response.content
    assert Quote.objects.get().user == user


def test_a_call_without_any_cookie_needs_no_token(product: Any) -> None:
    # given: an anonymous API client
    client = _browser()
    # when
    quoted = _post(client, "/api/v1/quotes", {"product_code": product.code, **QUOTE})
    start = _post(client, "/api/v1/applications", {"quote_ids": [quoted.json()["id"]]})
    # then: the quote is made; the log-in endpoint answers that a log-in is needed
    assert quoted.status_code == 201, quoted.content
    assert start.status_code == 401, start.content
    assert Application.objects.count() == 0


def test_safe_methods_need_no_token(product: Any) -> None:
    # given
    user = f.customer()
    quote = f.quote(product, user)
    client = _browser(user)
    # when
    response = client.get(f"/api/v1/quotes/{quote.pk}")
    # then
    assert response.status_code == 200


def answered_by_the_failure_view(request: Any, reason: str = "") -> HttpResponse:
    return HttpResponse(f"failure view: {request.path_info}", status=403)


def test_the_api_refusal_is_the_answer_of_the_one_csrf_failure_view(product: Any, settings: Any) -> None:
    # given: another CSRF failure view configured
    settings.CSRF_FAILURE_VIEW = f"{__name__}.answered_by_the_failure_view"
    client = _browser(f.customer())
    # when: an API request fails the check, and so does a page's
    api_answer = _post(client, "/api/v1/quotes", {"product_code": product.code, **QUOTE})
    page_answer = Client(enforce_csrf_checks=True).post("/account/login/", {"phone": "13900001111"})
    # then: both were answered by it, not by a second answer of the API's own
    assert api_answer.status_code == 403 and page_answer.status_code == 403
    assert page_answer.content.decode() == "failure view: /account/login/"
    # (the input guard still puts a non-JSON error under /api/ into the one error shape)
    assert api_answer.json()["code"] == "permission_denied"


def test_the_configured_failure_view_answers_csrf_failed_under_the_api_and_a_page_elsewhere(
    product: Any,
) -> None:
    # given the project's CSRF failure view (settings.CSRF_FAILURE_VIEW)
    assert settings.CSRF_FAILURE_VIEW == "huibao.core.error_views.csrf_failure"
    client = _browser(f.customer())
    # when
    api_answer = _post(client, "/api/v1/quotes", {"product_code": product.code, **QUOTE})
    page_answer = client.post("/account/logout/")
    # then
    _assert_csrf_refused(api_answer)
    assert page_answer.status_code == 403 and page_answer["Content-Type"].startswith("text/html")
    assert "页面已过期" in page_answer.content.decode()
