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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from huibao.account.errors import InvalidToken
from huibao.account.models import User
from huibao.account.tokens import authenticate_token

API_PREFIX = "/api/"
INVALID_TOKEN_MESSAGE = "令牌无效或已过期，请重新获取"


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
