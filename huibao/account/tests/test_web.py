from __future__ import annotations

import pyotp
import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from huibao.account.demo import totp_secret_base32
from huibao.account.models import User
from huibao.account.selectors import customer_by_phone
from huibao.account.services import create_staff_user

from .conftest import PASSWORD, code_from

pytestmark = pytest.mark.django_db


def zh(text: str) -> str:
    with translation.override("zh-hans"):
        return gettext(text)


@pytest.fixture
def client() -> Client:
    return Client(REMOTE_ADDR="10.1.2.3")


# --- sign-up ----------------------------------------------------------------------------------


def test_sign_up_through_the_page(client, outbox):
    # given: the number asks for a code
    page = client.get(reverse("account:signup"))
    assert page.status_code == 200
    sent = client.post(reverse("account:signup"), {"phone": "13612345678", "action": "send_code"})
    assert sent.status_code == 200
    code = code_from(outbox, "13612345678")
    # when
    response = client.post(
        reverse("account:signup"),
        {
            "phone": "13612345678",
            "code": code,
            "password": PASSWORD,
            "password2": PASSWORD,
            "action": "signup",
            "agree": "on",
        },
    )
    # then: the customer exists, is logged in, and "my account" shows the masked number
    assert response.status_code == 302 and response.url == reverse("account:me")
    user = customer_by_phone("13612345678")
    assert user is not None and user.check_password(PASSWORD)
    me = client.get(reverse("account:me"))
    assert "136****5678" in me.content.decode() and "13612345678" not in me.content.decode()


