"""Access checkpoints for back-office pages outside the Django admin."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from huibao.account.models import UserKind

View = Callable[..., HttpResponse]


def is_verified_staff(user: Any) -> bool:
    """A staff account that logged in with password *and* a TOTP code in this session."""
    return bool(
        getattr(user, "is_authenticated", False)
        and getattr(user, "kind", None) == UserKind.STAFF
        and user.is_staff
        and user.is_active
        and callable(getattr(user, "is_verified", None))
        and user.is_verified()
    )


def is_api_staff(request: HttpRequest) -> bool:
    """Staff on the JSON API: a verified staff session (password + TOTP), or a staff bearer token.

    A token user is never OTP-verified (`BearerTokenMiddleware`), but `POST /api/v1/auth/tokens`
    issues a staff token only after the same password + TOTP check, and `authenticate_token`
    refuses it once the user is no longer active staff."""
    user = request.user
    if is_verified_staff(user):
        return True
    token = getattr(request, "api_token", None)
    return bool(
        token is not None
        and token.user_id == getattr(user, "pk", None)
        and getattr(user, "kind", None) == UserKind.STAFF
        and user.is_staff
        and user.is_active
    )


def staff_required(permission: str | None = None) -> Callable[[View], View]:
    """Decorator: verified staff only (else to the staff log-in); with `permission`, 403 without it."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not is_verified_staff(request.user):
                query = urlencode({"next": request.get_full_path()})
                return redirect(f"{reverse('account:staff_login')}?{query}")
            if permission and not request.user.has_perm(permission):
                raise PermissionDenied(permission)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
