"""The request's user from the shared cache (account/usercache.py): no read of the user's row for
a session whose user is cached, nothing personal in the cache, and every change of the user —
password, deactivation, deletion, even one made while the entry was being filled — seen by the
next request."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from django.contrib import auth
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import cache
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from huibao.account import usercache
from huibao.account.models import User

pytestmark = pytest.mark.django_db

PHONE = "13912345678"


@pytest.fixture(autouse=True)
def _cache_on(settings: Any) -> None:
    settings.HUIBAO_USER_CACHE_SECONDS = 300


def _session_of(user: User) -> str:
    """A logged-in session of `user`, as `auth.login` leaves it."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[auth.BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return str(session.session_key)


def _request(session_key: str) -> Any:
    request = RequestFactory().get("/")
    request.session = SessionStore(session_key)
    list(request.session.items())  # read before counting: the session is not the user
    return request


def _user_reads(queries: list[dict[str, str]]) -> int:
    return sum(1 for q in queries if 'FROM "account_user"' in q["sql"])


def _cached_bytes(user: User) -> bytes:
    key, version_key = usercache._keys(user.pk)
    return pickle.dumps(cache.get_many([key, version_key]))


def test_a_cached_session_user_is_not_read_and_nothing_personal_is_cached(customer: User) -> None:
    # given a customer with a display name, logged in
    customer.display_name = "王小明"
    customer.email = "xiaoming@example.com"
    customer.save()
    session = _session_of(customer)
    # when two requests of the session ask who their user is
    requests = [_request(session), _request(session)]
    with CaptureQueriesContext(connection) as first:
        user = usercache.get_user(requests[0])
    with CaptureQueriesContext(connection) as second:
        again = usercache.get_user(requests[1])
    # then the first reads the user's row, the second reads nothing and knows the same user
    assert _user_reads(first.captured_queries) == 1
    assert len(second.captured_queries) == 0
    assert (again.pk, again.get_username(), again.kind, again.is_authenticated, again.is_active) == (
        user.pk,
        customer.username,
        "customer",
        True,
        True,
    )
    # and the cache holds none of the personal columns, in clear or encrypted
    stored = _cached_bytes(customer)
    raw = User.objects.filter(pk=customer.pk).values_list("phone", "phone_hash", "password").get()
    for secret in (PHONE, "王小明", "xiaoming@example.com", *raw):
        assert secret.encode() not in stored, secret
    # and a personal column read on the cached user loads all of them at once, as stored
    with CaptureQueriesContext(connection) as personal:
        assert again.phone == PHONE
        assert again.display_name == "王小明" and again.email == "xiaoming@example.com"
        assert str(again) == "王小明"
    assert _user_reads(personal.captured_queries) == 1


def test_a_changed_password_ends_the_sessions_of_the_old_one(customer: User) -> None:
    # given a cached session user
    session = _session_of(customer)
    usercache.get_user(_request(session))
    # when the password changes
    customer.set_password("Another-pass-2027")
    customer.save()
    # then the old session has no user any more, and is flushed (as Django's `get_user` does)
    request = _request(session)
    assert isinstance(usercache.get_user(request), AnonymousUser)
    assert SESSION_KEY not in request.session


@pytest.mark.parametrize("change", ["deactivated", "deleted"])
def test_a_deactivated_or_deleted_user_is_no_one_at_the_next_request(customer: User, change: str) -> None:
    # given a cached session user
    session = _session_of(customer)
    usercache.get_user(_request(session))
    # when the user is deactivated, or deleted
    if change == "deactivated":
        customer.is_active = False
        customer.save()
    else:
        customer.delete()
    # then the next request of the session has no user
    assert isinstance(usercache.get_user(_request(session)), AnonymousUser)


def test_a_change_made_while_the_entry_is_filled_is_not_hidden(
    customer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a request filling the cache, and the user deactivated right after its read of the row
    # (the save's signal runs before the fill is stored)
    session = _session_of(customer)
    read = auth.get_user

    def read_then_deactivate(request: Any) -> Any:
        user = read(request)
        User.objects.filter(pk=customer.pk).update(is_active=False)
        usercache.on_user_changed(User, customer)
        return user

    monkeypatch.setattr(usercache.auth, "get_user", read_then_deactivate)
    assert usercache.get_user(_request(session)).is_authenticated
    monkeypatch.setattr(usercache.auth, "get_user", read)
    # when the next request asks
    request = _request(session)
    with CaptureQueriesContext(connection) as next_one:
        user = usercache.get_user(request)
    # then it read the row again, and found the user inactive
    assert _user_reads(next_one.captured_queries) == 1
    assert isinstance(user, AnonymousUser)


def test_a_session_without_the_user_s_hash_is_refused(customer: User) -> None:
    # given a cached session user, and another session naming the user with a forged hash
    usercache.get_user(_request(_session_of(customer)))
    forged = SessionStore()
    forged[SESSION_KEY] = str(customer.pk)
    forged[auth.BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    forged[HASH_SESSION_KEY] = "0" * 64
    forged.create()
    # when it asks who its user is, then no one
    assert isinstance(usercache.get_user(_request(str(forged.session_key))), AnonymousUser)


def test_off_every_request_reads_the_user(customer: User, settings: Any) -> None:
    # given the cache off (no shared cache)
    settings.HUIBAO_USER_CACHE_SECONDS = 0
    session = _session_of(customer)
    # when two requests ask, then each reads the user's row
    for request in (_request(session), _request(session)):
        with CaptureQueriesContext(connection) as captured:
            assert usercache.get_user(request).pk == customer.pk
        assert _user_reads(captured.captured_queries) == 1


def test_through_the_middleware_a_log_in_and_a_log_out(customer: User) -> None:
    # given a logged-in customer
    client = Client()
    client.force_login(customer)
    # when they ask for their tokens twice, then both answer, the second without reading the user
    assert client.get("/api/v1/auth/tokens").status_code == 200
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/v1/auth/tokens").status_code == 200
    assert _user_reads(captured.captured_queries) == 0
    # and once logged out, the same client is no one
    client.logout()
    assert client.get("/api/v1/auth/tokens").status_code == 401
