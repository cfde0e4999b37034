"""Bearer tokens on the JSON API: `Authorization: Bearer hb_…` under `/api/`.

For such a request the token's user becomes `request.user` (and `request.auser()`), the token
is `request.api_token`, and Django's CSRF check is switched off for it
(`request._dont_enforce_csrf_checks`): a browser never sends a bearer token by itself, so a
forged cross-site request cannot carry one. The session is never read nor written, so a
session cookie sent along is ignored and left as it was. ninja's `django_auth` (`SessionAuth`)
then accepts the request as it accepts a logged-in session: its CSRF check goes through
`CsrfViewMiddleware.process_view`, which honours the flag, and it answers `request.user`.

A bearer token that is not valid (unknown, malformed, expired, revoked, user deactivated) is
answered at once with `401 {"code": "invalid_token", …}`; it never falls back to the session.

The middleware sits after `OTPMiddleware`: that one wraps `request.user` in a lazy object that
reads the session's OTP device, which must not happen for a token. A token user is never
OTP-verified (`is_verified()` is False): the back office stays session + TOTP only.

`ApiCsrfMiddleware` (right after it) is the one CSRF check of the API: an unsafe request
(`POST`, `PUT`, `PATCH`, `DELETE`…) under `/api/` that carries the session cookie must carry
the CSRF token too (`X-CSRFToken`: the `csrftoken` cookie's value), whether its session is
logged in or not, or it is refused before any endpoint runs — with the answer of
`CSRF_FAILURE_VIEW` (`core.error_views.csrf_failure`), the one place that answers every refused
CSRF check: `403 {"code": "csrf_failed", …}` under `/api/`.
A request without the session cookie carries no credentials a browser would add by itself (a
bearer token never is), so it needs no token: anonymous calls (a quote) work without one, and
endpoints that need a log-in answer 401. Once checked here, ninja's `django_auth` does not check
again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware

from huibao.account.errors import InvalidToken
from huibao.account.models import User
from huibao.account.tokens import authenticate_token

API_PREFIX = "/api/"
INVALID_TOKEN_MESSAGE = "令牌无效或已过期，请重新获取"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def bearer_secret(request: HttpRequest) -> str | None:
    """The credentials of an `Authorization: Bearer …` header ("" if empty), or None without one."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _sep, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip()


def invalid_token_response() -> JsonResponse:
    error = InvalidToken(INVALID_TOKEN_MESSAGE)
    response = JsonResponse(
        error.as_dict(), status=error.http_status, json_dumps_params={"ensure_ascii": False}
    )
    response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def _not_otp_verified(user: User) -> None:
    """What `OTPMiddleware` would install, for a user who used no second factor."""
    user_any: Any = user
    user_any.otp_device = None
    user_any.is_verified = lambda: False


class BearerTokenMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(API_PREFIX):
            secret = bearer_secret(request)
            if secret is not None:
                token = authenticate_token(secret)
                if token is None:
                    return invalid_token_response()
                user = token.user
                _not_otp_verified(user)

                async def auser() -> User:
                    return user

                request_any: Any = request
                request_any.user = user
                request_any.auser = auser
                request_any.api_token = token
                request_any._dont_enforce_csrf_checks = True
        return self.get_response(request)


def _api_endpoint(request: HttpRequest) -> HttpResponse:
    """Stands for the endpoint in Django's check (which skips views marked `csrf_exempt`)."""
    raise NotImplementedError  # never called: the check only looks at it


class _CsrfCheck(CsrfViewMiddleware):
    """Django's own check (token, cookie, Origin and Referer), run for the API's requests."""

    def refusal(self, request: HttpRequest) -> HttpResponse | None:
        """None when the request passes; else the answer of `CSRF_FAILURE_VIEW`."""
        request_any: Any = request
        request_any.csrf_processing_done = False
        self.process_request(request)
        return self.process_view(request, _api_endpoint, (), {})


class ApiCsrfMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.csrf = _CsrfCheck(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.path_info.startswith(API_PREFIX)
            and request.method not in SAFE_METHODS
            and not getattr(request, "_dont_enforce_csrf_checks", False)  # a bearer token
        ):
            if settings.SESSION_COOKIE_NAME in request.COOKIES:
                refused = self.csrf.refusal(request)
                if refused is not None:
                    return refused
            # Decided here, once: ninja's `django_auth` would check again for logged-in endpoints.
            request_any: Any = request
            request_any._dont_enforce_csrf_checks = True
        return self.get_response(request)
