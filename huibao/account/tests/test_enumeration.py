"""Nobody learns from the API or the pages whether a number belongs to a customer: asking for a
log-in or a sign-up code answers alike for a registered and an unregistered number (status, body,
headers), and asking too often is throttled per number and per client address (429 with
`Retry-After`)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from huibao.account import services
from huibao.account.errors import CodeInvalid, SmsThrottled
from huibao.account.models import CodePurpose, PhoneCode
from huibao.account.selectors import phone_hash_of
from huibao.account.sms import ConsoleSmsBackend

from .conftest import PASSWORD, code_from

pytestmark = pytest.mark.django_db

KNOWN = "13912345678"  # the `customer` fixture's number
UNKNOWN = "13900005678"  # masked the same way: 139****5678
SMS_CODES = "/api/v1/auth/sms-codes"


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Time stands still (a list holding the moment; move it with `_later`)."""
    moment = [timezone.now()]
    monkeypatch.setattr(timezone, "now", lambda: moment[0])
    return moment


def _later(frozen: list[Any], seconds: float) -> None:
    frozen[0] = frozen[0] + timedelta(seconds=seconds)


def _ask(client: Client, phone: str) -> Any:
    return client.post(SMS_CODES, json.dumps({"phone": phone}), content_type="application/json")


def _headers(response: Any) -> dict[str, str]:
    return dict(response.items())


def _page_text(response: Any) -> str:
    """The page without its per-render CSRF tokens (64 letters and digits, in forms and htmx headers)."""
    return re.sub(r"(?<![A-Za-z0-9])[A-Za-z0-9]{64}(?![A-Za-z0-9])", "<csrf>", response.content.decode())


def test_the_api_answers_alike_for_a_known_and_an_unknown_number(customer, outbox, frozen) -> None:
    # when
    known = _ask(Client(REMOTE_ADDR="10.0.0.1"), KNOWN)
    unknown = _ask(Client(REMOTE_ADDR="10.0.0.2"), UNKNOWN)
    # then: byte for byte the same answer (today: 202 for one, 404 phone_unknown for the other)
    assert known.status_code == unknown.status_code == 202, unknown.content
    assert known.content == unknown.content
    assert _headers(known) == _headers(unknown)
    assert known.json()["phone"] == "139****5678"


def test_asking_again_too_soon_is_refused_alike(customer, outbox, frozen) -> None:
    # given
    client = Client(REMOTE_ADDR="10.0.0.1")
    _ask(client, KNOWN), _ask(client, UNKNOWN)
    _later(frozen, 10)
    # when
    known, unknown = _ask(client, KNOWN), _ask(client, UNKNOWN)
    # then
    assert known.status_code == unknown.status_code == 429
    assert known.content == unknown.content and _headers(known) == _headers(unknown)
    assert known.json()["code"] == "sms_throttled" and known["Retry-After"] == "50"


def test_an_unknown_number_gets_a_notice_and_no_usable_code(outbox) -> None:
    # when
    services.send_login_code(UNKNOWN, CodePurpose.LOGIN)
    # then: the same row as for a customer, but the SMS carries no code
    text = outbox.last_text_to(UNKNOWN) or ""
    assert "尚未注册" in text and not re.search(r"\d{6}", text)
    assert PhoneCode.objects.filter(phone_hash=phone_hash_of(UNKNOWN), purpose="login").exists()


def test_a_sign_up_code_for_a_known_number_is_a_notice_and_signs_nobody_up(customer, outbox) -> None:
    # given
    sent = services.send_login_code(KNOWN, CodePurpose.SIGNUP)
    text = outbox.last_text_to(KNOWN) or ""
    # then: the answer is a normal one; the number's owner is told to log in
    assert sent.receipt.phone_masked == "139****5678"
    assert "已经注册" in text and not re.search(r"\d{6}", text)
    # and a guessed code fails as a wrong code does for a new number (not "already registered")
    with pytest.raises(CodeInvalid):
        services.register_customer(KNOWN, PASSWORD, "123456")


def test_the_owner_of_a_new_number_still_signs_up(outbox) -> None:
    services.send_login_code(UNKNOWN, CodePurpose.SIGNUP)
    user = services.register_customer(UNKNOWN, PASSWORD, code_from(outbox, UNKNOWN))
    assert user.phone == UNKNOWN


