from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from huibao.account import services
from huibao.account.errors import (
    CodeExpired,
    CodeInvalid,
    InvalidPhone,
    PhoneAlreadyRegistered,
    SmsThrottled,
    TooManyAttempts,
)
from huibao.account.models import CodePurpose, PhoneCode, User, UserKind
from huibao.account.selectors import phone_hash_of
from huibao.core.errors import ValidationFailed

from .conftest import PASSWORD, code_from

pytestmark = pytest.mark.django_db
PHONE = "13700001111"


def _later(monkeypatch, seconds: float) -> None:
    moment = timezone.now() + timedelta(seconds=seconds)
    monkeypatch.setattr(timezone, "now", lambda: moment)


def test_send_code_stores_only_a_digest_and_texts_six_digits(outbox):
    # when
    sent = services.send_login_code(PHONE, CodePurpose.SIGNUP)
    # then
    code = code_from(outbox, PHONE)
    row = PhoneCode.objects.get(phone_hash=phone_hash_of(PHONE), purpose="signup")
    assert code not in row.code_digest and len(row.code_digest) == 64
    assert PHONE not in row.phone_hash
    assert row.receipt_id == sent.receipt.receipt_id
    assert sent.receipt.phone_masked == "137****1111"
    assert (row.expires_at - row.sent_at) == timedelta(minutes=5)


def test_verify_code_accepts_the_code_once(outbox):
    # given
    services.send_login_code(PHONE, CodePurpose.SIGNUP)
    code = code_from(outbox, PHONE)
    # when / then
    assert services.verify_code(PHONE, CodePurpose.SIGNUP, code) is True
    with pytest.raises(CodeExpired):
        services.verify_code(PHONE, CodePurpose.SIGNUP, code)


def test_code_of_one_purpose_does_not_open_another(outbox, customer):
    # given: a log-in code for the customer's number
    services.send_login_code("13912345678", CodePurpose.LOGIN)
    code = code_from(outbox, "13912345678")
    # when / then: there is no sign-up code for it
    with pytest.raises(CodeInvalid):
        services.verify_code("13912345678", CodePurpose.SIGNUP, code)


def test_code_expires_after_five_minutes(outbox, monkeypatch):
    # given
    services.send_login_code(PHONE, CodePurpose.SIGNUP)
    code = code_from(outbox, PHONE)
    # when
    _later(monkeypatch, 5 * 60 + 1)
    # then
    with pytest.raises(CodeExpired) as excinfo:
        services.verify_code(PHONE, CodePurpose.SIGNUP, code)
    assert excinfo.value.code == "code_expired"


def test_code_is_still_good_just_before_expiry(outbox, monkeypatch):
    services.send_login_code(PHONE, CodePurpose.SIGNUP)
    code = code_from(outbox, PHONE)
    _later(monkeypatch, 4 * 60 + 59)
    assert services.verify_code(PHONE, CodePurpose.SIGNUP, code) is True


