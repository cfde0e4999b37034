"""The one way the sandboxes tell the platform of an outcome: signed asynchronous notifications.

The payment gateway (a checkout closed), the face service (a session decided) and the insurer (a
policy booked) each owe the platform an HMAC-SHA256 signed POST, as their real counterparts do.
Each registers a `Channel` — its model, key field, secret, header names and retry schedule — and
the rest is the same for all three: the record (a `models.SignedNotification`) keeps the
notification (`notify_id`, `notify_body`, `notify_url`) and its delivery bookkeeping; `compose`
writes it, `owe` queues the first attempt after commit; `deliver` makes one attempt, signed afresh
(new timestamp, same notify id, so the platform recognises a retry or a replay); the task
`tasks.deliver_notification` re-queues itself on the channel's schedule, and the sweep
`tasks.resend_due_notifications` retries whatever is due where the task backend cannot defer. A
notification counts as delivered once the platform answers 200 with the channel's acknowledgement
text. One signature serves all three (`signing`); on the platform's side each adapter reads a
notification with `parse_signed`.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from huibao.core.errors import DomainError
from huibao.core.retrying import RetryDelay, next_attempt_at
from huibao.sandbox import signing
from huibao.sandbox.models import SignedNotification

HttpPost = Callable[[str, bytes, dict[str, str]], tuple[int, str]]
Sign = Callable[[bytes, str, str, bytes], str]  # (secret, timestamp, notify_id, body) -> signature


class SandboxError(Exception):
    pass


class Deliverable(Protocol):
    """A sandbox record owing the platform a notification (the delivery bookkeeping fields)."""

    notify_id: str
    notify_body: str
    notify_url: str
    attempts: int
    acknowledged_at: datetime.datetime | None
    next_attempt_at: datetime.datetime | None

    def save(self, *, update_fields: Iterable[str] | None = ...) -> None: ...


@dataclass(frozen=True, slots=True)
class Channel:
    """What differs between the sandboxes' notifications."""

    name: str
    model: type[SignedNotification]
    key_field: str  # the record's public key (txn_id, token, ref): what the task carries
    secret: Callable[[], bytes]
    headers: tuple[str, str, str]  # timestamp, notify id and signature header names
    retry_delay: RetryDelay
    ack: str = "success"
    # A feed that signs a new nonce into every attempt (the event feeds: a retry is a new request,
    # the event id in the body says it is the same event) instead of the notify id.
    fresh_nonce: bool = False
    # A platform endpoint that answers JSON: a 200 whose JSON object has this key acknowledges.
    ack_json_key: str = ""


_CHANNELS: dict[str, Channel] = {}


def register(channel: Channel) -> Channel:
    _CHANNELS[channel.name] = channel
    return channel


def channel(name: str) -> Channel:
    try:
        return _CHANNELS[name]
    except KeyError:
        raise SandboxError(f"no sandbox notification channel '{name}'") from None


def derived_secret(setting: str, purpose: str) -> bytes:
    """settings.<setting>, or (development and tests) a key derived from SECRET_KEY for `purpose`."""
    configured = getattr(settings, setting, "")
    if configured:
        return str(configured).encode()
    return hashlib.sha256(f"{settings.SECRET_KEY}:{purpose}".encode()).hexdigest().encode()


def signed_headers(
    notify_id: str,
    body: bytes,
    now: datetime.datetime,
    *,
    secret: bytes,
    names: tuple[str, str, str],
    sign: Sign = signing.sign,
) -> dict[str, str]:
    """The headers of one delivery, signed afresh: `names` are the timestamp, notify-id and
    signature headers of the channel."""
    timestamp_header, notify_id_header, signature_header = names
    timestamp = str(int(now.timestamp()))
    return {
        "Content-Type": "application/json",
        timestamp_header: timestamp,
        notify_id_header: notify_id,
        signature_header: sign(secret, timestamp, notify_id, body),
    }


def channel_headers(name: str, notify_id: str, body: bytes, now: datetime.datetime) -> dict[str, str]:
    """The headers `name`'s sandbox signs a notification with (also what tests forge with)."""
    chan = channel(name)
    return signed_headers(notify_id, body, now, secret=chan.secret(), names=chan.headers)


class HasNotifyId(Protocol):
    @property
    def notify_id(self) -> str: ...


def _header(headers: Mapping[str, str], name: str, invalid: type[DomainError]) -> str:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return str(value)
    raise invalid(f"header {name} is missing", code="missing_header")


def parse_signed[Parsed: HasNotifyId](
    name: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    build: Callable[[Any, datetime.datetime], Parsed],
    invalid: type[DomainError],
    noun: str = "notification",
) -> Parsed:
    """The platform's side of channel `name`: a notification whose signature verifies, built by
    `build(decoded body, time it was sent)`; raises `invalid` with code missing_header,
    bad_signature, malformed (the body does not decode or `build` fails on it) or
    notify_id_mismatch (the body's notify id is not the signed one)."""
    chan = channel(name)
    timestamp_header, notify_id_header, signature_header = chan.headers
    timestamp = _header(headers, timestamp_header, invalid)
    notify_id = _header(headers, notify_id_header, invalid)
    signature = _header(headers, signature_header, invalid)
    if not signing.signature_valid(chan.secret(), timestamp, notify_id, body, signature):
        raise invalid(f"{noun} signature does not verify", code="bad_signature")
    try:
        sent_at = datetime.datetime.fromtimestamp(int(timestamp), tz=datetime.UTC)
        parsed = build(json.loads(body), sent_at)
    except (ValueError, KeyError, TypeError, OverflowError, OSError) as exc:
        raise invalid(f"{noun} body is malformed: {exc}", code="malformed") from exc
    if parsed.notify_id != notify_id:
        raise invalid("notify_id in the body differs from the header", code="notify_id_mismatch")
    return parsed


