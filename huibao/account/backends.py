"""Authentication backends: customers log in with a mainland mobile number and a password."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from huibao.account.models import PHONE_CONTEXT, User, UserKind
from huibao.core.fields import lookup_hash


class PhonePasswordBackend(ModelBackend):
    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        phone = kwargs.get("phone") or username
        if not phone or not password or not phone.isdigit():
            return None
        user = User.objects.filter(
            phone_hash=lookup_hash(phone, context=PHONE_CONTEXT), kind=UserKind.CUSTOMER
        ).first()
        if user is None:
            User().set_password(password)  # same work as a real check: no timing oracle
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
