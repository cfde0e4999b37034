"""One-time log-in codes never reach a log record, at any level, through any path that sends,
checks or refuses them (the page, the API, the SMS backends)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from .conftest import code_from

pytestmark = pytest.mark.django_db

PHONE = "13912345678"


def test_log_in_codes_appear_in_no_log_record(customer, outbox, every_record, capsys):
    # given: a customer asks for a code on the log-in page and through the API
    client = Client(REMOTE_ADDR="10.1.2.3")
    page = client.post(reverse("account:login"), {"mode": "sms", "phone": PHONE, "action": "send_code"})
    assert page.status_code == 200
    page_code = code_from(outbox, PHONE)
    wrong = f"{(int(page_code) + 1) % 1_000_000:06d}"
    # when: a wrong code, then the right one, log in
    client.post(reverse("account:login"), {"mode": "sms", "phone": PHONE, "code": wrong})
    logged_in = client.post(reverse("account:login"), {"mode": "sms", "phone": PHONE, "code": page_code})
    assert logged_in.status_code == 302
    # then: records were written (the capture works) but none holds a code
    assert every_record, "nothing was logged at DEBUG: the capture is broken"
    assert not every_record.holding(page_code) and not every_record.holding(wrong)
    # and the developer still reads the code on the terminal
    assert page_code in capsys.readouterr().err
