"""PIPL consent at sign-up and again after a new version (recorded with the version, the text's
hash, the time and the address's hash), 忘记密码 by SMS code, the password rules shown before any
error, and the send-code button's countdown matching the server's resend limit."""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from django.urls import reverse

from huibao.account import consent
from huibao.account.models import CodePurpose, Consent, LegalDocumentKind, User, UserKind
from huibao.account.selectors import customer_by_phone
from huibao.account.services import customer_username, send_login_code
from huibao.core.errors import ValidationFailed

from .conftest import PASSWORD, code_from

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "Brand-new-pass-77"


@pytest.fixture
def client() -> Client:
    return Client(REMOTE_ADDR="10.9.8.7")


def _sign_up(client: Client, outbox, phone: str, **extra: str):
    client.post(reverse("account:signup"), {"phone": phone, "action": "send_code"})
    form = {"phone": phone, "code": code_from(outbox, phone), "password": PASSWORD, "password2": PASSWORD}
    return client.post(reverse("account:signup"), {**form, "action": "signup", **extra})


def test_sign_up_without_consent_is_refused_and_creates_nothing(client, outbox) -> None:
    # when: everything but the consent box
    response = _sign_up(client, outbox, "13612340001")
    # then: the field says why; no account, no consent
    assert response.status_code == 200
    assert response.context["form"].errors["agree"] == ["用户协议和隐私政策：请阅读并勾选同意后再注册。"]
    assert customer_by_phone("13612340001") is None and not Consent.objects.exists()


def test_sign_up_records_consent_to_each_current_version(client, outbox) -> None:
    # when
    response = _sign_up(client, outbox, "13612340002", agree="on")
    # then: one row per document, with its version, the hash of its text, the time and a hashed IP
    assert response.status_code == 302
    user = customer_by_phone("13612340002")
    rows = {c.kind: c for c in Consent.objects.filter(user=user)}
    assert set(rows) == {LegalDocumentKind.USER_AGREEMENT, LegalDocumentKind.PRIVACY_POLICY}
    for kind, row in rows.items():
        document = consent.current_document(kind)
        assert row.version == document.version and row.document_sha256 == consent.body_sha256(document.body)
        assert row.consented_at is not None
        assert len(row.ip_hash) == 64 and "10.9.8.7" not in row.ip_hash


def test_a_new_version_asks_for_consent_again_at_the_next_log_in(client, outbox) -> None:
    # given: a customer who agreed to version 1, then the operator publishes version 2
    _sign_up(client, outbox, "13612340003", agree="on")
    client.logout()
    new = consent.publish(LegalDocumentKind.PRIVACY_POLICY, title="汇保隐私政策", body="第二版：新增了……")
    assert new.version == 2
    # when: they log in
    login = {"phone": "13612340003", "password": PASSWORD, "mode": "password", "next": "/products/"}
    response = client.post(reverse("account:login"), login)
    # then: the consent page first, naming only the new text; refusing to tick is refused
    assert response.status_code == 302 and response["Location"].startswith(reverse("account:consent"))
    page = client.get(response["Location"])
    assert "（第2版）" in page.content.decode() and "用户服务协议" not in page.content.decode()
    refused = client.post(reverse("account:consent"), {"next": "/products/"})
    assert refused.status_code == 422
    # and agreeing records version 2 and continues where they were going
    agreed = client.post(reverse("account:consent"), {"agree": "on", "next": "/products/"})
    assert agreed.status_code == 302 and agreed["Location"] == "/products/"
    user = customer_by_phone("13612340003")
    assert consent.missing_consents(user) == []
    assert Consent.objects.filter(user=user, kind=LegalDocumentKind.PRIVACY_POLICY).count() == 2


