"""Account rules: pure functions, no ORM and no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

# Mainland China mobile numbers: 11 digits, 1 then 3-9, then 9 digits.
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
_PHONE_NOISE_RE = re.compile(r"[\s\-()]")

CODE_LENGTH = 6
CODE_TTL = timedelta(minutes=5)
RESEND_INTERVAL = timedelta(seconds=60)
MAX_ATTEMPTS = 5


def normalize_phone(raw: str) -> str:
    """Drop spaces, dashes, brackets and a +86/0086 prefix: ' +86 138-0013-8000' -> '13800138000'."""
    value = _PHONE_NOISE_RE.sub("", raw or "")
    for prefix in ("+86", "0086"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
            break
    else:
        if len(value) == 13 and value.startswith("86"):
            value = value[2:]
    return value


def is_valid_phone(phone: str) -> bool:
    return bool(PHONE_RE.fullmatch(phone))


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """Outcome of checking a submitted code against the stored one (see `check_code`)."""

    ok: bool
    reason: str  # "ok" | "expired" | "burnt" | "mismatch" | "exhausted"
    attempts_left: int


def check_code(
    *, now: datetime, expires_at: datetime, attempts: int, burnt: bool, matches: bool
) -> CodeCheck:
    """Decide a verification attempt. `attempts` counts the failed tries before this one.

    Order matters: an exhausted, used or expired code is refused before its digits are compared, so an
    attacker learns nothing from a code that can no longer be used.
    """
    if attempts >= MAX_ATTEMPTS:
        return CodeCheck(False, "exhausted", 0)
    if burnt:
        return CodeCheck(False, "burnt", 0)
    if now >= expires_at:
        return CodeCheck(False, "expired", 0)
    if matches:
        return CodeCheck(True, "ok", MAX_ATTEMPTS - attempts)
    left = MAX_ATTEMPTS - attempts - 1
    return CodeCheck(False, "exhausted" if left <= 0 else "mismatch", max(left, 0))


def resend_wait(*, now: datetime, last_sent_at: datetime | None) -> int:
    """Seconds to wait before another code may be sent (0: send now)."""
    if last_sent_at is None:
        return 0
    remaining = (last_sent_at + RESEND_INTERVAL - now).total_seconds()
    return max(0, int(remaining + 0.999))


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `limit` events per fixed window of `window` seconds (windows start at multiples of
    `window` since the epoch, so every process and Redis agree on them)."""

    limit: int
    window: int


# Codes sent to one number, whatever the purpose (besides the 60 s resend wait per purpose).
SMS_LIMITS_PER_NUMBER = (RateLimit(5, 3600), RateLimit(10, 86400))
# Requests for codes from one client address. Generous: mobile carriers put many customers behind
# one address (carrier-grade NAT), and the per-number limits already protect each number.
SMS_LIMITS_PER_ADDRESS = (RateLimit(20, 600), RateLimit(200, 86400))


def window_position(now: float, window: int) -> tuple[int, int]:
    """The index of the fixed window holding `now` (seconds since the epoch) and the whole seconds
    until it ends (at least 1)."""
    index = int(now // window)
    return index, max(1, int((index + 1) * window - now + 0.999))


def wait_after(counts: list[tuple[RateLimit, int, int]]) -> int:
    """Given (limit, count including this event, seconds left in its window) for each limit: 0 if
    every limit holds, else the seconds until the furthest exceeded window ends."""
    return max((left for limit, count, left in counts if count > limit.limit), default=0)