@pytest.mark.parametrize(
    ("page", "fields"),
    [
        ("account:signup", {"action": "send_code"}),
        ("account:login", {"mode": "sms", "action": "send_code"}),
    ],
)
def test_the_pages_answer_alike_for_a_known_and_an_unknown_number(
    customer, outbox, frozen, page: str, fields: dict[str, str]
) -> None:
    # when
    known = Client(REMOTE_ADDR="10.0.0.1").post(reverse(page), {"phone": KNOWN, **fields})
    unknown = Client(REMOTE_ADDR="10.0.0.2").post(reverse(page), {"phone": UNKNOWN, **fields})
    # then
    assert known.status_code == unknown.status_code == 200
    assert _page_text(known).replace(KNOWN, UNKNOWN) == _page_text(unknown)  # the number typed in
    assert "139****5678" in _page_text(known)
    assert set(dict(known.items())) == set(dict(unknown.items()))


def test_sign_up_with_a_wrong_code_reads_alike_for_a_known_number(customer, outbox) -> None:
    # given
    for phone in (KNOWN, UNKNOWN):
        services.send_login_code(phone, CodePurpose.SIGNUP)
    form = {"code": "000000", "password": PASSWORD, "password2": PASSWORD, "agree": "on"}
    # when
    known = Client().post(reverse("account:signup"), {"phone": KNOWN, **form})
    unknown = Client().post(reverse("account:signup"), {"phone": UNKNOWN, **form})
    # then
    assert known.status_code == unknown.status_code == 200
    assert _page_text(known).replace(KNOWN, UNKNOWN) == _page_text(unknown)


def test_codes_to_one_number_are_limited_per_hour(outbox, frozen) -> None:
    # given: five codes, a minute apart, from as many addresses
    for i in range(5):
        services.send_login_code(UNKNOWN, CodePurpose.LOGIN, client_address=f"10.0.1.{i}")
        _later(frozen, 61)
    # when
    with pytest.raises(SmsThrottled) as excinfo:
        services.send_login_code(UNKNOWN, CodePurpose.LOGIN, client_address="10.0.2.1")
    # then: nothing sent, and the wait is until the hour's window ends
    assert excinfo.value.code == "sms_throttled" and 0 < excinfo.value.retry_after <= 3600
    assert len(outbox.outbox) == 5


def test_requests_from_one_address_are_limited_and_answered_429_with_retry_after(
    outbox: ConsoleSmsBackend,
) -> None:
    # given: twenty requests from one address, each for another number
    client = Client(REMOTE_ADDR="10.9.9.9")
    for i in range(20):
        assert _ask(client, f"1370000{i:04d}").status_code == 202
    # when
    refused = _ask(client, "13800001111")
    elsewhere = _ask(Client(REMOTE_ADDR="10.9.9.10"), "13800001111")
    # then
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "sms_throttled" and [e["field"] for e in body["errors"]] == ["phone"]
    assert 0 < int(refused["Retry-After"]) <= 600
    assert elsewhere.status_code == 202


def test_the_page_answers_429_with_retry_after_too(outbox: ConsoleSmsBackend) -> None:
    client = Client(REMOTE_ADDR="10.9.9.9")
    for i in range(20):
        client.post(reverse("account:signup"), {"phone": f"1370000{i:04d}", "action": "send_code"})
    response = client.post(reverse("account:signup"), {"phone": "13800001111", "action": "send_code"})
    assert response.status_code == 429 and 0 < int(response["Retry-After"]) <= 600
    assert "请求过于频繁" in response.content.decode()


def test_password_log_in_reads_alike_for_an_unknown_number_and_a_wrong_password(customer) -> None:
    # when
    unknown = Client().post(reverse("account:login"), {"phone": UNKNOWN, "password": PASSWORD})
    wrong = Client().post(reverse("account:login"), {"phone": KNOWN, "password": "Wrong-pass-2026"})
    api_unknown = Client().post(
        "/api/v1/auth/tokens", {"phone": UNKNOWN, "password": PASSWORD}, content_type="application/json"
    )
    api_wrong = Client().post(
        "/api/v1/auth/tokens",
        {"phone": KNOWN, "password": "Wrong-pass-2026"},
        content_type="application/json",
    )
    # then
    assert unknown.status_code == wrong.status_code == 200
    assert _page_text(unknown).replace(UNKNOWN, KNOWN) == _page_text(wrong)
    assert api_unknown.status_code == api_wrong.status_code == 401
    assert api_unknown.content == api_wrong.content


def test_the_throttle_keeps_no_number_nor_address_in_the_cache(outbox) -> None:
    from django.core.cache import cache

    services.send_login_code(UNKNOWN, CodePurpose.LOGIN, client_address="10.7.7.7")
    keys = " ".join(str(k) for k in getattr(cache, "_cache", {}))
    assert "account:throttle:sms_number" in keys and "account:throttle:sms_address" in keys
    assert UNKNOWN not in keys and "10.7.7.7" not in keys
