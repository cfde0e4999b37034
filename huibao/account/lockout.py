"""django-axes hooks: which name a failed log-in is counted under.

`settings.AXES_USERNAME_CALLABLE = "huibao.account.lockout.axes_username"` and
`settings.AXES_LOCKOUT_CALLABLE = "huibao.account.lockout.lockout_response"`. A mobile number is
personal data: it is replaced by the customer's pseudonymous username (`customer_username`) so
axes' tables never hold a number in clear, and the reset after a successful log-in (which axes
does by `user.get_username()`) hits the same key.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from huibao.account import rules


def axes_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str | None:
    from huibao.account.services import customer_username

    raw: Any = None
    if credentials:
        raw = credentials.get("username") or credentials.get("phone")
    elif request is not None:
        data = getattr(request, "data", None) or request.POST
        raw = data.get("username") or data.get("phone")
    if not raw:
        return None
    value = str(raw)
    phone = rules.normalize_phone(value)
    if rules.is_valid_phone(phone):
        return customer_username(phone)
    return value


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """`settings.AXES_LOCKOUT_CALLABLE`: a Chinese page (HTTP 429) saying how long to wait; under
    `/api/` the same in the API's error shape (`{"code": "locked_out", …}`, with `Retry-After`)."""
    from axes.helpers import get_cool_off, get_failure_limit

    cool_off = get_cool_off(request)
    minutes = max(1, round(cool_off.total_seconds() / 60)) if cool_off else 0
    limit = get_failure_limit(request, credentials)
    if request.path_info.startswith("/api/"):
        return _api_lockout_response(limit, minutes, cool_off.total_seconds() if cool_off else 0)
    context = {"failure_limit": limit, "cooloff_minutes": minutes}
    return render(request, "account/locked_out.html", context, status=429)


def _api_lockout_response(failure_limit: int, minutes: int, seconds: float) -> HttpResponse:
    if minutes:
        message = f"登录失败已达{failure_limit}次，请{minutes}分钟后再试"
    else:
        message = f"登录失败已达{failure_limit}次，登录已被锁定，请联系客服"
    body = {"code": "locked_out", "message": message, "errors": []}
    response = JsonResponse(body, status=429, json_dumps_params={"ensure_ascii": False})
    if seconds:
        response["Retry-After"] = str(int(seconds))
    return response
