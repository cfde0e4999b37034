"""The sandbox flight-status feed (like 飞常准 / 航旅纵横's push API), run in-process.

`emit(flight_number, flight_date, status, delay_minutes)` records a status event and owes the
platform its delivery: `POST /api/v1/events/sandbox-flight/flight`, HMAC-SHA256 signed over
`timestamp \\n nonce \\n body` with the feed's key (`FLIGHT_FEED_SANDBOX_SECRET`, derived from
SECRET_KEY when empty), a fresh nonce on every attempt, retried on the payment schedule until the
platform answers 200 with its receipt (the sandboxes' one delivery mechanism,
`notifications.py`). `emit(..., event_id=X)` again re-sends the same event (a feed's duplicate).
A real feed sends corrections as new event ids: so does `emit` without `event_id`.
"""

from __future__ import annotations

import datetime
import re
import secrets

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from huibao.payment import rules
from huibao.sandbox import notifications
from huibao.sandbox.models import SandboxFlightEvent

SOURCE = "sandbox-flight"
FLIGHT_NUMBER = re.compile(r"[A-Z0-9]{2}[0-9]{1,4}")
HEADERS = ("Huibao-Event-Timestamp", "Huibao-Event-Nonce", "Huibao-Event-Signature")


def feed_key() -> bytes:
    return notifications.derived_secret("FLIGHT_FEED_SANDBOX_SECRET", "flight-feed-sandbox")


CHANNEL = notifications.register(
    notifications.Channel(
        name="flight",
        model=SandboxFlightEvent,
        key_field="event_id",
        secret=feed_key,
        headers=HEADERS,
        retry_delay=rules.retry_delay,
        fresh_nonce=True,
        ack_json_key="event",
    )
)


class SandboxFlightFeed:
    """The feed as an event source of the claim app's port (`claim.events_port`)."""

    name = SOURCE

    def key(self) -> bytes:
        return feed_key()


def emit(
    flight_number: str,
    flight_date: datetime.date,
    status: str,
    delay_minutes: int = 0,
    *,
    event_id: str = "",
    base_url: str = "http://testserver",
) -> SandboxFlightEvent:
    """Records a flight's status event and queues its signed delivery after commit."""
    with transaction.atomic():
        if event_id:
            existing = SandboxFlightEvent.objects.filter(event_id=event_id).first()
            if existing is not None:
                # The feed sends the same event again (its own retry or a duplicate push).
                existing.acknowledged_at = None
                existing.save(update_fields=["acknowledged_at"])
                notifications.owe(CHANNEL.name, existing.event_id)
                return existing
        row = SandboxFlightEvent(
            event_id=event_id or f"SFE{secrets.token_hex(8)}",
            flight_number=flight_number,
            flight_date=flight_date,
            status=status,
            delay_minutes=delay_minutes,
            notify_url=base_url + reverse("api:event_receive", kwargs={"source": SOURCE, "kind": "flight"}),
        )
        body = {
            "event_id": row.event_id,
            "flight_number": flight_number,
            "flight_date": flight_date.isoformat(),
            "status": status,
            "delay_minutes": delay_minutes,
        }
        notifications.compose(row, row.event_id, body)
        row.save()
        notifications.owe(CHANNEL.name, row.event_id)
    return row


def deliver(event_id: str) -> bool:
    return notifications.deliver(CHANNEL.name, event_id)


def console_allowed() -> bool:
    """The console is a development part, served where the feed is trusted (`apps.py`)."""
    return not settings.HUIBAO_STRICT or "flight" in settings.HUIBAO_ALLOW_SANDBOX


def recent_events(limit: int = 20) -> list[SandboxFlightEvent]:
    return list(SandboxFlightEvent.objects.order_by("-id")[:limit])


def insured_flights(day: datetime.date) -> list[tuple[str, int]]:
    """The flights of `day` that policies cover, with how many travellers (the console's
    shortcuts; the sandbox may read every app)."""
    from django.db.models import Count

    from huibao.claim.models import TriggerIndex

    suffix = f":{day.isoformat()}"
    rows = (
        TriggerIndex.objects.filter(kind="flight_delay", key__endswith=suffix)
        .values("key")
        .annotate(n=Count("id"))
        .order_by("key")[:50]
    )
    return [(str(r["key"]).split(":")[1], int(r["n"])) for r in rows]
