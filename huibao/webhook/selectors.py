"""Reads: the delivery log of a subscriber (what the partner API serves), the operators' log
with its filters, endpoints and attempts. A partner reaches only its own subscriber's rows:
every read here takes the subscriber first."""

from __future__ import annotations

import datetime
import uuid

from django.db.models import QuerySet

from huibao.webhook.errors import DeliveryNotFound, EndpointNotFound
from huibao.webhook.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def deliveries_for(
    subscriber: str,
    *,
    status: str | None = None,
    event_type: str | None = None,
    since: datetime.datetime | None = None,
    before_id: int | None = None,
) -> QuerySet[WebhookDelivery]:
    """The subscriber's deliveries, newest first, with their event and endpoint loaded."""
    rows = WebhookDelivery.objects.filter(subscriber=subscriber).select_related("event", "endpoint")
    if status:
        rows = rows.filter(status=status)
    if event_type:
        rows = rows.filter(event_type=event_type)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if before_id is not None:
        rows = rows.filter(pk__lt=before_id)
    return rows.order_by("-created_at", "-id")


def delivery_for(subscriber: str, public_id: uuid.UUID | str) -> WebhookDelivery:
    """One delivery of the subscriber (404 for another's, as for one that does not exist)."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise DeliveryNotFound("no such webhook delivery") from None
    row = deliveries_for(subscriber).filter(public_id=key).first()
    if row is None:
        raise DeliveryNotFound("no such webhook delivery")
    return row


def attempts_of(delivery: WebhookDelivery) -> QuerySet[WebhookAttempt]:
    return WebhookAttempt.objects.filter(delivery_id=delivery.pk).order_by("number")


def delivery_log(
    *, subscriber: str = "", status: str = "", event_type: str = ""
) -> QuerySet[WebhookDelivery]:
    """The operators' log over every subscriber, with the back office's filters."""
    rows = WebhookDelivery.objects.select_related("event", "endpoint")
    if subscriber:
        rows = rows.filter(subscriber=subscriber)
    if status:
        rows = rows.filter(status=status)
    if event_type:
        rows = rows.filter(event_type=event_type)
    return rows.order_by("-created_at", "-id")


def delivery_by_id(public_id: uuid.UUID | str) -> WebhookDelivery:
    """Operators only: any delivery."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise DeliveryNotFound("no such webhook delivery") from None
    row = WebhookDelivery.objects.select_related("event", "endpoint").filter(public_id=key).first()
    if row is None:
        raise DeliveryNotFound("no such webhook delivery")
    return row


def endpoints_for(subscriber: str) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(subscriber=subscriber).order_by("-is_active", "id")


def endpoint_by_id(public_id: uuid.UUID | str) -> WebhookEndpoint:
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise EndpointNotFound("no such webhook endpoint") from None
    row = WebhookEndpoint.objects.filter(public_id=key).first()
    if row is None:
        raise EndpointNotFound("no such webhook endpoint")
    return row


def subscribers() -> list[str]:
    """Every subscriber with an endpoint, for the operators' filter."""
    return sorted(set(WebhookEndpoint.objects.values_list("subscriber", flat=True)))


def active_endpoints(subscriber: str) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(subscriber=subscriber, is_active=True).order_by("id")