def test_sign_up_rejects_a_bad_number_naming_the_field(client, outbox):
    response = client.post(reverse("account:signup"), {"phone": "12345", "action": "send_code"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["phone"]
    assert (
        zh("Mobile number: enter an 11-digit mainland China mobile number starting with 13-19.")
        in errors["phone"]
    )
    assert not outbox.outbox


def test_sign_up_with_wrong_code_shows_the_error_on_the_code_field(client, outbox):
    client.post(reverse("account:signup"), {"phone": "13612345678", "action": "send_code"})
    wrong = f"{(int(code_from(outbox, '13612345678')) + 1) % 1_000_000:06d}"
    response = client.post(
        reverse("account:signup"),
        {
            "phone": "13612345678",
            "code": wrong,
            "password": PASSWORD,
            "password2": PASSWORD,
            "action": "signup",
            "agree": "on",
        },
    )
    assert response.status_code == 200
    assert "code" in response.context["form"].errors
    assert customer_by_phone("13612345678") is None


def test_sign_up_requires_matching_passwords(client, outbox):
    response = client.post(
        reverse("account:signup"),
        {
            "phone": "13612345678",
            "code": "123456",
            "password": PASSWORD,
            "password2": "other",
            "action": "signup",
            "agree": "on",
        },
    )
    assert "password2" in response.context["form"].errors


# --- customer log-in --------------------------------------------------------------------------


def test_password_log_in(client, customer):
    response = client.post(
        reverse("account:login"), {"mode": "password", "phone": "13912345678", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.get(reverse("account:me")).context["account"] == customer


def test_password_log_in_failure_is_generic(client, customer):
    response = client.post(
        reverse("account:login"), {"mode": "password", "phone": "13912345678", "password": "nope"}
    )
    assert response.status_code == 200
    assert response.context["password_form"].non_field_errors() == [
        zh("Mobile number or password is not correct.")
    ]


def test_sms_code_log_in(client, customer, outbox):
    # given
    client.post(reverse("account:login"), {"mode": "sms", "phone": "13912345678", "action": "send_code"})
    code = code_from(outbox, "13912345678")
    # when
    response = client.post(
        reverse("account:login") + "?next=/account/me/",
        {"mode": "sms", "phone": "13912345678", "code": code, "action": "login"},
    )
    # then
    assert response.status_code == 302 and response.url == "/account/me/"


def test_sms_code_log_in_reports_an_expired_code(client, customer, outbox):
    client.post(reverse("account:login"), {"mode": "sms", "phone": "13912345678", "action": "send_code"})
    code = code_from(outbox, "13912345678")
    client.post(
        reverse("account:login"), {"mode": "sms", "phone": "13912345678", "code": code, "action": "login"}
    )
    client.post(reverse("account:logout"))
    response = client.post(
        reverse("account:login"), {"mode": "sms", "phone": "13912345678", "code": code, "action": "login"}
    )
    assert response.status_code == 200
    assert "code" in response.context["sms_form"].errors


def test_staff_cannot_use_the_customer_log_in(client):
    create_staff_user("13700007777", PASSWORD, ["operator"])
    response = client.post(
        reverse("account:login"), {"mode": "password", "phone": "13700007777", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_log_out_needs_a_post(client, customer):
    client.force_login(customer)
    assert client.get(reverse("account:logout")).status_code == 200
    assert "_auth_user_id" in client.session
    client.post(reverse("account:logout"))
    assert "_auth_user_id" not in client.session


def test_my_account_requires_log_in(client):
    response = client.get(reverse("account:me"))
    assert response.status_code == 302 and response.url.startswith(reverse("account:login"))


# --- lock-out (django-axes) --------------------------------------------------------------------


def test_sixth_password_is_refused_even_when_right(client, customer):
    # given: five wrong passwords
    for _ in range(5):
        client.post(
            reverse("account:login"), {"mode": "password", "phone": "13912345678", "password": "wrong"}
        )
    # when: the right one
    response = client.post(
        reverse("account:login"), {"mode": "password", "phone": "13912345678", "password": PASSWORD}
    )
    # then
    assert response.status_code == 429
    assert zh("Too many failed log-ins") in response.content.decode()
    assert "_auth_user_id" not in client.session
    # and axes stored the attempt under the pseudonym, never the number
    usernames = list(AccessAttempt.objects.values_list("username", flat=True))
    assert usernames == [customer.username]


def test_lockout_is_per_number_and_address(client, customer):
    for _ in range(5):
        client.post(
            reverse("account:login"), {"mode": "password", "phone": "13912345678", "password": "wrong"}
        )
    other = Client(REMOTE_ADDR="10.9.9.9")
    response = other.post(
        reverse("account:login"), {"mode": "password", "phone": "13912345678", "password": PASSWORD}
    )
    assert response.status_code == 302


def test_wrong_sms_codes_count_towards_the_lockout(client, customer, outbox):
    client.post(reverse("account:login"), {"mode": "sms", "phone": "13912345678", "action": "send_code"})
    wrong = f"{(int(code_from(outbox, '13912345678')) + 1) % 1_000_000:06d}"
    for _ in range(5):
        client.post(
            reverse("account:login"),
            {"mode": "sms", "phone": "13912345678", "code": wrong, "action": "login"},
        )
    response = client.post(
        reverse("account:login"), {"mode": "password", "phone": "13912345678", "password": PASSWORD}
    )
    assert response.status_code == 429


def test_a_successful_log_in_resets_the_failures(client, customer):
    for _ in range(4):
        client.post(
            reverse("account:login"), {"mode": "password", "phone": "13912345678", "password": "wrong"}
        )
    ok = client.post(
        reverse("account:login"), {"mode": "password", "phone": "13912345678", "password": PASSWORD}
    )
    assert ok.status_code == 302
    assert not AccessAttempt.objects.exists()


# --- staff log-in and the back office ---------------------------------------------------------


def _staff_post(client, username, password, token, next_url=""):
    data = {"username": username, "password": password, "otp_token": token}
    if next_url:
        data["next"] = next_url
    return client.post(reverse("account:staff_login"), data)


def test_staff_log_in_with_totp_reaches_the_admin(client, staff_with_totp):
    # given
    _user, device = staff_with_totp
    token = pyotp.TOTP(totp_secret_base32(device)).now()
    # when
    response = _staff_post(client, "uw_li", PASSWORD, token)
    # then
    assert response.status_code == 302 and response.url == reverse("admin:index")
    assert client.get(reverse("admin:index")).status_code == 200


def test_staff_log_in_with_a_wrong_totp_is_refused_and_counted(client, staff_with_totp):
    _user, device = staff_with_totp
    right = pyotp.TOTP(totp_secret_base32(device)).now()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    response = _staff_post(client, "uw_li", PASSWORD, wrong)
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        zh("Username, password or authenticator code is not correct.")
    ]
    assert AccessAttempt.objects.get(username="uw_li").failures_since_start == 1


def test_staff_without_a_device_cannot_log_in(client):
    create_staff_user("cs_chen", PASSWORD, ["customer_service"])
    response = _staff_post(client, "cs_chen", PASSWORD, "123456")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_staff_sixth_attempt_locked_out(client, staff_with_totp):
    _user, device = staff_with_totp
    for _ in range(5):
        _staff_post(client, "uw_li", "wrong-password", "000000")
    response = _staff_post(client, "uw_li", PASSWORD, pyotp.TOTP(totp_secret_base32(device)).now())
    assert response.status_code == 429


def test_admin_refuses_a_password_only_session(client, staff_with_totp):
    # given: a staff user logged in with the password only (no OTP verification)
    user, _device = staff_with_totp
    client.force_login(user)
    # when
    response = client.get(reverse("admin:index"))
    # then
    assert response.status_code == 302 and reverse("admin:login") in response.url


def test_admin_login_form_demands_the_totp_code(client, staff_with_totp):
    _user, device = staff_with_totp
    login_url = reverse("admin:login")
    # without a token
    refused = client.post(login_url, {"username": "uw_li", "password": PASSWORD, "next": "/admin/"})
    assert refused.status_code == 200
    assert "_auth_user_id" not in client.session
    # with the token of the device
    token = pyotp.TOTP(totp_secret_base32(device)).now()
    accepted = client.post(
        login_url,
        {
            "username": "uw_li",
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": token,
            "next": "/admin/",
        },
    )
    assert accepted.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_customers_never_reach_the_admin(client, customer):
    client.force_login(customer)
    assert client.get(reverse("admin:index")).status_code == 302


def test_admin_site_is_the_otp_site():
    from django.contrib import admin
    from django_otp.admin import OTPAdminSite

    assert isinstance(admin.site, OTPAdminSite) and admin.site.name == "admin"
    assert User in admin.site._registry
