"""Authentication backends for customers: mobile number + password, or mobile number + SMS code.

Both are reached only through `django.contrib.auth.authenticate(request, ...)`, after
`axes.backends.AxesStandaloneBackend`, so every failure is counted and a locked-out number is
refused before its password is even checked. Staff use Django's `ModelBackend` (username +
password) and then a TOTP code (see `views.staff_login`).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from huibao.account import rules
from huibao.account.models import CodePurpose, User
from huibao.account.selectors import customer_by_phone
from huibao.core.errors import DomainError

AUTH_ERROR_ATTR = "huibao_auth_error"


def auth_error(request: HttpRequest | None) -> DomainError | None:
    """The reason the SMS-code backend refused the last attempt on this request, if any."""
    error: DomainError | None = getattr(request, AUTH_ERROR_ATTR, None)
    return error


class PhonePasswordBackend(ModelBackend):
    """`authenticate(request, username=<mobile>, password=...)` for customers only."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        phone = rules.normalize_phone(kwargs.get("phone") or username or "")
        if not password or not rules.is_valid_phone(phone):
            return None
        user = customer_by_phone(phone)
        if user is None:
            User().set_password(password)  # same work as a real check: no timing oracle
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


class SmsCodeBackend(ModelBackend):
    """`authenticate(request, username=<mobile>, sms_code=...)`: log-in with a one-time SMS code.

    A refused code (wrong, expired, too many tries) returns None, so `authenticate` signals the
    failure to axes; the precise reason is left on the request for the page (`auth_error`).
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        from huibao.account.services import verify_code

        code = kwargs.get("sms_code")
        phone = rules.normalize_phone(kwargs.get("phone") or username or "")
        if not code or password is not None or not rules.is_valid_phone(phone):
            return None
        try:
            ok = verify_code(phone, CodePurpose.LOGIN, str(code))
        except DomainError as exc:
            if request is not None:
                setattr(request, AUTH_ERROR_ATTR, exc)
            return None
        if not ok:
            return None
        user = customer_by_phone(phone)
        if user is None or not self.user_can_authenticate(user):
            return None
        return user
