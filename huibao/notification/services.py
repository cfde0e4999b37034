"""Notification use-cases: `notify` (the one entry point other apps call), the customer's
preferences and inbox, and the operator's re-send.

`notify` runs inside the caller's business transaction: it renders the template locally and
writes one outbox row per channel, so the message exists exactly when the business change
commits; the send task is enqueued on commit (`tasks.send_outbox_message`), and the sweep
(`tasks.send_due_messages`) sends whatever a lost enqueue or a dead worker left behind.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from huibao.core import audit
from huibao.core.errors import ValidationFailed
from huibao.core.inserts import insert_unless_taken
from huibao.core.states import check_transition
from huibao.core.taskqueue import enqueue_on_commit
from huibao.notification import catalogue, rules, selectors
from huibao.notification.models import NotificationPreference, OutboxMessage
from huibao.notification.states import OUTBOX_TRANSITIONS, Channel, OutboxStatus
from huibao.notification.tasks import send_outbox_message

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

type ContextValue = str | int | Decimal | date | datetime
DEDUP_KEY_MAX = 200
OBJ_TYPE = "notification"


class Recipient(Protocol):
    """What notification needs of a user (the project's `account.User` has it)."""

    pk: Any
    email: str
    phone: str
    is_active: bool


class Owner(Protocol):
    """Whose inbox or preferences: any user object (the page views' `request.user`)."""

    @property
    def pk(self) -> Any: ...


def _params(context: Mapping[str, ContextValue]) -> str:
    return json.dumps({k: str(v) for k, v in context.items()}, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True, slots=True)
class Notice:
    """One message to write for `notify_many`: the arguments `notify` takes."""

    user: Recipient
    template: str
    context: Mapping[str, ContextValue]
    dedup_key: str
    reference: str = ""
    category: Literal["service", "marketing"] = "service"


# The messages given to `send` inside `batched()`, not written yet (None outside it).
_deferred: contextvars.ContextVar[list[Notice] | None] = contextvars.ContextVar(
    "notification_deferred", default=None
)


@contextlib.contextmanager
def batched() -> Iterator[None]:
    """Inside a transaction: the messages `send` is given in the block are written together when
    it ends, by one `notify_many` (a few statements instead of a few per message), in the order
    given. If the block raises they are dropped with the transaction they belong to. Nested
    blocks join the outermost."""
    if _deferred.get() is not None:
        yield
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("notification.batched() belongs inside a transaction")
    pending: list[Notice] = []
    token = _deferred.set(pending)
    try:
        yield
    finally:
        _deferred.reset(token)
    if pending:
        notify_many(pending)


def send(notice: Notice) -> None:
    """Writes the message as `notify` does — at the end of `batched()` when inside one — for a
    caller that does not need the rows."""
    pending = _deferred.get()
    if pending is not None:
        catalogue.get(notice.template)  # an unknown template fails the caller now
        pending.append(notice)
        return
    notify_many([notice])


def notify(
    *,
    user: AbstractBaseUser | Recipient,
    template: str,
    context: Mapping[str, ContextValue],
    category: Literal["service", "marketing"] = "service",
    dedup_key: str,
    reference: str = "",
) -> list[OutboxMessage]:
    """Writes the message to the outbox, one row per channel it goes to; returns the rows this
    call created ([] when every channel already has a row for `dedup_key`: a job run again)."""
    target: Recipient = user  # type: ignore[assignment]
    return notify_many([Notice(target, template, context, dedup_key, reference, category)])


def notify_many(notices: Sequence[Notice]) -> list[OutboxMessage]:
    """`notify` for a batch (a daily job's): the same rows, the same dedup, in two statements
    for the whole batch — the recipients' preferences in one read, the rows in one insert that
    skips what exists and returns the ids of those it made — instead of three per message."""
    for notice in notices:
        if not notice.dedup_key or len(notice.dedup_key) > DEDUP_KEY_MAX:
            raise ValidationFailed(f"dedup_key: 1–{DEDUP_KEY_MAX} characters", code="dedup_key_invalid")
    specs = [catalogue.get(n.template) for n in notices]  # an unknown template fails the caller
    active = [(n, spec) for n, spec in zip(notices, specs, strict=True) if n.user.is_active]
    if not active:
        return []
    preferences = selectors.preferences_for({n.user.pk for n, _ in active})
    now = timezone.now()
    rows = []
    for notice, spec in active:
        target = notice.user
        # A marketing template is marketing whatever the caller says.
        effective = rules.MARKETING if rules.MARKETING in (notice.category, spec.category) else rules.SERVICE
        channels = rules.channels_for(
            category=effective,
            preferences=preferences.get(target.pk, rules.Preferences()),
            reachable=rules.Reachable(email=bool(target.email), sms=bool(getattr(target, "phone", ""))),
            renders=spec.renders,
        )
        for channel in channels:
            rendered = catalogue.render(spec, channel, notice.context)
            inbox = channel == Channel.INBOX
            rows.append(
                OutboxMessage(
                    public_id=uuid.uuid4(),
                    user_id=target.pk,
                    template=spec.code,
                    category=effective,
                    channel=channel,
                    dedup_key=notice.dedup_key,
                    reference=notice.reference[:64],
                    subject=rendered.subject,
                    body=rendered.body,
                    params=_params(notice.context) if channel == Channel.SMS else "",
                    # Storing an in-site message is its delivery.
                    status=OutboxStatus.SENT if inbox else OutboxStatus.PENDING,
                    sent_at=now if inbox else None,
                    next_attempt_at=None if inbox else now,
                )
            )
    if not rows:
        return []
    with transaction.atomic(savepoint=False):
        # A row that exists for (dedup_key, channel) is skipped, also when a concurrent call
        # wrote it a moment ago: no savepoint, no IntegrityError in the caller's transaction;
        # the rows that went in come back with their ids from the insert itself.
        created = sorted(insert_unless_taken(rows, key="public_id"), key=lambda r: r.pk)
        to_send = [row.pk for row in created if row.channel != Channel.INBOX]
        if to_send:
            # One send task per row, queued together after commit (one INSERT on the database
            # backend; with the transaction's other tasks inside `taskqueue.batched()`).
            enqueue_on_commit([(send_outbox_message, (pk,), {}) for pk in to_send])
    return created


# --- preferences ---------------------------------------------------------------------------------


def set_preferences(
    user: Owner,
    *,
    email: bool,
    sms: bool,
    marketing: bool,
    request: HttpRequest | None = None,
) -> rules.Preferences:
    """Saves the customer's channel choices (audited: consent to marketing is evidence)."""
    with transaction.atomic():
        row, _ = NotificationPreference.objects.select_for_update().get_or_create(user_id=user.pk)
        before = {"email": row.email, "sms": row.sms, "marketing": row.marketing}
        row.email, row.sms, row.marketing = email, sms, marketing
        row.save(update_fields=["email", "sms", "marketing", "updated_at"])
        after = {"email": email, "sms": sms, "marketing": marketing}
        if before != after:
            audit.record(
                "notification.preferences_changed",
                OBJ_TYPE,
                f"user:{user.pk}",
                actor=user,
                request=request,
                before=before,
                after=after,
            )
    return rules.Preferences(email=email, sms=sms, marketing=marketing)


# --- inbox ---------------------------------------------------------------------------------------


def mark_read(user: Owner, public_id: uuid.UUID | str) -> OutboxMessage:
    """Marks one of the user's in-site messages read (reading it again changes nothing)."""
    message = selectors.inbox_message_for(user, public_id)
    if message.read_at is None:
        message.read_at = timezone.now()
        OutboxMessage.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=message.read_at)
    return message


