"""Sending one outbox row: claim, call the channel, record the outcome.

1. `claim` moves a due row pending|failed → sending and gives it a fresh `attempt_id`, in its own
   short transaction: on PostgreSQL with `SELECT … FOR UPDATE SKIP LOCKED` (a second worker skips
   the row instead of waiting for it), elsewhere with a conditional UPDATE (only one of two
   workers matches `status IN (pending, failed)`). The claim commits before the provider is
   called, so a crash after it leaves a row in `sending`, never a lost one.
2. The channel is called without any lock held. The recipient's address is read from the user
   now (it is not stored). E-mail carries a `Message-ID` made from the row's public id and SMS
   the row's id as `out_id`: the same on every attempt, so a message sent again after a crash is
   recognisable as the same one (by mail systems; in SMS delivery reports).
3. `_finish` writes the outcome only if the row is still `sending` under the same `attempt_id`:
   sent; failed with `next_attempt_at` = now + back-off; gave_up after `max_attempts()` or on a
   permanent refusal (no address, bad number, unmapped template).

`requeue_stuck` (the sweep) returns rows left in `sending` past `rules.SENDING_TIMEOUT` — their
worker died between claim and outcome — to `pending`. That send may have reached the provider:
the guarantee is at least once, with the stable ids above for the provider to recognise it.
"""

from __future__ import annotations

import datetime
import json
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from huibao.core import audit
from huibao.core.states import check_transition
from huibao.notification import rules
from huibao.notification.errors import SmsDeliveryFailed, SmsThrottled
from huibao.notification.models import OutboxMessage
from huibao.notification.sms import get_sms_backend
from huibao.notification.states import CLAIMABLE, OUTBOX_TRANSITIONS, Channel, OutboxStatus

logger = logging.getLogger(__name__)
ERROR_MAX = 200


def max_attempts() -> int:
    return int(getattr(settings, "HUIBAO_NOTIFICATION_MAX_ATTEMPTS", rules.DEFAULT_MAX_ATTEMPTS))


class PermanentFailure(Exception):
    """No retry can deliver this message."""


@dataclass(frozen=True, slots=True)
class Claim:
    message_id: int
    attempt_id: str
    attempts: int


def _due(now: datetime.datetime) -> Q:
    return Q(status__in=CLAIMABLE) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


def claim(message_id: int, *, now: datetime.datetime | None = None, force: bool = False) -> Claim | None:
    """Takes the row for one attempt, or None when it is not due or another worker has it."""
    now = now or timezone.now()
    attempt_id = uuid.uuid4().hex
    due = Q(status__in=CLAIMABLE) if force else _due(now)
    rows = OutboxMessage.objects.filter(due, pk=message_id).exclude(channel=Channel.INBOX)
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            row = rows.select_for_update(skip_locked=True).only("pk", "status", "attempts").first()
            if row is None:
                return None
            check_transition(OUTBOX_TRANSITIONS, row.status, OutboxStatus.SENDING, what="outbox message")
            OutboxMessage.objects.filter(pk=row.pk).update(
                status=OutboxStatus.SENDING, attempt_id=attempt_id, claimed_at=now, attempts=F("attempts") + 1
            )
            return Claim(row.pk, attempt_id, row.attempts + 1)
        # SQLite (no row locks; one writer at a time): the UPDATE's WHERE is the claim.
        taken = rows.update(
            status=OutboxStatus.SENDING, attempt_id=attempt_id, claimed_at=now, attempts=F("attempts") + 1
        )
        if not taken:
            return None
        attempts = OutboxMessage.objects.filter(pk=message_id).values_list("attempts", flat=True).get()
        return Claim(message_id, attempt_id, attempts)


def _message_id_header(message: OutboxMessage) -> str:
    domain = getattr(settings, "HUIBAO_MAIL_DOMAIN", "") or "huibao.local"
    return f"<{message.public_id}@{domain}>"


