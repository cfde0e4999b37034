"""The sandbox SMS gateway: a remote gateway's limits and failures, and an inbox that only staff
read on a page — never standard error, never a log record."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from huibao.account.errors import SmsDeliveryFailed, SmsThrottled
from huibao.account.models import User, UserKind
from huibao.account.services import customer_username
from huibao.account.sms import get_sms_backend, reset_sms_backends
from huibao.core import deployment
from huibao.sandbox.models import SandboxSms
from huibao.sandbox.sms import SandboxSmsBackend, inbox

pytestmark = pytest.mark.django_db

PHONE = "13912345678"
INBOX = "/sandbox/sms/"


@pytest.fixture(autouse=True)
def _sandbox_gateway(settings) -> Iterator[None]:
    settings.SMS_BACKEND = deployment.SANDBOX_SMS_BACKEND
    settings.SMS_SANDBOX_FAILURE_RATE = 0.0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    reset_sms_backends()
    yield
    reset_sms_backends()


def _customer() -> User:
    user = User(username=customer_username(PHONE), kind=UserKind.CUSTOMER)
    user.set_phone(PHONE)
    user.set_password("Sturdy-pass-2026")
    user.save()
    return user


def _staff_client(username: str, *, may_read: bool) -> Client:
    user = User.objects.create_user(username=username, password=None, kind=UserKind.STAFF, is_staff=True)
    if may_read:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="sandbox", codename="view_sandboxsms")
        )
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def _code_in(text: str) -> str:
    match = re.search(r"(?<!\d)(\d{6})(?!\d)", text)
    assert match, text
    return match.group(1)


# --- the gateway ----------------------------------------------------------------------------------


def test_a_sent_text_goes_to_the_inbox_encrypted_and_nowhere_else(capsys, every_record) -> None:
    # given
    backend = SandboxSmsBackend(failure_rate=0)
    # when
    receipt = backend.send(PHONE, "您的验证码为 246810")
    # then: kept in the inbox, readable through the model
    kept = SandboxSms.objects.get(receipt_id=receipt.receipt_id)
    assert kept.text == "您的验证码为 246810" and kept.phone_masked == "139****5678"
    assert receipt.receipt_id.startswith("sbx-") and backend.last_text_to(PHONE) == "您的验证码为 246810"
    # and neither the code nor the number is stored in clear
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone_hash, phone_masked, text FROM sandbox_sandboxsms")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert "246810" not in stored and PHONE not in stored
    # and nothing reached the terminal or any log record
    printed = capsys.readouterr()
    assert "246810" not in printed.err and "246810" not in printed.out
    assert not every_record.holding("246810")


def test_limits_one_per_minute_per_number() -> None:
    # given
    backend = SandboxSmsBackend(failure_rate=0)
    backend.send(PHONE, "a")
    # when / then
    with pytest.raises(SmsThrottled) as excinfo:
        backend.send(PHONE, "b")
    assert 0 < excinfo.value.retry_after <= 61
    backend.send("13900139000", "other numbers are not affected")
    assert SandboxSms.objects.count() == 2


def test_limits_ten_per_day(monkeypatch) -> None:
    # given
    backend = SandboxSmsBackend(failure_rate=0)
    start = timezone.now()
    for minute in range(10):
        moment = start + timedelta(minutes=2 * minute)
        monkeypatch.setattr(timezone, "now", lambda moment=moment: moment)
        backend.send(PHONE, f"#{minute}")
    # when: the eleventh, well after the per-minute window
    eleventh = start + timedelta(hours=2)
    monkeypatch.setattr(timezone, "now", lambda: eleventh)
    # then
    with pytest.raises(SmsThrottled):
        backend.send(PHONE, "#11")
    next_day = start + timedelta(days=1, minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: next_day)
    backend.send(PHONE, "tomorrow")


def test_the_failure_rate_fails_that_share_of_sends_and_keeps_nothing() -> None:
    always = SandboxSmsBackend(failure_rate=1.0)
    with pytest.raises(SmsDeliveryFailed):
        always.send(PHONE, "x")
    assert not SandboxSms.objects.exists()
    assert SandboxSmsBackend(failure_rate=0.0).send(PHONE, "x").backend == "sandbox"


def test_the_failure_rate_is_roughly_honoured() -> None:
    backend = SandboxSmsBackend(failure_rate=0.3, seed=7)
    failures = 0
    for i in range(200):
        try:
            backend.send(f"1380000{i:04d}", "x")
        except SmsDeliveryFailed:
            failures += 1
    assert 35 <= failures <= 85


def test_the_setting_loads_it_and_its_former_path_still_names_it() -> None:
    assert isinstance(get_sms_backend(), SandboxSmsBackend)
    assert deployment.sms_backend("huibao.account.sms.SandboxSmsBackend") == deployment.SANDBOX_SMS_BACKEND
    used = deployment.sandbox_parts_in_use(
        payment_provider="x", identity_provider="x", face_provider="x", insurer_connectors={"*": "x"},
        sms_backend=deployment.SANDBOX_SMS_BACKEND,
    )  # fmt: skip
    assert used == {"sms": f"SMS_BACKEND={deployment.SANDBOX_SMS_BACKEND}"}


def test_the_inbox_lists_the_last_texts_per_number_newest_first(monkeypatch) -> None:
    # given: three texts to one number, one to another, a minute apart
    backend = SandboxSmsBackend(failure_rate=0)
    start = timezone.now()
    for minute, (phone, text) in enumerate([(PHONE, "1"), ("13900139000", "A"), (PHONE, "2"), (PHONE, "3")]):
        moment = start + timedelta(minutes=2 * minute)
        monkeypatch.setattr(timezone, "now", lambda moment=moment: moment)
        backend.send(phone, text)
    # when
    numbers = inbox(per_number=2)
    # then
    assert [(n.phone_masked, [m.text for m in n.messages]) for n in numbers] == [
        ("139****5678", ["3", "2"]),
        ("139****9000", ["A"]),
    ]


# --- the inbox page -------------------------------------------------------------------------------


def test_a_log_in_code_reaches_staff_on_the_inbox_page_and_no_log_record(every_record, capsys) -> None:
    # given: a customer asks for a log-in code on the log-in page
    _customer()
    page = Client(REMOTE_ADDR="10.1.2.3").post(
        reverse("account:login"), {"mode": "sms", "phone": PHONE, "action": "send_code"}
    )
    assert page.status_code == 200
    code = _code_in(get_sms_backend().last_text_to(PHONE) or "")  # type: ignore[attr-defined]
    # when: staff allowed to read the inbox open it
    response = _staff_client("tester_zhao", may_read=True).get(INBOX)
    # then: the code is there, under the masked number only
    body = response.content.decode()
    assert response.status_code == 200 and code in body
    assert "139****5678" in body and PHONE not in body
    # and the code reached no log record at any level, nor the terminal
    assert every_record, "nothing was logged at DEBUG: the capture is broken"
    assert not every_record.holding(code)
    assert code not in capsys.readouterr().err


def test_the_inbox_is_not_shown_to_customers_anonymous_visitors_or_staff_without_the_permission() -> None:
    # given
    SandboxSmsBackend(failure_rate=0).send(PHONE, "您的验证码为 135790")
    customer = Client()
    customer.force_login(_customer())
    # when
    answers = {
        "anonymous": Client().get(INBOX),
        "customer": customer.get(INBOX),
        "staff without the permission": _staff_client("agent_qian", may_read=False).get(INBOX),
    }
    # then: none of them sees the code; a visitor is sent to the staff log-in
    for who, response in answers.items():
        assert "135790" not in response.content.decode(), who
    assert answers["anonymous"].status_code == 302 and "/account/staff/" in answers["anonymous"]["Location"]
    assert answers["customer"].status_code == 302
    assert answers["staff without the permission"].status_code == 403


def test_the_inbox_is_refused_where_the_sandbox_is_not_allowed(settings) -> None:
    # given: outside development, with the SMS sandbox not named in HUIBAO_ALLOW_SANDBOX
    SandboxSms.objects.create(
        phone_hash="h", phone_masked="139****5678", text="123456", receipt_id="r1", sent_at=timezone.now()
    )
    staff = _staff_client("tester_qian", may_read=True)
    settings.HUIBAO_STRICT = True
    settings.HUIBAO_SANDBOX_NOTICE = ("payment",)
    # when
    refused = staff.get(INBOX)
    # then
    assert refused.status_code == 404 and "123456" not in refused.content.decode()
    # and where it is allowed it is served
    settings.HUIBAO_SANDBOX_NOTICE = ("payment", "sms")
    assert staff.get(INBOX).status_code == 200
