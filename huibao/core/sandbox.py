"""What the in-process sandbox providers share: the payment gateway (`payment.sandbox`), the insurer
(`policy.sandbox`) and the identity services (`identity.sandbox`).

Each plays a remote system, so it fails like one: on demand or at random (`FaultInjector`). And each
tells the platform about an outcome by an HMAC-SHA256 signed POST (`signed_headers`), one attempt
at a time (`attempt_delivery`), retried on its own schedule until the platform answers with the
acknowledgement text (`due_keys` lists what is due again). The secrets, header names, rules and
models stay with each sandbox; so does its `http_post`, which tests replace per sandbox module.
"""

from __future__ import annotations

import datetime
import hashlib
import random
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import httpx
from django.conf import settings
from django.db.models import QuerySet

HttpPost = Callable[[str, bytes, dict[str, str]], tuple[int, str]]
Sign = Callable[[bytes, str, str, bytes], str]  # (secret, timestamp, notify_id, body) -> signature
RetryDelay = Callable[[int], datetime.timedelta | None]


def derived_secret(setting: str, purpose: str) -> bytes:
    """settings.<setting>, or (development and tests) a key derived from SECRET_KEY for `purpose`."""
    configured = getattr(settings, setting, "")
    if configured:
        return str(configured).encode()
    return hashlib.sha256(f"{settings.SECRET_KEY}:{purpose}".encode()).hexdigest().encode()


class FaultInjector:
    """A sandbox's injected failures: the next n calls when forced, then a share set by a setting
    (`rate_setting`, 0.0–1.0). Process-wide and thread-safe."""

    def __init__(self, rate_setting: str) -> None:
        self.rate_setting = rate_setting
        self._lock = threading.Lock()
        self._forced = 0

    def rate(self) -> float:
        return float(getattr(settings, self.rate_setting, 0.0) or 0.0)

    def force(self, count: int) -> None:
        """The next `count` calls fail (tests and demos); 0 clears."""
        with self._lock:
            self._forced = max(0, count)

    def left(self) -> int:
        with self._lock:
            return self._forced

    def take(self) -> bool:
        """Whether this call fails: a forced failure while any are left, else at the configured rate."""
        with self._lock:
            if self._forced > 0:
                self._forced -= 1
                return True
        rate = self.rate()
        return rate > 0 and random.random() < rate


# --- signed deliveries ------------------------------------------------------------------------------


class Deliverable(Protocol):
    """A sandbox record owing the platform a notification (the delivery bookkeeping fields)."""

    attempts: int
    acknowledged_at: datetime.datetime | None
    next_attempt_at: datetime.datetime | None

    def save(self, *, update_fields: Iterable[str] | None = ...) -> None: ...


def signed_headers(
    notify_id: str,
    body: bytes,
    now: datetime.datetime,
    *,
    secret: bytes,
    sign: Sign,
    names: tuple[str, str, str],
) -> dict[str, str]:
    """The headers of one delivery, signed afresh: `names` are the timestamp, notify-id and
    signature headers of the sandbox."""
    timestamp_header, notify_id_header, signature_header = names
    timestamp = str(int(now.timestamp()))
    return {
        "Content-Type": "application/json",
        timestamp_header: timestamp,
        notify_id_header: notify_id,
        signature_header: sign(secret, timestamp, notify_id, body),
    }


def http_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """One HTTP delivery over the network (each sandbox's default `http_post`)."""
    response = httpx.post(url, content=body, headers=headers, timeout=10.0)
    return response.status_code, response.text


def attempt_delivery(
    record: Deliverable,
    *,
    url: str,
    body: bytes,
    headers: dict[str, str],
    post: HttpPost,
    ack: str,
    retry_delay: RetryDelay,
    now: datetime.datetime,
) -> bool:
    """One delivery attempt of `record`'s notification; True when the platform answered `ack`.

    Counts the attempt. Acknowledged: the record is marked so and nothing more is due. Otherwise
    (another answer, or an HTTP error): the next attempt is due `retry_delay(attempts)` from `now`,
    or never once that gives None."""
    try:
        status, text = post(url, body, headers)
        acknowledged = status == 200 and text.strip() == ack
    except httpx.HTTPError:
        acknowledged = False
    record.attempts += 1
    if acknowledged:
        record.acknowledged_at = now
        record.next_attempt_at = None
    else:
        delay = retry_delay(record.attempts)
        record.next_attempt_at = now + delay if delay is not None else None
    record.save(update_fields=["attempts", "acknowledged_at", "next_attempt_at"])
    return acknowledged


def due_keys(records: QuerySet[Any, Any], key: str, now: datetime.datetime) -> list[str]:
    """The `key` values of the records whose next delivery attempt is due at `now`."""
    return list(
        records.filter(
            acknowledged_at__isnull=True, next_attempt_at__isnull=False, next_attempt_at__lte=now
        ).values_list(key, flat=True)
    )
