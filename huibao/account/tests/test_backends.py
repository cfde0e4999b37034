from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.test import RequestFactory

from huibao.account.backends import auth_error
from huibao.account.models import CodePurpose
from huibao.account.services import create_staff_user, send_login_code

from .conftest import PASSWORD, code_from

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_():
    return RequestFactory().post("/account/login/", REMOTE_ADDR="10.0.0.1")


def test_phone_and_password_authenticate_the_customer(customer, request_):
    assert authenticate(request_, username="139 1234 5678", password=PASSWORD) == customer
    assert authenticate(request_, username="13912345678", password="wrong-password") is None
    assert authenticate(request_, username="13700000000", password=PASSWORD) is None


def test_phone_password_backend_ignores_staff(request_):
    # given: a staff account whose username happens to look like a number
    create_staff_user("13811112222", PASSWORD, ["operator"])
    # when
    user = authenticate(request_, phone="13811112222", password=PASSWORD)
    # then: the phone backend only finds customers
    assert user is None


def test_sms_code_authenticates_once(customer, outbox, request_):
    # given
    send_login_code("13912345678", CodePurpose.LOGIN)
    code = code_from(outbox, "13912345678")
    # when / then
    assert authenticate(request_, username="13912345678", sms_code=code) == customer
    again = RequestFactory().post("/account/login/", REMOTE_ADDR="10.0.0.1")
    assert authenticate(again, username="13912345678", sms_code=code) is None
    assert auth_error(again) is not None and auth_error(again).code == "code_expired"


def test_sms_code_wrong_digits_leave_no_error_but_fail(customer, outbox, request_):
    send_login_code("13912345678", CodePurpose.LOGIN)
    wrong = f"{(int(code_from(outbox, '13912345678')) + 1) % 1_000_000:06d}"
    assert authenticate(request_, username="13912345678", sms_code=wrong) is None
    assert auth_error(request_) is None
