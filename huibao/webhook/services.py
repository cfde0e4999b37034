"""Webhook use-cases: publishing an event to a subscriber, the endpoints operators manage, and
the manual re-sends and test pings.

`publish` runs in the caller's transaction (the one that issued the policy, paid the claim…): the
event and its deliveries commit or roll back with the business change, and the delivery job is
enqueued only after the commit. Everything an operator changes is written to the audit chain;
no secret ever is (nor logged).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from huibao.core import audit
from huibao.core.errors import FieldError
from huibao.core.states import check_transition
from huibao.core.taskqueue import Call, enqueue_all
from huibao.webhook import rules
from huibao.webhook.errors import InvalidEndpoint
from huibao.webhook.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from huibao.webhook.selectors import active_endpoints, delivery_by_id, endpoint_by_id
from huibao.webhook.states import DELIVERY_TRANSITIONS, RESENDABLE, DeliveryStatus, EventType
from huibao.webhook.tasks import deliver_webhook

ENDPOINT_OBJ = "webhook_endpoint"
DELIVERY_OBJ = "webhook_delivery"
EVENT_TYPES = frozenset(t.value for t in EventType)
SUBSCRIBER_MAX = 64
REF_MAX = 128


def _enqueue_after_commit(delivery_ids: list[int]) -> None:
    if not delivery_ids:
        return

    def enqueue() -> None:
        calls: list[Call] = [(deliver_webhook, (pk,), {}) for pk in delivery_ids]
        enqueue_all(calls)

    transaction.on_commit(enqueue)


def _payload_json(payload: Mapping[str, Any]) -> str:
    return json.dumps(audit.json_safe(payload), ensure_ascii=False, sort_keys=True)


def _store_event(
    subscriber: str, event_type: str, payload: Mapping[str, Any], ref: str
) -> WebhookEvent | None:
    """The new event, or None when (subscriber, type, ref) was published before."""
    if WebhookEvent.objects.filter(subscriber=subscriber, event_type=event_type, ref=ref).exists():
        return None
    try:
        with transaction.atomic():  # a savepoint: a concurrent publisher's row wins, ours is dropped
            return WebhookEvent.objects.create(
                subscriber=subscriber, event_type=event_type, ref=ref, payload_json=_payload_json(payload)
            )
    except IntegrityError:
        return None


def _deliver(event: WebhookEvent, endpoints: Iterable[WebhookEndpoint]) -> list[WebhookDelivery]:
    now = timezone.now()
    rows = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                event=event,
                endpoint=endpoint,
                subscriber=event.subscriber,
                event_type=event.event_type,
                next_attempt_at=now,
            )
            for endpoint in endpoints
        ]
    )
    _enqueue_after_commit([row.pk for row in rows])
    return rows


def publish(subscriber: str, event_type: str, payload: dict[str, Any], *, ref: str) -> WebhookEvent | None:
    """Announces `event_type` to `subscriber`'s active endpoints that want it, in the caller's
    transaction; the delivery job runs after the commit.

    Returns the new event, or None when nothing was stored: no active endpoint of the subscriber
    wants this type, or the same (subscriber, type, ref) was published before (its deliveries are
    left as they are — an operator re-sends by hand)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    if not subscriber or len(subscriber) > SUBSCRIBER_MAX:
        raise ValueError("subscriber must be 1 to 64 characters")
    if not ref or len(ref) > REF_MAX:
        raise ValueError("ref must be 1 to 128 characters")
    endpoints = [e for e in active_endpoints(subscriber) if e.wants(event_type)]
    if not endpoints:
        return None
    event = _store_event(subscriber, event_type, payload, ref)
    if event is None:
        return None
    _deliver(event, endpoints)
    return event


# --- endpoints -------------------------------------------------------------------------------


def _allow_http() -> bool:
    return bool(getattr(settings, "HUIBAO_WEBHOOK_ALLOW_HTTP", settings.DEBUG))