def _network_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    response = httpx.post(url, content=body, headers=headers, timeout=10.0)
    return response.status_code, response.text


# One HTTP delivery over the network (tests replace this with Django's test client: no network).
http_post: HttpPost = _network_post


def attempt_delivery(
    record: Deliverable,
    *,
    url: str,
    body: bytes,
    headers: dict[str, str],
    post: HttpPost,
    ack: str,
    retry_delay: RetryDelay,
    now: datetime.datetime,
) -> bool:
    """One delivery attempt of `record`'s notification; True when the platform answered `ack`.

    Counts the attempt. Acknowledged: the record is marked so and nothing more is due. Otherwise
    (another answer, or an HTTP error): the next attempt is due `retry_delay(attempts)` from `now`,
    or never once that gives None."""
    try:
        status, text = post(url, body, headers)
        acknowledged = status == 200 and text.strip() == ack
    except httpx.HTTPError:
        acknowledged = False
    record.attempts += 1
    if acknowledged:
        record.acknowledged_at = now
        record.next_attempt_at = None
    else:
        record.next_attempt_at = next_attempt_at(now, record.attempts, retry_delay)
    record.save(update_fields=["attempts", "acknowledged_at", "next_attempt_at"])
    return acknowledged


def record_of(name: str, key: str) -> Deliverable:
    chan = channel(name)
    found = chan.model._default_manager.filter(**{chan.key_field: key}).first()
    if found is None:
        raise SandboxError(f"no sandbox {name} record '{key}'")
    return cast(Deliverable, found)


def compose(
    record: SignedNotification,
    notify_id: str,
    body: Mapping[str, Any],
    *,
    now: datetime.datetime | None = None,
) -> None:
    """Writes the notification `record` owes (its id, the body as sorted JSON, due `now`) without
    saving it: the caller saves, then calls `owe`."""
    record.notify_id = notify_id
    record.notify_body = json.dumps(body, ensure_ascii=False, sort_keys=True)
    record.next_attempt_at = now or timezone.now()


def owe(name: str, key: str) -> None:
    """The record `key` of channel `name` owes its notification: the first attempt runs after
    commit (the caller has set notify_id, notify_body and next_attempt_at)."""
    from huibao.sandbox.tasks import deliver_notification

    channel(name)  # an unknown channel fails now, not in the worker
    transaction.on_commit(lambda: deliver_notification.enqueue(name, key))


def owe_many(name: str, keys: Sequence[str]) -> None:
    """`owe` for a batch of records: one delivery task each, queued together after commit (one
    INSERT on the database backend, `core.taskqueue.enqueue_all`)."""
    from huibao.core.taskqueue import Call, enqueue_all
    from huibao.sandbox.tasks import deliver_notification

    channel(name)
    if keys:
        calls: list[Call] = [(deliver_notification, (name, key), {}) for key in keys]
        transaction.on_commit(lambda: enqueue_all(calls))


def _json_ack(post: HttpPost, key: str, ack: str) -> HttpPost:
    def posted(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        status, text = post(url, body, headers)
        try:
            data = json.loads(text)
            answered = status == 200 and isinstance(data, dict) and key in data
        except (ValueError, TypeError):
            answered = False
        return (status, ack) if answered else (status, text)

    return posted


def deliver(
    name: str, key: str, *, now: datetime.datetime | None = None, post: HttpPost | None = None
) -> bool:
    """One delivery attempt of the record's notification; True once the platform acknowledged.
    `post` carries it instead of the network (the demo set-up hands it to the platform in
    process)."""
    now = now or timezone.now()
    chan = channel(name)
    record = record_of(name, key)
    if record.acknowledged_at is not None:
        return True
    if not record.notify_id:
        raise SandboxError(f"sandbox {name} record '{key}' has no notification to deliver")
    body = record.notify_body.encode()
    nonce = secrets.token_hex(16) if chan.fresh_nonce else record.notify_id
    post = post or http_post  # looked up now: tests replace it
    if chan.ack_json_key:
        post = _json_ack(post, chan.ack_json_key, chan.ack)
    return attempt_delivery(
        record,
        url=record.notify_url,
        body=body,
        headers=channel_headers(name, nonce, body, now),
        post=post,
        ack=chan.ack,
        retry_delay=chan.retry_delay,
        now=now,
    )


def due(now: datetime.datetime, *, only: str | None = None) -> list[tuple[str, str]]:
    """(channel, key) of every notification whose next attempt is due at `now` (of one channel
    with `only`)."""
    found: list[tuple[str, str]] = []
    for chan in _CHANNELS.values():
        if only is not None and chan.name != only:
            continue
        keys = chan.model._default_manager.filter(
            acknowledged_at__isnull=True, next_attempt_at__isnull=False, next_attempt_at__lte=now
        ).values_list(chan.key_field, flat=True)
        found.extend((chan.name, str(key)) for key in keys)
    return found