def test_an_account_without_any_consent_record_is_asked_at_its_next_log_in(client) -> None:
    # given: a customer account made before consent was recorded (or by staff, or an import):
    # a password, no consent row at all
    user = User(username=customer_username("13612340009"), kind=UserKind.CUSTOMER)
    user.set_phone("13612340009")
    user.set_password(PASSWORD)
    user.save()
    assert not Consent.objects.filter(user=user).exists()
    # when: they log in
    login = {"phone": "13612340009", "password": PASSWORD, "mode": "password", "next": "/products/"}
    response = client.post(reverse("account:login"), login)
    # then: the consent page first, asking for a first consent to both texts
    assert response.status_code == 302 and response["Location"].startswith(reverse("account:consent"))
    html = client.get(response["Location"]).content.decode()
    assert "用户协议与隐私政策" in html and "协议更新" not in html
    assert "用户服务协议" in html and "隐私政策" in html
    # and going on without ticking the box is refused, recording nothing
    assert client.post(reverse("account:consent"), {"next": "/products/"}).status_code == 422
    assert not Consent.objects.filter(user=user).exists()
    # when: they agree
    agreed = client.post(reverse("account:consent"), {"agree": "on", "next": "/products/"})
    # then: both current versions are recorded and they go on where they were going
    assert agreed.status_code == 302 and agreed["Location"] == "/products/"
    recorded = {(c.kind, c.version) for c in Consent.objects.filter(user=user)}
    assert recorded == {(t.kind, t.version) for t in consent.current_texts()}
    # and the next log-in goes straight through
    client.logout()
    again = client.post(reverse("account:login"), login)
    assert again.status_code == 302 and again["Location"] == "/products/"


def test_the_legal_texts_are_readable_by_version(client) -> None:
    first = consent.current_document(LegalDocumentKind.USER_AGREEMENT)
    consent.publish(LegalDocumentKind.USER_AGREEMENT, title="汇保用户服务协议", body="第二版正文")
    url = reverse("account:legal", args=["user_agreement"])
    assert "第二版正文" in client.get(url).content.decode()
    assert first.body.splitlines()[0] in client.get(f"{url}?version=1").content.decode()
    assert client.get(reverse("account:legal", args=["nothing"])).status_code == 404


def test_publishing_an_empty_text_names_the_field() -> None:
    with pytest.raises(ValidationFailed) as caught:
        consent.publish(LegalDocumentKind.USER_AGREEMENT, title="x", body="  ")
    assert caught.value.errors[0].field == "body"


def test_forgotten_password_reset_by_sms_code(client, outbox, customer, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    # given: the log-in page links to 忘记密码
    assert reverse("account:password_reset") in client.get(reverse("account:login")).content.decode()
    # when: a code is sent to the registered number and a new password set with it
    url = reverse("account:password_reset")
    sent = client.post(url, {"phone": "13912345678", "action": "send_code"})
    assert sent.status_code == 200 and sent.context["code_countdown"] == 60
    code = code_from(outbox, "13912345678")
    form = {"phone": "13912345678", "code": code, "password": NEW_PASSWORD, "password2": NEW_PASSWORD}
    done = client.post(url, {**form, "action": "reset"})
    # then: back to log-in, the new password works, the old one does not, the code is not logged
    assert done.status_code == 302 and done["Location"].startswith(reverse("account:login"))
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD) and not customer.check_password(PASSWORD)
    assert code not in caplog.text
    # and the code is used up
    again = client.post(url, {**form, "action": "reset"})
    assert again.status_code == 200 and "code" in again.context["form"].errors


def test_reset_codes_are_rate_limited_like_log_in_codes(client, customer) -> None:
    # when: a second code within 60 s
    client.post(reverse("account:password_reset"), {"phone": "13912345678", "action": "send_code"})
    again = client.post(reverse("account:password_reset"), {"phone": "13912345678", "action": "send_code"})
    # then: refused with the wait, and the page's button counts down the same wait
    assert again.status_code == 429 and 0 < int(again["Retry-After"]) <= 60
    assert 0 < again.context["code_countdown"] <= 60
    assert 'data-countdown="' in again.content.decode()


def test_a_reset_code_for_an_unknown_number_is_never_sent(outbox) -> None:
    send_login_code("13700009999", CodePurpose.PASSWORD_RESET)
    text = outbox.last_text_to("13700009999") or ""
    assert "尚未注册" in text and not any(ch.isdigit() for ch in text.replace("13700009999", ""))


def test_a_weak_new_password_is_refused_with_the_rule(client, outbox, customer) -> None:
    client.post(reverse("account:password_reset"), {"phone": "13912345678", "action": "send_code"})
    code = code_from(outbox, "13912345678")
    form = {"phone": "13912345678", "code": code, "password": "12345678", "password2": "12345678"}
    response = client.post(reverse("account:password_reset"), {**form, "action": "reset"})
    assert response.status_code == 200 and response.context["form"].errors["password"]
    customer.refresh_from_db()
    assert customer.check_password(PASSWORD)


def test_the_password_rules_are_on_the_page_before_any_error(client) -> None:
    for name in ("account:signup", "account:password_reset"):
        html = client.get(reverse(name)).content.decode()
        assert 'data-testid="password-rules"' in html and "至少8位" in html, name
        assert "data-password-toggle" in html, name
