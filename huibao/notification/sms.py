"""SMS delivery behind one small interface (the port every SMS of the platform goes through).

`settings.SMS_BACKEND` names the class; `get_sms_backend()` returns one shared instance of it.
`ConsoleSmsBackend` is for development and tests (the text, with the number masked, is printed
to the terminal — never through `logging`: a log-in code in a log file would be a log-in for
whoever reads it — and kept in `outbox`); the sandbox gateway
(`huibao.sandbox.sms.SandboxSmsBackend`) behaves like a remote one — it rate-limits per number,
fails at a configurable rate, answers a receipt id and keeps what it sends in an inbox staff
read on a page, never on standard error. `aliyun.AliyunSmsBackend`
is the production gateway (阿里云短信 SendSms) behind the same `send` method.

Gateways in China send registered templates, not free text: `template` names the message (a
notification template code, or `account.login_code`…) and `params` fills it; the console and
sandbox backends print `text`, the Alibaba backend maps `template` to its TemplateCode. `out_id`
is the caller's id of the message (the outbox row), passed to gateways that echo it in their
delivery reports, so a message sent twice after a crash can be told apart.
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Protocol, TextIO

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from huibao.core.masking import mask_phone

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SmsReceipt:
    """What the gateway said: its message id, to match a later delivery report."""

    receipt_id: str
    phone_masked: str
    sent_at: datetime
    backend: str


@dataclass(frozen=True, slots=True)
class SentSms:
    phone: str
    text: str
    receipt: SmsReceipt


class SmsBackend(Protocol):
    def send(
        self,
        phone: str,
        text: str,
        *,
        template: str = "",
        params: Mapping[str, str] | None = None,
        out_id: str = "",
    ) -> SmsReceipt: ...


class ConsoleSmsBackend:
    """Development backend: prints the message (number masked) to the terminal (`stream`, standard
    error by default) and keeps the last ones in `outbox`. Production refuses it (settings)."""

    name = "console"

    def __init__(self, outbox_size: int = 100, stream: TextIO | None = None) -> None:
        self.outbox: deque[SentSms] = deque(maxlen=outbox_size)
        self.stream = stream

    def send(
        self,
        phone: str,
        text: str,
        *,
        template: str = "",
        params: Mapping[str, str] | None = None,
        out_id: str = "",
    ) -> SmsReceipt:
        receipt = SmsReceipt(
            receipt_id=self._new_receipt_id(),
            phone_masked=mask_phone(phone),
            sent_at=timezone.now(),
            backend=self.name,
        )
        self.outbox.append(SentSms(phone=phone, text=text, receipt=receipt))
        # The terminal only: the text holds a one-time log-in code, which no log may keep.
        print(f"SMS to {mask_phone(phone)}: {text}", file=self.stream or sys.stderr, flush=True)
        return receipt

    def _new_receipt_id(self) -> str:
        return f"console-{uuid.uuid4().hex[:16]}"

    def last_text_to(self, phone: str) -> str | None:
        for sms in reversed(self.outbox):
            if sms.phone == phone:
                return sms.text
        return None


@cache
def _backend_for(path: str) -> SmsBackend:
    backend: SmsBackend = import_string(path)()
    return backend


def get_sms_backend() -> SmsBackend:
    """The configured backend; one instance per dotted path, so `outbox` and limits persist."""
    return _backend_for(settings.SMS_BACKEND)


def reset_sms_backends() -> None:
    """Forget the shared instances (tests)."""
    _backend_for.cache_clear()
