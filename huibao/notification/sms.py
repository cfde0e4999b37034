"""SMS delivery behind one small interface (the port every SMS of the platform goes through).

`settings.SMS_BACKEND` names the class; `get_sms_backend()` returns one shared instance of it.
`ConsoleSmsBackend` is for development and tests (the text, with the number masked, is printed
to the terminal — never through `logging`: a log-in code in a log file would be a log-in for
whoever reads it — and kept in `outbox`); `SandboxSmsBackend` behaves like a remote gateway — it rate-limits
per number, fails at a configurable rate and returns a receipt id — so the code that calls it
is exercised against the failures a real gateway produces. `aliyun.AliyunSmsBackend` is the
production gateway (阿里云短信 SendSms) behind the same `send` method.

Gateways in China send registered templates, not free text: `template` names the message (a
notification template code, or `account.login_code`…) and `params` fills it; the console and
sandbox backends print `text`, the Alibaba backend maps `template` to its TemplateCode. `out_id`
is the caller's id of the message (the outbox row), passed to gateways that echo it in their
delivery reports, so a message sent twice after a crash can be told apart.
"""

from __future__ import annotations

import logging
import random
import sys
import threading
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Protocol, TextIO

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from huibao.core.masking import mask_phone
from huibao.notification.errors import SmsDeliveryFailed, SmsThrottled

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


@dataclass
class _PhoneWindow:
    sent: list[datetime] = field(default_factory=list)


class SandboxSmsBackend(ConsoleSmsBackend):
    """A stand-in for a remote gateway: per-number limits, random failures, receipt ids.

    Limits follow what Chinese SMS gateways enforce on verification messages: one message per
    number per minute and ten per day. `failure_rate` (0..1, `settings.SMS_SANDBOX_FAILURE_RATE`)
    makes that share of sends fail as a gateway outage would.
    """

    name = "sandbox"
    per_minute = 1
    per_day = 10

    def __init__(self, failure_rate: float | None = None, seed: int | None = None) -> None:
        super().__init__()
        rate = getattr(settings, "SMS_SANDBOX_FAILURE_RATE", 0.0) if failure_rate is None else failure_rate
        self.failure_rate = float(rate)
        self._random = random.Random(seed)
        self._windows: dict[str, _PhoneWindow] = {}
        self._lock = threading.Lock()

    def send(
        self,
        phone: str,
        text: str,
        *,
        template: str = "",
        params: Mapping[str, str] | None = None,
        out_id: str = "",
    ) -> SmsReceipt:
        now = timezone.now()
        with self._lock:
            window = self._windows.setdefault(phone, _PhoneWindow())
            window.sent = [t for t in window.sent if now - t < timedelta(days=1)]
            last_minute = [t for t in window.sent if now - t < timedelta(minutes=1)]
            if len(last_minute) >= self.per_minute:
                wait = int((min(last_minute) + timedelta(minutes=1) - now).total_seconds()) + 1
                raise SmsThrottled(_("Mobile number: at most one SMS per minute."), retry_after=wait)
            if len(window.sent) >= self.per_day:
                wait = int((min(window.sent) + timedelta(days=1) - now).total_seconds()) + 1
                raise SmsThrottled(_("Mobile number: at most 10 SMS per day."), retry_after=wait)
            if self._random.random() < self.failure_rate:
                log.warning("SMS gateway sandbox: simulated failure for %s", mask_phone(phone))
                raise SmsDeliveryFailed(_("The SMS could not be sent. Please try again later."))
            window.sent.append(now)
        return super().send(phone, text, template=template, params=params, out_id=out_id)

    def _new_receipt_id(self) -> str:
        return f"sbx-{uuid.uuid4().hex}"


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
