"""One-time log-in codes never reach a log record, at any level, through any path that sends,
checks or refuses them (the page, the API, the SMS backends)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import reverse

from .conftest import code_from

pytestmark = pytest.mark.django_db

PHONE = "13912345678"


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def every_record() -> Iterator[list[logging.LogRecord]]:
    """Every record of every logger at DEBUG, also of loggers that do not propagate ("django")."""
    handler = _Everything()
    loggers = [logging.getLogger()] + [
        logger for logger in logging.root.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    levels = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        for logger, level in levels:
            logger.removeHandler(handler)
            logger.setLevel(level)


def _text_of(record: logging.LogRecord) -> str:
    formatted = logging.Formatter("%(name)s %(message)s").format(record)
    return " ".join([formatted, repr(record.args), repr(getattr(record, "__dict__", {}))])


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
    texts = [_text_of(record) for record in every_record]
    assert not [text for text in texts if page_code in text or wrong in text]
    # and the developer still reads the code on the terminal
    assert page_code in capsys.readouterr().err
