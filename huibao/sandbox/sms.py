"""The sandbox SMS gateway: a stand-in for a remote gateway (`SMS_BACKEND =
"huibao.sandbox.sms.SandboxSmsBackend"`), for deployments that test the platform end to end.

Like a real gateway it limits each number (one message a minute, ten a day: what Chinese SMS
gateways enforce on verification messages), fails at a configurable rate
(`settings.SMS_SANDBOX_FAILURE_RATE`, 0..1) and answers a receipt id. What it "sends" it keeps in
its inbox (`models.SandboxSms`: the number hashed and masked, the text encrypted), which staff
read on `/sandbox/sms/` (`views.sms_inbox`). It prints nothing and logs no text: outside
development standard error ends up in log files, and a log-in code there would be a log-in for
whoever reads them. (In development `notification.sms.ConsoleSmsBackend` prints to the terminal.)
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from huibao.core.fields import lookup_hash
from huibao.core.masking import mask_phone
from huibao.notification.errors import SmsDeliveryFailed, SmsThrottled
from huibao.notification.sms import SmsReceipt
from huibao.sandbox.models import SandboxSms

log = logging.getLogger(__name__)

PHONE_HASH_CONTEXT = "sandbox.sms.phone"
INBOX_PER_NUMBER = 5  # the last texts shown per number
INBOX_NUMBERS = 30  # the numbers shown, those written to last first


def phone_hash(phone: str) -> str:
    return lookup_hash(phone, context=PHONE_HASH_CONTEXT)


@dataclass
class _PhoneWindow:
    sent: list[datetime] = field(default_factory=list)


class SandboxSmsBackend:
    """Per-number limits, random failures, receipt ids; the texts go to the inbox table."""

    name = "sandbox"
    per_minute = 1
    per_day = 10

    def __init__(self, failure_rate: float | None = None, seed: int | None = None) -> None:
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
        """As a remote gateway: `template`/`params` name the registered message (the inbox keeps
        the rendered `text`), `out_id` is the caller's id of the message."""
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
        receipt = SmsReceipt(
            receipt_id=f"sbx-{uuid.uuid4().hex}",
            phone_masked=mask_phone(phone),
            sent_at=now,
            backend=self.name,
        )
        SandboxSms.objects.create(
            phone_hash=phone_hash(phone),
            phone_masked=receipt.phone_masked,
            text=text,
            receipt_id=receipt.receipt_id,
            sent_at=now,
        )
        return receipt

    def last_text_to(self, phone: str) -> str | None:
        """The last text sent to `phone` (tests and demos, as the console backend's)."""
        found = SandboxSms.objects.filter(phone_hash=phone_hash(phone)).order_by("-sent_at", "-pk").first()
        return found.text if found is not None else None


@dataclass(frozen=True, slots=True)
class InboxNumber:
    phone_masked: str
    messages: list[SandboxSms]


def inbox(*, numbers: int = INBOX_NUMBERS, per_number: int = INBOX_PER_NUMBER) -> list[InboxNumber]:
    """The last texts of each number, the numbers written to last first."""
    grouped: dict[str, InboxNumber] = {}
    recent = SandboxSms.objects.order_by("-sent_at", "-pk")[: numbers * per_number]
    for sms in recent:
        entry = grouped.get(sms.phone_hash)
        if entry is None:
            if len(grouped) >= numbers:
                continue
            entry = grouped[sms.phone_hash] = InboxNumber(phone_masked=sms.phone_masked, messages=[])
        if len(entry.messages) < per_number:
            entry.messages.append(sms)
    return list(grouped.values())


def inbox_allowed() -> bool:
    """The inbox is a development part: served in development, and outside it only where
    `HUIBAO_ALLOW_SANDBOX` names "sms" (then it is announced like every allowed part)."""
    return not settings.HUIBAO_STRICT or "sms" in settings.HUIBAO_SANDBOX_NOTICE