def _deliver(message: OutboxMessage) -> str:
    """Calls the channel; returns the provider's reference. Raises on failure."""
    user = get_user_model().objects.filter(pk=message.user_id).first()
    if user is None or not user.is_active:
        raise PermanentFailure("recipient_inactive")
    if message.channel == Channel.EMAIL:
        address = str(getattr(user, "email", "") or "")
        if not address:
            raise PermanentFailure("no_email")
        header = _message_id_header(message)
        mail = EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
            headers={"Message-ID": header, "X-Huibao-Template": message.template},
        )
        mail.encoding = "utf-8"
        mail.send()
        return header
    if message.channel == Channel.SMS:
        phone = str(getattr(user, "phone", "") or "")
        if not phone:
            raise PermanentFailure("no_phone")
        receipt = get_sms_backend().send(
            phone,
            message.body,
            template=message.template,
            params=json.loads(message.params or "{}"),
            out_id=message.public_id.hex,
        )
        return receipt.receipt_id
    raise PermanentFailure(f"channel_{message.channel}")


def send(message_id: int, *, now: datetime.datetime | None = None, force: bool = False) -> str:
    """One attempt at the row if it is due (or `force`); returns its status afterwards."""
    now = now or timezone.now()
    taken = claim(message_id, now=now, force=force)
    if taken is None:
        status = OutboxMessage.objects.filter(pk=message_id).values_list("status", flat=True).first()
        return status or "missing"
    message = OutboxMessage.objects.get(pk=message_id)
    permanent = False
    retry_after: datetime.timedelta | None = None
    try:
        ref = _deliver(message)
    except PermanentFailure as exc:
        error, permanent = str(exc), True
    except SmsThrottled as exc:
        error, retry_after = f"{exc.code}: {exc.message}", datetime.timedelta(seconds=exc.retry_after)
    except SmsDeliveryFailed as exc:
        error, permanent = f"{exc.code}: {exc.message}", exc.permanent
    except Exception as exc:  # SMTP errors, a provider bug: keep the message, retry it
        logger.warning(
            "notification %s: %s failed: %s", message.public_id, message.channel, type(exc).__name__
        )
        error = f"error: {type(exc).__name__}"
    else:
        return _finish(taken, OutboxStatus.SENT, now=now, provider_ref=ref)
    if permanent or rules.gives_up(taken.attempts, max_attempts()):
        return _finish(taken, OutboxStatus.GAVE_UP, now=now, error=error)
    delay = max(rules.retry_delay(taken.attempts), retry_after or datetime.timedelta(0))
    return _finish(taken, OutboxStatus.FAILED, now=now, error=error, next_attempt_at=now + delay)


def _finish(
    taken: Claim,
    target: str,
    *,
    now: datetime.datetime,
    provider_ref: str = "",
    error: str = "",
    next_attempt_at: datetime.datetime | None = None,
) -> str:
    with transaction.atomic():
        row = (
            OutboxMessage.objects.select_for_update()
            .filter(pk=taken.message_id, status=OutboxStatus.SENDING, attempt_id=taken.attempt_id)
            .first()
        )
        if row is None:
            # The sweep gave the row to another attempt meanwhile: that attempt owns the outcome.
            return OutboxStatus.SENDING
        check_transition(OUTBOX_TRANSITIONS, row.status, target, what="outbox message")
        row.status = target
        row.last_error = error[:ERROR_MAX]
        row.next_attempt_at = next_attempt_at
        if target == OutboxStatus.SENT:
            row.sent_at = timezone.now()
            row.provider_ref = provider_ref[:128]
        row.save(update_fields=["status", "last_error", "next_attempt_at", "sent_at", "provider_ref"])
        if target == OutboxStatus.GAVE_UP:
            audit.record(
                "notification.gave_up",
                "notification",
                str(row.public_id),
                actor="system",
                after={
                    "channel": row.channel,
                    "template": row.template,
                    "attempts": row.attempts,
                    "error": error,
                },
            )
    return target


def requeue_stuck(*, now: datetime.datetime | None = None) -> int:
    """Rows claimed longer than `SENDING_TIMEOUT` ago without an outcome go back to pending."""
    now = now or timezone.now()
    return OutboxMessage.objects.filter(
        status=OutboxStatus.SENDING, claimed_at__lt=now - rules.SENDING_TIMEOUT
    ).update(status=OutboxStatus.PENDING, attempt_id="", next_attempt_at=now)


def due_messages(*, now: datetime.datetime | None = None, limit: int = 500) -> list[int]:
    now = now or timezone.now()
    return list(
        OutboxMessage.objects.filter(_due(now))
        .exclude(channel=Channel.INBOX)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
