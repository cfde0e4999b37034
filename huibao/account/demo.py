"""Demo log-ins: one customer and one staff user per role (idempotent).

Run by `manage.py setup_demo`. Staff TOTP secrets are random the first time and then kept on the
device, so the secrets printed by an earlier run stay valid.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from huibao.account import consent
from huibao.account.models import User, UserKind
from huibao.account.roles import ROLES
from huibao.account.selectors import customer_by_phone
from huibao.account.services import create_staff_user, customer_username, enrol_totp

DEMO_PASSWORD = "huibao-demo-2026"
DEMO_CUSTOMER_PHONE = "13800138000"


@dataclass(frozen=True, slots=True)
class DemoLogin:
    role: str  # "customer" or a role code
    username: str  # the mobile number for the customer
    password: str
    totp_secret: str | None = None  # base32, as authenticator apps expect
    otpauth_uri: str | None = None


def totp_secret_base32(device: TOTPDevice) -> str:
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def _demo_customer() -> DemoLogin:
    user = customer_by_phone(DEMO_CUSTOMER_PHONE)
    if user is None:
        user = User(
            username=customer_username(DEMO_CUSTOMER_PHONE), kind=UserKind.CUSTOMER, display_name="演示客户"
        )
        user.set_phone(DEMO_CUSTOMER_PHONE)
    user.set_password(DEMO_PASSWORD)
    user.save()
    consent.record_current(user)  # as at sign-up
    return DemoLogin(role="customer", username=DEMO_CUSTOMER_PHONE, password=DEMO_PASSWORD)


def _demo_staff(role: str) -> DemoLogin:
    user = create_staff_user(role, DEMO_PASSWORD, [role], display_name=f"演示{ROLES[role].label}")
    device = TOTPDevice.objects.filter(user=user, name="demo").first() or enrol_totp(user, name="demo")
    if not device.confirmed:
        device = enrol_totp(user, name="demo")
    return DemoLogin(
        role=role,
        username=user.username,
        password=DEMO_PASSWORD,
        totp_secret=totp_secret_base32(device),
        otpauth_uri=device.config_url,
    )


def create_demo_users() -> list[DemoLogin]:
    """Create (or refresh the passwords of) the demo customer and one staff user per role."""
    with transaction.atomic():
        logins = [_demo_customer()]
        logins.extend(_demo_staff(role) for role in ROLES)
    return logins
