from __future__ import annotations

import pyotp
import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from huibao.account.demo import DEMO_PASSWORD, create_demo_users
from huibao.account.models import User
from huibao.account.roles import ROLES
from huibao.account.selectors import customer_by_phone

pytestmark = pytest.mark.django_db


def test_demo_users_are_created_once_and_keep_their_secrets():
    # when
    first = create_demo_users()
    second = create_demo_users()
    # then
    assert [login.role for login in first] == ["customer", *ROLES]
    assert [(x.username, x.totp_secret) for x in first] == [(x.username, x.totp_secret) for x in second]
    assert User.objects.filter(kind="staff").count() == len(ROLES)
    assert TOTPDevice.objects.filter(confirmed=True).count() == len(ROLES)
    customer = customer_by_phone("13800138000")
    assert customer is not None and customer.check_password(DEMO_PASSWORD)


def test_demo_totp_secret_produces_codes_the_device_accepts():
    # given
    underwriter = next(x for x in create_demo_users() if x.role == "underwriter")
    device = TOTPDevice.objects.get(user__username="underwriter")
    # when
    token = pyotp.TOTP(underwriter.totp_secret).now()
    # then
    assert underwriter.otpauth_uri.startswith("otpauth://totp/")
    assert device.verify_token(token)
    assert User.objects.get(username="underwriter").groups.filter(name="underwriter").exists()