def _checked(subscriber: str, url: str, event_types: Iterable[str]) -> tuple[str, str, list[str]]:
    errors: list[FieldError] = []
    subscriber = subscriber.strip()
    url = url.strip()
    if not subscriber or len(subscriber) > SUBSCRIBER_MAX:
        errors.append(FieldError("subscriber", "required", _("请填写订阅方代码（不超过64个字符）")))
    parts = urlsplit(url)
    schemes = ("https", "http") if _allow_http() else ("https",)
    if parts.scheme not in schemes or not parts.hostname or len(url) > 500:
        errors.append(FieldError("url", "invalid_url", _("回调地址须为 https:// 开头的完整网址")))
    chosen = sorted(set(event_types))
    if not chosen:
        errors.append(FieldError("event_types", "required", _("请至少选择一种事件类型")))
    elif unknown := [t for t in chosen if t not in EVENT_TYPES or t == EventType.PING]:
        errors.append(
            FieldError(
                "event_types", "unknown", _("未知的事件类型：%(types)s") % {"types": "、".join(unknown)}
            )
        )
    if errors:
        raise InvalidEndpoint(errors[0].message, errors=errors)
    return subscriber, url, chosen


def _shown(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the audit chain keeps of an endpoint: never its secret."""
    return {
        "subscriber": endpoint.subscriber,
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "is_active": endpoint.is_active,
        "description": endpoint.description,
    }


@transaction.atomic
def create_endpoint(
    subscriber: str,
    url: str,
    event_types: Iterable[str],
    *,
    description: str = "",
    actor: Any = None,
    request: HttpRequest | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new active endpoint and its signing secret (returned once: it is stored encrypted and
    never shown again)."""
    subscriber, url, chosen = _checked(subscriber, url, event_types)
    secret = rules.new_secret()
    user = actor if getattr(actor, "pk", None) is not None else None
    endpoint = WebhookEndpoint.objects.create(
        subscriber=subscriber,
        url=url,
        event_types=chosen,
        description=description.strip()[:200],
        secret=secret,
        created_by=user,
        secret_rotated_at=timezone.now(),
    )
    audit.record(
        "webhook.endpoint_created",
        ENDPOINT_OBJ,
        str(endpoint.public_id),
        actor=actor,
        request=request,
        after=_shown(endpoint),
    )
    return endpoint, secret


def _locked(endpoint_id: uuid.UUID | str) -> WebhookEndpoint:
    found = endpoint_by_id(endpoint_id)
    return WebhookEndpoint.objects.select_for_update().get(pk=found.pk)


@transaction.atomic
def update_endpoint(
    endpoint_id: uuid.UUID | str,
    *,
    url: str,
    event_types: Iterable[str],
    description: str = "",
    is_active: bool = True,
    actor: Any = None,
    request: HttpRequest | None = None,
) -> WebhookEndpoint:
    endpoint = _locked(endpoint_id)
    _, url, chosen = _checked(endpoint.subscriber, url, event_types)
    before = _shown(endpoint)
    endpoint.url = url
    endpoint.event_types = chosen
    endpoint.description = description.strip()[:200]
    endpoint.is_active = is_active
    endpoint.save(update_fields=["url", "event_types", "description", "is_active", "updated_at"])
    audit.record(
        "webhook.endpoint_changed",
        ENDPOINT_OBJ,
        str(endpoint.public_id),
        actor=actor,
        request=request,
        before=before,
        after=_shown(endpoint),
    )
    return endpoint


@transaction.atomic
def deactivate_endpoint(
    endpoint_id: uuid.UUID | str, *, actor: Any = None, request: HttpRequest | None = None
) -> WebhookEndpoint:
    """No new deliveries; those pending go dead at their next attempt."""
    endpoint = _locked(endpoint_id)
    if endpoint.is_active:
        endpoint.is_active = False
        endpoint.save(update_fields=["is_active", "updated_at"])
        audit.record(
            "webhook.endpoint_deactivated",
            ENDPOINT_OBJ,
            str(endpoint.public_id),
            actor=actor,
            request=request,
            before={"is_active": True},
            after=_shown(endpoint),
        )
    return endpoint


@transaction.atomic
def rotate_secret(
    endpoint_id: uuid.UUID | str, *, actor: Any = None, request: HttpRequest | None = None
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret, returned once; every attempt from now on is signed with it."""
    endpoint = _locked(endpoint_id)
    secret = rules.new_secret()
    endpoint.secret = secret
    endpoint.secret_rotated_at = timezone.now()
    endpoint.save(update_fields=["secret", "secret_rotated_at", "updated_at"])
    audit.record(
        "webhook.secret_rotated",
        ENDPOINT_OBJ,
        str(endpoint.public_id),
        actor=actor,
        request=request,
        after={"subscriber": endpoint.subscriber, "secret_rotated_at": endpoint.secret_rotated_at},
    )
    return endpoint, secret


# --- re-sends and pings ----------------------------------------------------------------------


def _resend_locked(delivery: WebhookDelivery, *, actor: Any, request: HttpRequest | None) -> None:
    check_transition(DELIVERY_TRANSITIONS, delivery.status, DeliveryStatus.PENDING, what="webhook delivery")
    before = {"status": delivery.status, "attempts": delivery.attempts}
    delivery.status = DeliveryStatus.PENDING
    # A new round of the retry schedule; the attempt log keeps every earlier attempt.
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery.attempt_id = ""
    delivery.save(update_fields=["status", "attempts", "next_attempt_at", "attempt_id", "updated_at"])
    audit.record(
        "webhook.delivery_resent",
        DELIVERY_OBJ,
        str(delivery.public_id),
        actor=actor,
        request=request,
        before=before,
        after={
            "status": delivery.status,
            "subscriber": delivery.subscriber,
            "event_type": delivery.event_type,
        },
    )


@transaction.atomic
def resend(
    delivery_id: uuid.UUID | str, *, actor: Any = None, request: HttpRequest | None = None
) -> WebhookDelivery:
    """ "重新发送": the delivery (failed, dead, or delivered and lost by the partner) is sent again
    now, with the same `Huibao-Webhook-Id`."""
    found = delivery_by_id(delivery_id)
    delivery = WebhookDelivery.objects.select_for_update().get(pk=found.pk)
    if delivery.status not in RESENDABLE:
        return delivery  # pending or being sent: it goes out anyway
    _resend_locked(delivery, actor=actor, request=request)
    _enqueue_after_commit([delivery.pk])
    return delivery


@transaction.atomic
def resend_dead(subscriber: str, *, actor: Any = None, request: HttpRequest | None = None) -> int:
    """Every dead delivery of the subscriber, sent again; returns how many."""
    rows = list(
        WebhookDelivery.objects.select_for_update()
        .filter(subscriber=subscriber, status=DeliveryStatus.DEAD)
        .order_by("id")
    )
    for row in rows:
        _resend_locked(row, actor=actor, request=request)
    _enqueue_after_commit([row.pk for row in rows])
    return len(rows)


@transaction.atomic
def send_ping(
    endpoint_id: uuid.UUID | str, *, actor: Any = None, request: HttpRequest | None = None
) -> WebhookDelivery:
    """A `webhook.ping` event to this endpoint only (whatever types it subscribes to)."""
    endpoint = endpoint_by_id(endpoint_id)
    if not endpoint.is_active:
        raise InvalidEndpoint(
            _("回调地址已停用"), errors=[FieldError("endpoint", "inactive", _("回调地址已停用"))]
        )
    ref = f"ping-{uuid.uuid4().hex}"
    event = WebhookEvent.objects.create(
        subscriber=endpoint.subscriber,
        event_type=EventType.PING,
        ref=ref,
        payload_json=_payload_json({"message": "ping", "endpoint": str(endpoint.public_id)}),
    )
    (delivery,) = _deliver(event, [endpoint])
    audit.record(
        "webhook.ping_sent",
        ENDPOINT_OBJ,
        str(endpoint.public_id),
        actor=actor,
        request=request,
        after={"delivery": str(delivery.public_id), "subscriber": endpoint.subscriber},
    )
    return delivery
