from __future__ import annotations

import itertools
from datetime import date

import pytest
from django.db import connection

from huibao.account import consent
from huibao.account.models import User, UserKind
from huibao.notification.sms import ConsoleSmsBackend, get_sms_backend, reset_sms_backends

_numbers = itertools.count(1)

# Two threads claiming one row need a database with row locks and real concurrent sessions.
collect_ignore = [] if connection.vendor == "postgresql" else ["test_concurrency.py"]


@pytest.fixture(autouse=True)
def _console_sms(settings):
    settings.SMS_BACKEND = "huibao.notification.sms.ConsoleSmsBackend"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    reset_sms_backends()
    yield
    reset_sms_backends()


@pytest.fixture
def sms_outbox() -> ConsoleSmsBackend:
    backend = get_sms_backend()
    assert isinstance(backend, ConsoleSmsBackend)
    return backend


def make_customer(*, email: str = "li.hua@example.com", phone: str | None = None) -> User:
    n = next(_numbers)
    phone = phone if phone is not None else f"139{n:08d}"
    user = User(username=f"c{n}-{phone}", kind=UserKind.CUSTOMER, email=email)
    user.set_phone(phone)
    user.set_password("Sturdy-pass-2026")
    user.save()
    consent.record_current(user)  # as at sign-up: the log-in does not stop at the consent page
    return user


@pytest.fixture
def customer(db) -> User:
    return make_customer()


ISSUED = {"policy_number": "P2026000001", "product_name": "百万医疗险", "effective_at": date(2026, 12, 3)}
