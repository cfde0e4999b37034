"""Sending one webhook delivery: claim, post, record the outcome.

1. `claim` moves a due delivery pending|failed → sending with a fresh `attempt_id`, in its own
   short transaction: on PostgreSQL with `SELECT … FOR UPDATE SKIP LOCKED` (a second worker skips
   the row instead of waiting), elsewhere with a conditional UPDATE (only one of two workers
   matches `status IN (pending, failed)`). The claim commits before the partner is called, so no
   lock is held over the network and a worker killed after it leaves a row in `sending`, which
   `requeue_stuck` (the sweep) hands back after `rules.SENDING_TIMEOUT`.
2. The body is signed with the endpoint's current secret and posted (`transport.post`, short
   timeout, no redirects).
3. `_finish` logs the attempt (`WebhookAttempt`, always: it happened) and writes the outcome only
   if the delivery is still `sending` under the same `attempt_id`: succeeded on a 2xx; else
   failed with `next_attempt_at` = now + the back-off of `rules.retry_delay` (with jitter), or
   dead after the last attempt of the schedule.

The guarantee is at least once: the `Huibao-Webhook-Id` is the same on every attempt, so the
partner drops a duplicate. Nothing here logs the secret, the signature or the payload.
"""

from __future__ import annotations

import datetime
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from huibao.core import audit
from huibao.core.retrying import next_attempt_at
from huibao.core.states import check_transition
from huibao.webhook import rules, transport
from huibao.webhook.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from huibao.webhook.states import CLAIMABLE, DELIVERY_TRANSITIONS, AttemptOutcome, DeliveryStatus

logger = logging.getLogger(__name__)

USER_AGENT = "Huibao-Webhook/1"
DEFAULT_TIMEOUT = 5.0


def timeout() -> float:
    """Seconds to wait for a partner's answer (settings.HUIBAO_WEBHOOK_TIMEOUT, default 5)."""
    return float(getattr(settings, "HUIBAO_WEBHOOK_TIMEOUT", DEFAULT_TIMEOUT))


@dataclass(frozen=True, slots=True)
class Claim:
    delivery_id: int
    attempt_id: str
    attempts: int


def _due(now: datetime.datetime) -> Q:
    return Q(status__in=CLAIMABLE) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def claim(delivery_id: int, *, now: datetime.datetime | None = None) -> Claim | None:
    """Takes the delivery for one attempt, or None when it is not due or another worker has it."""
    now = now or timezone.now()
    attempt_id = uuid.uuid4().hex
    rows = WebhookDelivery.objects.filter(_due(now), pk=delivery_id)
    changes: dict[str, Any] = {
        "status": DeliveryStatus.SENDING,
        "attempt_id": attempt_id,
        "claimed_at": now,
        "attempts": F("attempts") + 1,
        "updated_at": now,
    }
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            row = rows.select_for_update(skip_locked=True).only("pk", "status", "attempts").first()
            if row is None:
                return None
            check_transition(
                DELIVERY_TRANSITIONS, row.status, DeliveryStatus.SENDING, what="webhook delivery"
            )
            WebhookDelivery.objects.filter(pk=row.pk).update(**changes)
            return Claim(row.pk, attempt_id, row.attempts + 1)
        # SQLite (no row locks; one writer at a time): the UPDATE's WHERE is the claim.
        if not rows.update(**changes):
            return None
        attempts = WebhookDelivery.objects.filter(pk=delivery_id).values_list("attempts", flat=True).get()
        return Claim(delivery_id, attempt_id, attempts)