def test_five_wrong_tries_burn_the_code(outbox):
    # given
    services.send_login_code(PHONE, CodePurpose.SIGNUP)
    code = code_from(outbox, PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    # when: four wrong tries are refused and counted
    for _ in range(4):
        assert services.verify_code(PHONE, CodePurpose.SIGNUP, wrong) is False
    # then: the fifth burns the code, and the right code no longer works
    with pytest.raises(TooManyAttempts):
        services.verify_code(PHONE, CodePurpose.SIGNUP, wrong)
    with pytest.raises(TooManyAttempts) as excinfo:
        services.verify_code(PHONE, CodePurpose.SIGNUP, code)
    assert excinfo.value.code == "too_many_attempts"
    assert PhoneCode.objects.get(phone_hash=phone_hash_of(PHONE)).attempts == 5


def test_resend_is_throttled_for_sixty_seconds(outbox, monkeypatch):
    # given
    services.send_login_code(PHONE, CodePurpose.SIGNUP)
    first = code_from(outbox, PHONE)
    # when / then
    with pytest.raises(SmsThrottled) as excinfo:
        services.send_login_code(PHONE, CodePurpose.SIGNUP)
    assert excinfo.value.code == "sms_throttled"
    assert 0 < excinfo.value.retry_after <= 60
    assert len(outbox.outbox) == 1
    # and after a minute a new code replaces the old one
    _later(monkeypatch, 61)
    services.send_login_code(PHONE, CodePurpose.SIGNUP)
    second = code_from(outbox, PHONE)
    if second != first:
        with pytest.raises(CodeInvalid):
            services.require_code(PHONE, CodePurpose.SIGNUP, first)
    assert services.verify_code(PHONE, CodePurpose.SIGNUP, second) is True


def test_a_new_code_resets_the_attempt_counter(outbox, monkeypatch):
    services.send_login_code(PHONE, CodePurpose.SIGNUP)
    wrong = f"{(int(code_from(outbox, PHONE)) + 1) % 1_000_000:06d}"
    for _ in range(3):
        assert services.verify_code(PHONE, CodePurpose.SIGNUP, wrong) is False
    _later(monkeypatch, 61)
    services.send_login_code(PHONE, CodePurpose.SIGNUP)
    assert PhoneCode.objects.get(phone_hash=phone_hash_of(PHONE)).attempts == 0


@pytest.mark.parametrize("bad", ["12345678901", "1380013800", "abc", ""])
def test_invalid_phone_is_refused_with_the_field_named(bad):
    with pytest.raises(InvalidPhone) as excinfo:
        services.send_login_code(bad, CodePurpose.SIGNUP)
    assert excinfo.value.code == "phone_invalid"
    assert [e.field for e in excinfo.value.errors] == ["phone"]


def test_malformed_code_is_invalid_and_not_counted(outbox):
    services.send_login_code(PHONE, CodePurpose.SIGNUP)
    with pytest.raises(CodeInvalid):
        services.verify_code(PHONE, CodePurpose.SIGNUP, "12a")
    assert PhoneCode.objects.get(phone_hash=phone_hash_of(PHONE)).attempts == 0


def test_a_code_for_the_wrong_purpose_answers_as_usual_and_texts_a_notice(customer, outbox):
    # an unknown number asking to log in, a known one asking to sign up: no error to tell them apart
    login = services.send_login_code(PHONE, CodePurpose.LOGIN)
    signup = services.send_login_code("13912345678", CodePurpose.SIGNUP)
    assert login.resend_after == signup.resend_after == 60
    assert "尚未注册" in (outbox.last_text_to(PHONE) or "")
    assert "已经注册" in (outbox.last_text_to("13912345678") or "")


def test_register_customer_encrypts_the_phone_and_hides_it_from_username(outbox):
    # given
    services.send_login_code(PHONE, CodePurpose.SIGNUP)
    # when
    user = services.register_customer(PHONE, PASSWORD, code_from(outbox, PHONE))
    # then
    user.refresh_from_db()
    assert user.kind == UserKind.CUSTOMER and user.phone == PHONE
    assert PHONE not in user.username
    assert user.check_password(PASSWORD)
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM account_user WHERE id = %s", [user.pk])
        stored = cursor.fetchone()[0]
    assert PHONE not in stored and stored.startswith("hb1:")


def test_register_customer_writes_an_audit_entry_without_the_phone_in_clear(outbox):
    from huibao.core.models import AuditEntry

    # given
    services.send_login_code(PHONE, CodePurpose.SIGNUP)
    # when
    user = services.register_customer(PHONE, PASSWORD, code_from(outbox, PHONE))
    # then
    entry = AuditEntry.objects.get(action="account.customer.register", object_id=str(user.pk))
    assert entry.after["phone"] == PHONE[:3] + "****" + PHONE[-4:]
    assert PHONE not in str(entry.after)


def test_register_customer_rejects_a_weak_password_before_using_the_code(outbox):
    services.send_login_code(PHONE, CodePurpose.SIGNUP)
    code = code_from(outbox, PHONE)
    with pytest.raises(ValidationFailed) as excinfo:
        services.register_customer(PHONE, "123", code)
    assert {e.field for e in excinfo.value.errors} == {"password"}
    assert services.verify_code(PHONE, CodePurpose.SIGNUP, code) is True


def test_register_customer_with_a_wrong_code_creates_nothing(outbox):
    services.send_login_code(PHONE, CodePurpose.SIGNUP)
    wrong = f"{(int(code_from(outbox, PHONE)) + 1) % 1_000_000:06d}"
    with pytest.raises(CodeInvalid):
        services.register_customer(PHONE, PASSWORD, wrong)
    assert not User.objects.filter(phone_hash=phone_hash_of(PHONE)).exists()


def test_a_number_registered_since_its_sign_up_code_was_sent_is_refused_after_the_code(outbox):
    # given: a sign-up code for a new number, then the number is registered meanwhile
    services.send_login_code(PHONE, CodePurpose.SIGNUP)
    code = code_from(outbox, PHONE)
    with pytest.raises(CodeInvalid):  # a wrong code says nothing about the number
        services.register_customer(PHONE, PASSWORD, "000000" if code != "000000" else "111111")
    other = User(username=services.customer_username(PHONE), kind=UserKind.CUSTOMER)
    other.set_phone(PHONE)
    other.save()
    # when / then: the right code proves the number, and only then is "registered" told
    with pytest.raises(PhoneAlreadyRegistered):
        services.register_customer(PHONE, PASSWORD, code)


def test_servicing_code_names_the_operation_and_opens_only_servicing(outbox, customer):
    # given: a registered holder confirming a cancellation
    services.send_servicing_code("13912345678", operation="退保")
    # then: the text says what is confirmed and carries the code
    text = outbox.outbox[-1].text
    assert "退保" in text and "验证码" in text
    code = code_from(outbox, "13912345678")
    # the code cannot log in (another purpose) …
    with pytest.raises(CodeInvalid):
        services.verify_code("13912345678", CodePurpose.LOGIN, code)
    # … and confirms the servicing operation once
    assert services.verify_code("13912345678", CodePurpose.SERVICING, code) is True
    with pytest.raises(CodeExpired):
        services.verify_code("13912345678", CodePurpose.SERVICING, code)
