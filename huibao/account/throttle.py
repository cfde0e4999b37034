"""Limits on asking for SMS codes, per number and per client address, counted in the cache
(Redis in production, so every app server counts together; per process in development).

Fixed windows (`rules.window_position`): a counter per subject and window, created with the
window's remaining time as its expiry, then incremented. A refused event is counted too, which
changes nothing until the window ends. Subjects are keyed hashes: neither a number nor an address
appears in a cache key.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from django.core.cache import cache
from django.utils.translation import gettext as _

from huibao.account import rules
from huibao.account.errors import SmsThrottled
from huibao.core.crypto import key_ring


def _count(key: str, timeout: int) -> int:
    if cache.add(key, 1, timeout):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr: this event opens a new counter
        cache.add(key, 1, timeout)
        return 1


def hit(scope: str, subject: str, limits: Sequence[rules.RateLimit], *, now: float | None = None) -> int:
    """Count one event of `subject` under every limit; the seconds to wait if one is exceeded, else 0."""
    now = time.time() if now is None else now
    counts = []
    for limit in limits:
        index, left = rules.window_position(now, limit.window)
        key = f"account:throttle:{scope}:{limit.window}:{index}:{subject}"
        counts.append((limit, _count(key, left + 1), left))
    return rules.wait_after(counts)


def _throttled(wait: int) -> SmsThrottled:
    minutes = max(1, (wait + 59) // 60)
    return SmsThrottled(
        _("验证码：请求过于频繁，请%(minutes)d分钟后再试。") % {"minutes": minutes}, retry_after=wait
    )


def check_address(address: str | None) -> None:
    """Count a request for a code from this client address; `SmsThrottled` past its limits."""
    subject = key_ring().lookup_hash(address or "unknown", context="account.throttle.address")
    wait = hit("sms_address", subject, rules.SMS_LIMITS_PER_ADDRESS)
    if wait:
        raise _throttled(wait)


def check_number(phone_hash: str) -> None:
    """Count a code sent to the number with this lookup hash; `SmsThrottled` past its limits."""
    wait = hit("sms_number", phone_hash, rules.SMS_LIMITS_PER_NUMBER)
    if wait:
        raise _throttled(wait)
