"""Pure identity rules: names, retry schedules, notification freshness and the sandbox's test rules.

No ORM, no I/O.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal

from huibao.core import validators

RegistryResult = Literal["match", "mismatch", "no_record"]
FaceResult = Literal["passed", "failed", "expired"]

# --- Names --------------------------------------------------------------------------------------
# One rule for a person's name everywhere: `huibao.core.validators` (Chinese characters and the
# middle dot, its look-alikes normalised; no invisible characters or emoji).
NAME_MIN_LENGTH = validators.NAME_MIN_LENGTH
NAME_MAX_LENGTH = validators.NAME_MAX_LENGTH
NAME_DOT = validators.NAME_DOT
normalise_name = validators.normalise_person_name
name_problem = validators.person_name_problem


def sequence_code(id_number: str) -> str:
    """The 3-digit sequence code (顺序码) of an 18-character resident ID number."""
    return id_number[14:17]


# --- Real-name check retries ----------------------------------------------------------------------
REAL_NAME_MAX_ATTEMPTS = 3
# Pause before the 2nd and the 3rd attempt (seconds): short, the applicant is waiting on the page.
REAL_NAME_BACKOFF = (0.2, 0.5)


def real_name_pause(attempts_made: int) -> float:
    """Seconds to wait after `attempts_made` failed attempts before the next one."""
    if attempts_made < 1:
        return 0.0
    return REAL_NAME_BACKOFF[min(attempts_made, len(REAL_NAME_BACKOFF)) - 1]


# --- Face checks --------------------------------------------------------------------------------------
FACE_CHECK_TTL = datetime.timedelta(minutes=10)


# --- Signed notifications ---------------------------------------------------------------------------
# A notification older (or further in the future) than this is refused as stale.
NOTIFY_MAX_AGE = datetime.timedelta(minutes=5)
# Delays between delivery attempts of one notification; after the last one the gateway gives up.
RETRY_DELAYS = tuple(
    datetime.timedelta(seconds=s)
    for s in (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600)
)


def is_stale(
    sent_at: datetime.datetime, now: datetime.datetime, max_age: datetime.timedelta = NOTIFY_MAX_AGE
) -> bool:
    return abs(now - sent_at) > max_age


def retry_delay(attempts: int) -> datetime.timedelta | None:
    """Delay before the next attempt after `attempts` failed ones; None once the schedule is spent."""
    if attempts < 1 or attempts > len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[attempts - 1]


# --- Sandbox test rules -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SandboxRules:
    """How the sandbox registry and face service answer (see docs/identity.md)."""

    # ID numbers whose sequence code (digits 15–17) is one of these are unknown to the registry.
    no_record_sequences: frozenset[str] = frozenset({"999"})
    # A name containing this never matches its ID number (real-name mismatch, face not_same_person).
    mismatch_marker: str = "不符"
    # A name containing this fails the liveness check.
    not_live_marker: str = "活体失败"


@dataclass(frozen=True, slots=True)
class FaceVerdict:
    result: FaceResult
    reason: str
    liveness_score: int
    similarity: int


def registry_rule(rules: SandboxRules, name: str, id_number: str) -> RegistryResult | None:
    """The answer a sandbox rule forces for (name, id_number); None: ask the registry table."""
    if sequence_code(id_number) in rules.no_record_sequences:
        return "no_record"
    if rules.mismatch_marker and rules.mismatch_marker in name:
        return "mismatch"
    return None


def face_verdict(rules: SandboxRules, name: str, registry: RegistryResult) -> FaceVerdict:
    """The sandbox face service's decision: liveness first, then the comparison with the ID photo
    (only a person the registry knows under this name has a photo that can match)."""
    if rules.not_live_marker and rules.not_live_marker in name:
        return FaceVerdict("failed", "not_live", liveness_score=12, similarity=0)
    if registry != "match":
        return FaceVerdict("failed", "not_same_person", liveness_score=98, similarity=31)
    return FaceVerdict("passed", "", liveness_score=98, similarity=95)
