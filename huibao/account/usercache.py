"""The logged-in user of a request from the shared cache, not from a database read.

Django's `get_user` reads the user's row for every request that looks at `request.user` (every
API step does: the owner checks, the audit entry's actor): one statement per request. With a
shared cache (`HUIBAO_USER_CACHE_SECONDS` > 0, the default when Redis is the cache), a session
whose user is in the cache gets a `User` built from the cached columns `CACHED_FIELDS` — keys,
kind and flags, nothing personal. The others (the password hash, the names, the e-mail, the
encrypted phone and its keyed hash, the display name) are left deferred: the first read of any
of them loads them all, in one statement (`User.refresh_from_db`). So no personal data, clear or
encrypted, is ever in the cache.

The entry holds the session's auth hash (an HMAC of the password hash, what the session itself
holds) and is used only for a session that holds the same: a changed password, a fallback
secret or an unknown user goes through Django's own `get_user`, which rotates or flushes the
session as it always did, and fills the entry again. Every save or deletion of a user drops its
entry by moving its version (`forget`, connected in `AccountConfig.ready`); an entry is used only
with the version that was current before its row was read, so a change made while another
request was filling the entry is never hidden by it. The entry's time to live bounds a change
written around the model (a queryset `update()` of users; the code base has none).

Never with a per-process cache (locmem): a change seen by one worker would not reach the others
— hence off by default without Redis, as the sessions (settings.py).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.core.cache import cache
from django.db import router
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject

from huibao.account.models import User

# What the cache holds of a user: what a request needs to know who acts and may act (no personal
# data: `username` is a pseudonym for customers — account.services.customer_username).
CACHED_FIELDS = frozenset(
    {"id", "username", "kind", "is_active", "is_staff", "is_superuser", "last_login", "date_joined"}
)
_PREFIX = "huibao:session-user:"
# Marks a `User` built from the cache (its deferred columns then load together).
FROM_CACHE = "_from_user_cache"


def _fields() -> list[str]:
    """`CACHED_FIELDS` in the model's column order (as `Model.from_db` takes them)."""
    return [f.attname for f in User._meta.concrete_fields if f.attname in CACHED_FIELDS]


def _keys(pk: Any) -> tuple[str, str]:
    return f"{_PREFIX}{pk}", f"{_PREFIX}{pk}:v"


def _seconds() -> int:
    return int(getattr(settings, "HUIBAO_USER_CACHE_SECONDS", 0) or 0)


def forget(pk: Any) -> None:
    """Drops the cached entry of user `pk`: its version moves, so no entry filled before (or
    being filled now) is used again."""
    seconds = _seconds()
    if seconds > 0 and pk is not None:
        cache.set(_keys(pk)[1], secrets.token_hex(8), seconds * 2)


def on_user_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    """`post_save` / `post_delete` of a user (AccountConfig.ready)."""
    forget(instance.pk)


def _build(values: tuple[Any, ...]) -> User:
    user = User.from_db(router.db_for_read(User), _fields(), values)
    user.__dict__[FROM_CACHE] = True
    return user


def get_user(request: HttpRequest) -> Any:
    """`django.contrib.auth.get_user`, answered from the cache when it holds this session's user
    (see the module's docstring); otherwise Django's, whose answer then fills the cache."""
    seconds = _seconds()
    if seconds <= 0:
        return auth.get_user(request)
    try:
        pk = User._meta.pk.to_python(request.session[SESSION_KEY])
        backend = request.session[BACKEND_SESSION_KEY]
        session_hash = request.session[HASH_SESSION_KEY]
    except (KeyError, ValueError, TypeError):
        return auth.get_user(request)
    if backend not in settings.AUTHENTICATION_BACKENDS or not session_hash:
        return auth.get_user(request)
    key, version_key = _keys(pk)
    found = cache.get_many([key, version_key])
    version, entry = found.get(version_key), found.get(key)
    if (
        version is not None
        and entry is not None
        and entry[0] == version
        and constant_time_compare(entry[1], session_hash)
    ):
        return _build(entry[2])
    if version is None:
        # The version this fill is made under; a `forget` from now on moves it.
        cache.add(version_key, secrets.token_hex(8), seconds * 2)
        version = cache.get(version_key)
    user = auth.get_user(request)
    if version is not None and getattr(user, "is_authenticated", False) and user.pk == pk and user.is_active:
        values = tuple(getattr(user, name) for name in _fields())
        cache.set(key, (version, user.get_session_auth_hash(), values), seconds)
    return user


def _request_user(request: HttpRequest) -> Any:
    if not hasattr(request, "_cached_user"):
        request._cached_user = get_user(request)  # type: ignore[attr-defined]
    return request._cached_user  # type: ignore[attr-defined]


class CachedUserAuthenticationMiddleware(AuthenticationMiddleware):
    """Django's `AuthenticationMiddleware`, with the user from `get_user` above."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _request_user(request))  # type: ignore[assignment]
