"""Demo claims desks (idempotent; run by `manage.py setup_demo`, which prints the log-ins): the
demo `claims_adjuster` log-in gets an agency desk, and three more adjusters join it — one more of
the agency's own (approval limit ¥50,000), one of the first insurer's (its claims only), and a
senior (appeals). The first insurer promises decisions within 15 days and asks for four eyes
above ¥5,000."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from huibao.account.demo import DEMO_PASSWORD, DemoLogin, totp_secret_base32
from huibao.account.models import User
from huibao.account.services import create_staff_user, enrol_totp
from huibao.catalog.models import Insurer
from huibao.claim.models import ClaimsDesk, InsurerClaimSettings


def _login(username: str, label: str) -> tuple[DemoLogin, int]:
    user = create_staff_user(username, DEMO_PASSWORD, ["claims_adjuster"], display_name=label)
    device = TOTPDevice.objects.filter(user=user, name="demo", confirmed=True).first() or enrol_totp(
        user, name="demo"
    )
    login = DemoLogin(
        role=f"desk:{username}",
        username=user.username,
        password=DEMO_PASSWORD,
        totp_secret=totp_secret_base32(device),
        otpauth_uri=device.config_url,
    )
    return login, user.pk


def create_demo_desks() -> list[DemoLogin]:
    insurer = Insurer.objects.order_by("code").first()
    logins: list[DemoLogin] = []
    with transaction.atomic():
        existing = User.objects.filter(username="claims_adjuster").first()
        if existing is not None:
            ClaimsDesk.objects.get_or_create(user=existing, defaults={"approval_limit": Decimal("20000")})
        specs: list[tuple[str, str, Insurer | None, bool, Decimal | None]] = [
            ("adjuster_agency", "演示理赔（平台）", None, False, Decimal("50000")),
            ("adjuster_senior", "演示资深理赔", None, True, None),
        ]
        if insurer is not None:
            specs.insert(
                1, ("adjuster_insurer", f"演示理赔（{insurer.short_name}）", insurer, False, Decimal("20000"))
            )
            InsurerClaimSettings.objects.get_or_create(
                insurer=insurer, defaults={"four_eyes_amount": Decimal("5000"), "decision_days": 15}
            )
        for username, label, of, senior, limit in specs:
            login, user_id = _login(username, label)
            ClaimsDesk.objects.update_or_create(
                user_id=user_id,
                defaults={"insurer": of, "senior": senior, "approval_limit": limit, "active": True},
            )
            logins.append(login)
    return logins
