"""Pure rules of webhooks: the retry schedule, the signature, what is kept of a response.

No Django, no I/O. The signature is what partners verify (docs/webhooks.md):

    Huibao-Signature: v1=<hex HMAC-SHA256(secret, f"{webhook_id}.{timestamp}.{body}")>

`timestamp` is the Unix time in seconds of the attempt (`Huibao-Timestamp`), `webhook_id` the
event's id (`Huibao-Webhook-Id`, the same on every attempt and every re-send, so the partner can
drop a duplicate), `body` the exact bytes posted.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

SIGNATURE_VERSION = "v1"
SECRET_PREFIX = "whsec_"
# The waits after the 1st, 2nd… failed attempt; after the last one the delivery is dead.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
# Each wait is moved by up to ±10 % so that a partner back after an outage is not hit by every
# retry in the same second.
JITTER = 0.10
# An attempt claimed longer ago than this without an outcome belongs to a worker that died.
SENDING_TIMEOUT = timedelta(minutes=2)
# A receiver refuses a timestamp further than this from its clock (replay window).
TIMESTAMP_TOLERANCE = timedelta(minutes=5)
EXCERPT_MAX = 500
ERROR_MAX = 200


def new_secret() -> str:
    """A fresh signing secret (shown to the operator once, stored encrypted)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def retry_delay(attempts: int, *, jitter: float = 0.5) -> timedelta | None:
    """Wait after the `attempts`-th failed attempt (1-based), or None: no more attempts (dead).

    `jitter` in [0, 1) picks the point in the ±`JITTER` band (0.5 = the nominal wait); the caller
    draws it at random, tests pass it."""
    if attempts < 1:
        raise ValueError("attempts starts at 1")
    if not 0 <= jitter < 1:
        raise ValueError("jitter is in [0, 1)")
    if attempts > len(RETRY_SCHEDULE):
        return None
    nominal = RETRY_SCHEDULE[attempts - 1]
    return nominal * (1 + JITTER * (2 * jitter - 1))


def signed_content(webhook_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{webhook_id}.{timestamp}.".encode() + body


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `Huibao-Signature` header's value."""
    digest = hmac.new(secret.encode(), signed_content(webhook_id, timestamp, body), hashlib.sha256)
    return f"{SIGNATURE_VERSION}={digest.hexdigest()}"


def verify(secret: str, *, header: str, webhook_id: str, timestamp: str, body: bytes, now: int) -> str | None:
    """Checks a received webhook; returns None when it is genuine, else why not (a code).

    `header` may carry several signatures separated by spaces or commas (during a secret's
    rotation); one valid is enough."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return "bad_timestamp"
    if abs(now - sent_at) > TIMESTAMP_TOLERANCE.total_seconds():
        return "stale_timestamp"
    expected = signature(secret, webhook_id, sent_at, body)
    candidates = [part.strip() for part in header.replace(",", " ").split() if part.strip()]
    if not candidates:
        return "no_signature"
    if any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        return None
    return "bad_signature"


def is_success(status_code: int) -> bool:
    return 200 <= status_code < 300


def excerpt(text: str, limit: int = EXCERPT_MAX) -> str:
    """What is kept of a partner's answer: its first `limit` characters, marked when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
