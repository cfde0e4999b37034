"""django-axes hooks: which name a failed log-in is counted under.

`settings.AXES_USERNAME_CALLABLE = "huibao.account.lockout.axes_username"` and
`settings.AXES_LOCKOUT_CALLABLE = "huibao.account.lockout.lockout_response"`. A mobile number is
personal data: it is replaced by the customer's pseudonymous username (`customer_username`) so
axes' tables never hold a number in clear, and the reset after a successful log-in (which axes
does by `user.get_username()`) hits the same key.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
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
    """`settings.AXES_LOCKOUT_CALLABLE`: a Chinese page (HTTP 429) saying how long to wait."""
    from axes.helpers import get_cool_off, get_failure_limit

    cool_off = get_cool_off(request)
    minutes = max(1, round(cool_off.total_seconds() / 60)) if cool_off else 0
    context = {"failure_limit": get_failure_limit(request, credentials), "cooloff_minutes": minutes}
    return render(request, "account/locked_out.html", context, status=429)