def body_of(event: WebhookEvent) -> bytes:
    """The JSON posted: the same bytes on every attempt of the event."""
    document = {
        "id": event.webhook_id,
        "type": event.event_type,
        "ref": event.ref,
        "created_at": audit.json_safe(event.created_at),
        "data": event.payload,
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def headers_for(event: WebhookEvent, *, secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "Huibao-Webhook-Id": event.webhook_id,
        "Huibao-Event-Type": event.event_type,
        "Huibao-Timestamp": str(timestamp),
        "Huibao-Signature": rules.signature(secret, event.webhook_id, timestamp, body),
    }


@dataclass(frozen=True, slots=True)
class _Result:
    outcome: str
    status_code: int | None
    response: str
    error: str
    permanent: bool = False


def _post(delivery: WebhookDelivery, timestamp: int) -> _Result:
    event, endpoint = delivery.event, delivery.endpoint
    if not endpoint.is_active:
        return _Result(AttemptOutcome.FAILED, None, "", "endpoint_inactive", permanent=True)
    body = body_of(event)
    headers = headers_for(event, secret=endpoint.secret, timestamp=timestamp, body=body)
    try:
        answer = transport.post(endpoint.url, body, headers, timeout=timeout())
    except transport.TransportError as exc:
        return _Result(AttemptOutcome.FAILED, None, "", str(exc))
    except Exception as exc:  # a bug must not leave the delivery in `sending` until the sweep
        logger.warning("webhook delivery %s: post failed: %s", delivery.public_id, type(exc).__name__)
        return _Result(AttemptOutcome.FAILED, None, "", f"error: {type(exc).__name__}")
    if rules.is_success(answer.status_code):
        return _Result(AttemptOutcome.SUCCEEDED, answer.status_code, answer.body, "")
    return _Result(AttemptOutcome.FAILED, answer.status_code, answer.body, f"http {answer.status_code}")


def send(delivery_id: int, *, now: datetime.datetime | None = None) -> str:
    """One attempt at the delivery if it is due; returns its status afterwards."""
    taken = claim(delivery_id, now=now)
    if taken is None:
        status = WebhookDelivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first()
        return status or "missing"
    delivery = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    started = timezone.now()
    timestamp = int(started.timestamp())
    clock = time.monotonic()
    result = _post(delivery, timestamp)
    duration_ms = int((time.monotonic() - clock) * 1000)
    return _finish(taken, delivery, result, started=started, timestamp=timestamp, duration_ms=duration_ms)


def _finish(
    taken: Claim,
    delivery: WebhookDelivery,
    result: _Result,
    *,
    started: datetime.datetime,
    timestamp: int,
    duration_ms: int,
) -> str:
    now = timezone.now()
    with transaction.atomic():
        row = WebhookDelivery.objects.select_for_update().filter(pk=taken.delivery_id).first()
        if row is None:
            return "missing"
        number = WebhookAttempt.objects.filter(delivery_id=row.pk).count() + 1
        WebhookAttempt.objects.create(
            delivery_id=row.pk,
            number=number,
            attempt_id=taken.attempt_id,
            url=delivery.endpoint.url,
            timestamp=timestamp,
            outcome=result.outcome,
            status_code=result.status_code,
            response_excerpt=rules.excerpt(result.response),
            error=result.error[: rules.ERROR_MAX],
            duration_ms=duration_ms,
            started_at=started,
        )
        if row.status != DeliveryStatus.SENDING or row.attempt_id != taken.attempt_id:
            # The sweep gave the delivery to another attempt meanwhile: that one owns the outcome.
            return row.status
        if result.outcome == AttemptOutcome.SUCCEEDED:
            target, next_at = DeliveryStatus.SUCCEEDED, None
        else:
            next_at = None
            if not result.permanent:
                backoff = partial(rules.retry_delay, jitter=random.random())
                next_at = next_attempt_at(now, taken.attempts, backoff)
            target = DeliveryStatus.FAILED if next_at is not None else DeliveryStatus.DEAD
        check_transition(DELIVERY_TRANSITIONS, row.status, target, what="webhook delivery")
        row.status = target
        row.next_attempt_at = next_at
        row.last_status_code = result.status_code
        row.last_response = rules.excerpt(result.response)
        row.last_error = result.error[: rules.ERROR_MAX]
        if target == DeliveryStatus.SUCCEEDED:
            row.delivered_at = now
        row.save(
            update_fields=[
                "status",
                "next_attempt_at",
                "last_status_code",
                "last_response",
                "last_error",
                "delivered_at",
                "updated_at",
            ]
        )
        if target == DeliveryStatus.DEAD:
            audit.record(
                "webhook.delivery_dead",
                "webhook_delivery",
                str(row.public_id),
                actor="system",
                after={
                    "subscriber": row.subscriber,
                    "event_type": row.event_type,
                    "attempts": row.attempts,
                    "error": row.last_error,
                },
            )
    return target


def requeue_stuck(*, now: datetime.datetime | None = None) -> int:
    """Deliveries claimed longer than `SENDING_TIMEOUT` ago without an outcome go back to pending
    (their worker died); the attempt they were on counts as made."""
    now = now or timezone.now()
    return WebhookDelivery.objects.filter(
        status=DeliveryStatus.SENDING, claimed_at__lt=now - rules.SENDING_TIMEOUT
    ).update(status=DeliveryStatus.PENDING, attempt_id="", next_attempt_at=now, updated_at=now)


def sweep(*, limit: int = 500) -> dict[str, int]:
    """Hands back stuck attempts, then one attempt for each due delivery — except that after a
    failed attempt to an endpoint, its other due deliveries wait for the next run (a partner that
    is down is not sent hundreds of 5-second timeouts in one run; they stay due, nothing is
    lost)."""
    requeued = requeue_stuck()
    failing: set[int] = set()
    succeeded = skipped = 0
    now = timezone.now()
    due = (
        WebhookDelivery.objects.filter(_due(now))
        .order_by("next_attempt_at", "id")
        .values_list("pk", "endpoint_id")[:limit]
    )
    for pk, endpoint_id in list(due):
        if endpoint_id in failing:
            skipped += 1
            continue
        status = send(pk)
        if status == DeliveryStatus.SUCCEEDED:
            succeeded += 1
        elif status in (DeliveryStatus.FAILED, DeliveryStatus.DEAD):
            failing.add(endpoint_id)
    return {"requeued": requeued, "succeeded": succeeded, "skipped": skipped}


def due_deliveries(*, now: datetime.datetime | None = None, limit: int = 500) -> list[int]:
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(_due(now))
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
