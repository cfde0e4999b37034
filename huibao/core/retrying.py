"""Durable deliveries to a remote system: when the next attempt is due, and one attempt through
a connector.

Every outbound queue of the platform keeps its attempts on a row and retries on a back-off until
the other side answers or the schedule ends: the insurer deliveries of policies (`policy.delivery`)
and of claims (`claim.insurer`), the partners' webhooks (`webhook.sending`) and the sandboxes'
signed notifications (`sandbox.notifications`). Their schedules, their signatures and what counts
as an answer stay their own; what they share is here:

- `next_attempt_at`: after the n-th failed attempt, when the next one is due — or None, give up
  (the schedule has no further wait, or n attempts are all that are allowed);
- `ConnectorRetry`: the steps of a delivery handed to a connector whose answer comes later (the
  insurers'): whether it is to be sent now (`holds`), and one attempt (`attempt`) — counted,
  sent, and moved to sent (answer due within `answer_timeout`), failed (due again on the
  back-off) or given up. The caller holds the row's lock and moves it (`move` writes the status,
  saves and audits).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger(__name__)

RetryDelay = Callable[[int], datetime.timedelta | None]
ERROR_MAX = 200
REF_MAX = 64


def next_attempt_at(
    now: datetime.datetime, attempts: int, retry_delay: RetryDelay, *, max_attempts: int | None = None
) -> datetime.datetime | None:
    """When the attempt after the `attempts`-th failed one is due: `now` + `retry_delay(attempts)`,
    or None (no more attempts) once `max_attempts` have been made or the schedule gives None."""
    if max_attempts is not None and attempts >= max_attempts:
        return None
    delay = retry_delay(attempts)
    return now + delay if delay is not None else None


class Retried(Protocol):
    """A delivery row with its attempt bookkeeping (`InsurerDelivery`, `InsurerClaimDelivery`)."""

    status: str
    attempts: int
    next_attempt_at: datetime.datetime | None
    last_attempt_at: datetime.datetime | None
    last_error: str
    insurer_ref: str


@dataclass(frozen=True, slots=True)
class ConnectorRetry:
    """How one kind of delivery through a connector is retried.

    `sent`, `failed`, `gave_up`: its statuses. `max_attempts`: read on each use (a setting).
    `answer_timeout`: sent and not answered within it, it is due again. `unanswered`: the error
    kept when it is given up for never being answered (`{attempts}` is replaced). `expected`: the
    errors a connector raises for a refused or failed send (each with a `code` and a `message`,
    kept as "code: message"); any other
    exception is a connector bug, logged with `failure_log` (one `%s`: the connector) and retried."""

    sent: str
    failed: str
    gave_up: str
    max_attempts: Callable[[], int]
    retry_delay: RetryDelay
    answer_timeout: datetime.timedelta
    unanswered: str
    expected: tuple[type[Exception], ...]
    failure_log: str = "connector %s failed"

    def holds(
        self, delivery: Retried, *, now: datetime.datetime, force: bool, move: Callable[[str], None]
    ) -> bool:
        """True when the delivery is not to be sent now: given up or not yet due (unless `force`),
        or sent as often as allowed and never answered — then given up now, for a person to look
        instead of it being sent every `answer_timeout` forever."""
        if force:
            return False
        if delivery.status == self.gave_up or (
            delivery.next_attempt_at is not None and delivery.next_attempt_at > now
        ):
            return True
        if delivery.status == self.sent and delivery.attempts >= self.max_attempts():
            delivery.next_attempt_at = None
            delivery.last_error = self.unanswered.format(attempts=delivery.attempts)[:ERROR_MAX]
            move(self.gave_up)
            return True
        return False

    def attempt(
        self,
        delivery: Retried,
        send: Callable[[], str],
        *,
        now: datetime.datetime,
        move: Callable[[str], None],
        connector: str,
    ) -> bool:
        """One attempt: counts it, calls `send` (returns the remote side's reference) and moves the
        delivery to sent, failed or given up; True when it was sent."""
        delivery.attempts += 1
        delivery.last_attempt_at = now
        try:
            ref = send()
        except self.expected as exc:
            error = f"{getattr(exc, 'code', 'error')}: {getattr(exc, 'message', str(exc))}"
        except Exception as exc:  # a connector bug must not lose the delivery: retry it
            logger.exception(self.failure_log, connector)
            error = f"error: {type(exc).__name__}"
        else:
            delivery.insurer_ref = ref[:REF_MAX]
            delivery.last_error = ""
            delivery.next_attempt_at = now + self.answer_timeout
            move(self.sent)
            return True
        delivery.last_error = error[:ERROR_MAX]
        delivery.next_attempt_at = next_attempt_at(
            now, delivery.attempts, self.retry_delay, max_attempts=self.max_attempts()
        )
        move(self.failed if delivery.next_attempt_at is not None else self.gave_up)
        return False
