"""Pure rules of notification: which channels a message goes to, and the retry schedule.

No Django, no I/O: `services` gathers the facts (the user's preferences, whether they have an
e-mail address or a mobile number, what the template can render) and asks here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

INBOX = "inbox"
EMAIL = "email"
SMS = "sms"
SERVICE = "service"
MARKETING = "marketing"

# Attempts of one e-mail/SMS before it gives up (the operator can re-send it by hand).
DEFAULT_MAX_ATTEMPTS = 6
# Back-off: 1 min, 2, 4, 8, 16… capped at 6 hours.
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=6)
# A row claimed for longer than this without an outcome belongs to a worker that died.
SENDING_TIMEOUT = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Preferences:
    """What the customer chose (defaults: e-mail and SMS on, marketing off)."""

    email: bool = True
    sms: bool = True
    marketing: bool = False


@dataclass(frozen=True, slots=True)
class Reachable:
    """What the user can be reached at (not the addresses themselves)."""

    email: bool
    sms: bool


def channels_for(
    *, category: str, preferences: Preferences, reachable: Reachable, renders: frozenset[str]
) -> tuple[str, ...]:
    """The channels one message goes to, in a fixed order (inbox, email, sms).

    A service message always reaches the in-site inbox (it is the customer's record of what they
    were told about their own policy); e-mail and SMS only where the customer keeps them on, has
    an address, and the template has a text for that channel. A marketing message goes nowhere
    unless the customer opted in, and then follows the same channel choices.
    """
    if category not in (SERVICE, MARKETING):
        raise ValueError(f"unknown category {category!r}")
    if category == MARKETING and not preferences.marketing:
        return ()
    chosen: list[str] = []
    if INBOX in renders:
        chosen.append(INBOX)
    if EMAIL in renders and preferences.email and reachable.email:
        chosen.append(EMAIL)
    if SMS in renders and preferences.sms and reachable.sms:
        chosen.append(SMS)
    return tuple(chosen)


def retry_delay(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failed attempt (1-based): doubling from 1 minute, capped."""
    if attempts < 1:
        raise ValueError("attempts starts at 1")
    # 2**20 minutes is far past the cap already; bounding the exponent keeps the number small.
    delay = BACKOFF_BASE * (2 ** min(attempts - 1, 20))
    return min(delay, BACKOFF_CAP)


def gives_up(attempts: int, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> bool:
    """After this many failed attempts the message is not tried again by itself."""
    return attempts >= max_attempts
