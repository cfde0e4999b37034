from __future__ import annotations

import re

import pytest
from django.core.cache import cache

from huibao.account import consent
from huibao.account.models import User, UserKind
from huibao.account.services import create_staff_user, customer_username, enrol_totp
from huibao.account.sms import ConsoleSmsBackend, get_sms_backend, reset_sms_backends

PASSWORD = "Sturdy-pass-2026"


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SMS_BACKEND = "huibao.account.sms.ConsoleSmsBackend"
    reset_sms_backends()
    cache.clear()
    yield
    reset_sms_backends()


@pytest.fixture
def outbox() -> ConsoleSmsBackend:
    backend = get_sms_backend()
    assert isinstance(backend, ConsoleSmsBackend)
    return backend


def code_from(outbox: ConsoleSmsBackend, phone: str) -> str:
    text = outbox.last_text_to(phone)
    assert text is not None, f"no SMS to {phone}"
    match = re.search(r"(?<!\d)(\d{6})(?!\d)", text)
    assert match, text
    return match.group(1)


@pytest.fixture
def customer(db) -> User:
    user = User(username=customer_username("13912345678"), kind=UserKind.CUSTOMER)
    user.set_phone("13912345678")
    user.set_password(PASSWORD)
    user.save()
    consent.record_current(user)  # as at sign-up: the log-in does not stop at the consent page
    return user


@pytest.fixture
def staff_with_totp(db):
    user = create_staff_user("uw_li", PASSWORD, ["underwriter"])
    device = enrol_totp(user)
    return user, device
