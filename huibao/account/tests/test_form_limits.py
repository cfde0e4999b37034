"""Limits on what the account pages take: a password longer than any password may be is refused
before anything hashes it."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from huibao.account.forms import PASSWORD_MAX_LENGTH

pytestmark = pytest.mark.django_db


def test_a_password_past_the_limit_is_refused_on_the_log_in_page(customer) -> None:
    client = Client(REMOTE_ADDR="10.1.2.4")
    response = client.post(
        reverse("account:login"),
        {"mode": "password", "phone": "13912345678", "password": "x" * (PASSWORD_MAX_LENGTH + 1)},
    )
    assert response.status_code == 200
    assert "password" in response.context["password_form"].errors
    assert "_auth_user_id" not in client.session


def test_a_password_past_the_limit_is_refused_on_the_sign_up_page() -> None:
    client = Client(REMOTE_ADDR="10.1.2.5")
    long = "x" * (PASSWORD_MAX_LENGTH + 1)
    response = client.post(
        reverse("account:signup"),
        {"phone": "13612345678", "code": "123456", "password": long, "password2": long},
    )
    assert response.status_code == 200
    assert "password" in response.context["form"].errors
