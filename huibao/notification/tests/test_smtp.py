"""E-mail through Django's real SMTP backend to a real SMTP server (aiosmtpd) on the loopback."""

from __future__ import annotations

import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller

from huibao.notification import sending, services
from huibao.notification.states import OutboxStatus
from huibao.notification.tests.conftest import ISSUED

pytestmark = pytest.mark.django_db


class Collect:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    handler = Collect()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }
    yield handler
    controller.stop()


def test_a_policy_issued_email_arrives_in_chinese_with_utf8_headers(customer, smtp_server):
    # given
    row = services.notify(user=customer, template="policy.issued", context=ISSUED, dedup_key="issued:P1")[1]
    # when
    status = sending.send(row.pk)
    # then
    assert status == OutboxStatus.SENT
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == [customer.email]
    raw = envelope.original_content
    # Non-ASCII headers travel encoded (RFC 2047), the body as UTF-8.
    assert b"=?utf-8?" in raw.lower()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "【汇保】您的保单P2026000001已生效"
    assert message["To"] == customer.email
    assert message["From"].addresses[0].display_name == "汇保"
    assert message["Message-ID"] == f"<{row.public_id}@huibao.local>"
    assert message.get_content_type() == "text/plain" and message.get_content_charset() == "utf-8"
    body = message.get_content()
    assert "您投保的百万医疗险已承保，保单号P2026000001" in body
    assert "2026年12月3日" in body


def test_an_smtp_server_that_is_down_leaves_the_message_to_retry(customer, settings):
    # given a mailer pointing at a closed port
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": _free_port(), "timeout": 2},
        }
    }
    row = services.notify(user=customer, template="policy.issued", context=ISSUED, dedup_key="issued:P2")[1]
    # when
    status = sending.send(row.pk)
    # then
    assert status == OutboxStatus.FAILED
    row.refresh_from_db()
    assert row.last_error.startswith("error: ") and row.next_attempt_at is not None
