"""The back-office gate of the webhook pages.

The webhook app sits below `account` (it imports only core, jobs and Django), so it cannot use
`account.access.staff_required`; this is the same check, by the same facts: a staff account
(`kind == "staff"`, `is_staff`, active) verified with its TOTP code in this session (django-otp's
`is_verified`), else to the staff log-in (by URL name); with a permission, 403 without it.
`tests/test_web.py` holds it to the account's gate (same users let in, same kept out).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

View = Callable[..., HttpResponse]
STAFF_KIND = "staff"  # account.models.UserKind.STAFF


def is_verified_staff(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and getattr(user, "kind", None) == STAFF_KIND
        and user.is_staff
        and user.is_active
        and callable(getattr(user, "is_verified", None))
        and user.is_verified()
    )


def staff_required(permission: str | None = None) -> Callable[[View], View]:
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
