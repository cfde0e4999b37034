"""Pure rules of the insurers' side of claims: the defaults of an insurer without a setting, the
promised decision time, the retry schedule of a claim delivery and the order of the insurer's
steps. No ORM, no I/O."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

MAX_DECISION_DAYS = 30  # 保险法 Art. 23
DEFAULT_MAX_ATTEMPTS = 8
FIRST_RETRY_DELAY = datetime.timedelta(minutes=1)
MAX_RETRY_DELAY = datetime.timedelta(hours=6)
# Sent and no notice at all (not even "received") after this long: sent again.
NOTICE_TIMEOUT = datetime.timedelta(hours=2)
# Notices signed longer ago than this are refused (a replay): the insurer signs each attempt
# afresh, as the policy acknowledgements (`policy.rules.ACK_MAX_AGE`).
NOTICE_MAX_AGE = datetime.timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class InsurerTerms:
    """How an insurer's claims are decided (its `InsurerClaimSettings`, or the defaults)."""

    mode: str  # DecisionMode
    decision_days: int
    payer: str  # Payer

    @property
    def by_connector(self) -> bool:
        return self.mode == "connector"


DEFAULTS = InsurerTerms(mode="back_office", decision_days=MAX_DECISION_DAYS, payer="platform")


def retry_delay(attempts: int) -> datetime.timedelta:
    """Back-off after the `attempts`-th failed send: 1, 2, 4 … minutes, at most 6 hours."""
    if attempts < 1:
        raise ValueError("attempts starts at 1")
    return min(FIRST_RETRY_DELAY * 2 ** (attempts - 1), MAX_RETRY_DELAY)


def decision_due(
    materials_complete_at: datetime.datetime,
    decision_days: int,
    *,
    paused: datetime.timedelta = datetime.timedelta(0),
    paused_since: datetime.datetime | None = None,
    now: datetime.datetime | None = None,
) -> datetime.datetime:
    """When the insurer's decision is due: `decision_days` (1–30) after the materials were
    complete, not counting the time more information was asked of the customer — `paused` (the
    requests answered) and, while one is open (`paused_since`), the time since it began: the
    clock is stopped, so the due time moves on with `now`."""
    if not 1 <= decision_days <= MAX_DECISION_DAYS:
        raise ValueError("decision_days must be 1 to 30")
    stopped = paused
    if paused_since is not None and now is not None and now > paused_since:
        stopped += now - paused_since
    return materials_complete_at + datetime.timedelta(days=decision_days) + stopped


def is_overdue(due_at: datetime.datetime, now: datetime.datetime) -> bool:
    return now > due_at


def is_stale_notice(sent_at: datetime.datetime, now: datetime.datetime) -> bool:
    """A notice signed too long ago (a replay) or in the future beyond clock skew."""
    return sent_at < now - NOTICE_MAX_AGE or sent_at > now + datetime.timedelta(minutes=5)


def elapsed_label(delta: datetime.timedelta) -> str:
    """ "3天4小时", "5小时", "12分钟": the time since a step, as staff read it."""
    seconds = max(int(delta.total_seconds()), 0)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    if days:
        return f"{days}天{hours}小时"
    if hours:
        return f"{hours}小时"
    return f"{rest // 60}分钟"
