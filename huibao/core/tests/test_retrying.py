"""The shared retry steps (`core.retrying`): the due time after a failure and one connector attempt,
on a plain object (no database): what every insurer delivery relies on."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field

import pytest

from huibao.core.retrying import ERROR_MAX, ConnectorRetry, next_attempt_at

NOW = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=datetime.UTC)
MINUTE = datetime.timedelta(minutes=1)


class Refused(Exception):
    """A connector's expected error: a code and a message, not a DomainError."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class Row:
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime.datetime | None = None
    last_attempt_at: datetime.datetime | None = None
    last_error: str = ""
    insurer_ref: str = ""
    moves: list[str] = field(default_factory=list)

    def move(self, target: str) -> None:
        self.status = target
        self.moves.append(target)


def retry(max_attempts: int = 3) -> ConnectorRetry:
    return ConnectorRetry(
        sent="sent",
        failed="failed",
        gave_up="gave_up",
        max_attempts=lambda: max_attempts,
        retry_delay=lambda n: MINUTE * 2 ** (n - 1),
        answer_timeout=datetime.timedelta(minutes=30),
        unanswered="no_ack: sent {attempts} times",
        expected=(Refused,),
    )


# --- next_attempt_at ------------------------------------------------------------------------------


def test_next_attempt_is_now_plus_the_wait_of_that_failure() -> None:
    assert next_attempt_at(NOW, 3, lambda n: MINUTE * n) == NOW + 3 * MINUTE


def test_no_next_attempt_once_the_schedule_ends() -> None:
    schedule = (MINUTE, 5 * MINUTE)

    def wait(n: int) -> datetime.timedelta | None:
        return schedule[n - 1] if n <= len(schedule) else None

    assert next_attempt_at(NOW, 2, wait) == NOW + 5 * MINUTE
    assert next_attempt_at(NOW, 3, wait) is None


def test_no_next_attempt_at_the_maximum_even_if_the_schedule_goes_on() -> None:
    assert next_attempt_at(NOW, 7, lambda n: MINUTE, max_attempts=8) == NOW + MINUTE
    assert next_attempt_at(NOW, 8, lambda n: MINUTE, max_attempts=8) is None
    assert next_attempt_at(NOW, 9, lambda n: MINUTE, max_attempts=8) is None


def test_a_zero_wait_is_due_at_once_not_given_up() -> None:
    assert next_attempt_at(NOW, 1, lambda n: datetime.timedelta(0)) == NOW


# --- holds ------------------------------------------------------------------------------------------


def test_a_due_pending_delivery_is_not_held() -> None:
    row = Row(next_attempt_at=NOW)
    assert not retry().holds(row, now=NOW, force=False, move=row.move)
    assert row.moves == []


def test_not_yet_due_or_given_up_is_held_unless_forced() -> None:
    later = Row(status="failed", next_attempt_at=NOW + MINUTE)
    gave_up = Row(status="gave_up", next_attempt_at=None)
    for row in (later, gave_up):
        assert retry().holds(row, now=NOW, force=False, move=row.move)
        assert not retry().holds(row, now=NOW, force=True, move=row.move)
        assert row.moves == []


def test_sent_as_often_as_allowed_and_unanswered_is_given_up_with_the_reason() -> None:
    row = Row(status="sent", attempts=3, next_attempt_at=NOW)
    assert retry(max_attempts=3).holds(row, now=NOW, force=False, move=row.move)
    assert row.moves == ["gave_up"]
    assert row.next_attempt_at is None
    assert row.last_error == "no_ack: sent 3 times"


def test_sent_below_the_maximum_is_sent_again() -> None:
    row = Row(status="sent", attempts=2, next_attempt_at=NOW)
    assert not retry(max_attempts=3).holds(row, now=NOW, force=False, move=row.move)
    assert row.moves == []


def test_a_forced_resend_of_an_unanswered_delivery_is_not_given_up() -> None:
    row = Row(status="sent", attempts=5, next_attempt_at=NOW)
    assert not retry(max_attempts=3).holds(row, now=NOW, force=True, move=row.move)
    assert row.moves == []


# --- attempt ----------------------------------------------------------------------------------------


def test_a_sent_attempt_keeps_the_reference_and_waits_for_the_answer() -> None:
    row = Row(last_error="timeout: earlier")
    assert retry().attempt(row, lambda: "R" * 80, now=NOW, move=row.move, connector="x")
    assert row.moves == ["sent"]
    assert (row.attempts, row.last_attempt_at) == (1, NOW)
    assert row.insurer_ref == "R" * 64
    assert row.last_error == ""
    assert row.next_attempt_at == NOW + datetime.timedelta(minutes=30)


def test_an_expected_failure_is_kept_and_retried_on_the_back_off() -> None:
    row = Row(attempts=1)

    def send() -> str:
        raise Refused("insurer down " + "x" * 300, code="insurer_down")

    assert not retry().attempt(row, send, now=NOW, move=row.move, connector="x")
    assert row.moves == ["failed"]
    assert row.attempts == 2
    assert row.last_error.startswith("insurer_down: insurer down")
    assert len(row.last_error) == ERROR_MAX
    assert row.next_attempt_at == NOW + 2 * MINUTE  # the wait after the 2nd failure


def test_a_connector_bug_is_logged_and_retried_without_its_message(caplog: pytest.LogCaptureFixture) -> None:
    row = Row()

    def send() -> str:
        raise KeyError("secret detail")

    with caplog.at_level(logging.ERROR, logger="huibao.core.retrying"):
        assert not retry().attempt(row, send, now=NOW, move=row.move, connector="acme")
    assert row.moves == ["failed"]
    assert row.last_error == "error: KeyError"
    assert "connector acme failed" in caplog.text


def test_the_last_allowed_failure_gives_up() -> None:
    row = Row(status="failed", attempts=2)

    def send() -> str:
        raise Refused("timed out", code="timeout")

    assert not retry(max_attempts=3).attempt(row, send, now=NOW, move=row.move, connector="x")
    assert row.moves == ["gave_up"]
    assert row.attempts == 3
    assert row.next_attempt_at is None
    assert row.last_error == "timeout: timed out"