def mark_all_read(user: Owner) -> int:
    return selectors.inbox_for(user).filter(read_at__isnull=True).update(read_at=timezone.now())


# --- operators -----------------------------------------------------------------------------------


def resend(message: OutboxMessage, *, actor: Any, request: HttpRequest | None = None) -> OutboxMessage:
    """An operator's "重新发送" of a failed or given-up e-mail/SMS: due now, attempts from zero."""
    with transaction.atomic():
        row = OutboxMessage.objects.select_for_update().get(pk=message.pk)
        check_transition(OUTBOX_TRANSITIONS, row.status, OutboxStatus.PENDING, what="outbox message")
        if row.status == OutboxStatus.SENDING:
            raise ValidationFailed("消息正在发送中，请稍后再试。", code="message_sending")
        before = {"status": row.status, "attempts": row.attempts, "last_error": row.last_error}
        row.status = OutboxStatus.PENDING
        row.attempts = 0
        row.next_attempt_at = timezone.now()
        row.attempt_id = ""
        row.claimed_at = None
        row.save(update_fields=["status", "attempts", "next_attempt_at", "attempt_id", "claimed_at"])
        audit.record(
            "notification.resend_requested",
            OBJ_TYPE,
            str(row.public_id),
            actor=actor,
            request=request,
            before=before,
            after={"status": row.status, "channel": row.channel, "template": row.template},
        )
        transaction.on_commit(partial(send_outbox_message.enqueue, row.pk))
    return row
