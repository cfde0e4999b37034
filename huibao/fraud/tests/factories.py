"""Subjects and staff for the fraud tests."""

from __future__ import annotations

import datetime
import itertools
from dataclasses import replace
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from huibao.account.models import User, UserKind
from huibao.fraud.rules import ClaimSubject

_numbers = itertools.count(1)
REPORTED = datetime.datetime(2026, 6, 1, 10, 0, tzinfo=datetime.UTC)


def subject(**changes: Any) -> ClaimSubject:
    base = ClaimSubject(
        reference=f"CL{next(_numbers):08d}",
        policy_reference="P0001",
        insurer_code="PICC",
        product_code="med-1",
        claimant_id_hash="a" * 64,
        insured_id_hash="a" * 64,
        region_code="310101",
        claim_type="medical",
        amount_claimed=Decimal("800.00"),
        incident_date=datetime.date(2026, 5, 20),
        reported_at=REPORTED,
        policy_effective_date=datetime.date(2025, 1, 1),
        waiting_period_end=datetime.date(2025, 1, 31),
        medical_institution="上海市第一人民医院",
        invoice_numbers=(),
        file_digests=(),
        claimant_name="张三丰",
    )
    return replace(base, **changes)


def staff_client(client: Any, role: str, username: str = "analyst") -> Any:
    user = User.objects.create_user(
        username=username, password="x-unused-123", kind=UserKind.STAFF, is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    user = User.objects.get(pk=user.pk)
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    client.user = user
    return client


def analyst(username: str = "analyst2") -> User:
    user = User.objects.create_user(
        username=username, password="x-unused-123", kind=UserKind.STAFF, is_staff=True
    )
    user.groups.add(Group.objects.get(name="fraud_analyst"))
    return User.objects.get(pk=user.pk)
