"""The shapes of the delivery log the partner API serves: what a partner may read of its own
deliveries (never the secret, the endpoint's internal id or another partner's rows)."""

from __future__ import annotations

from typing import Any

from huibao.core.audit import json_safe
from huibao.webhook.models import WebhookAttempt, WebhookDelivery


def delivery_view(delivery: WebhookDelivery) -> dict[str, Any]:
    return json_safe(
        {
            "id": delivery.public_id,
            "webhook_id": delivery.event.webhook_id,
            "event_type": delivery.event_type,
            "ref": delivery.event.ref,
            "url": delivery.endpoint.url,
            "status": delivery.status,
            "attempts": delivery.attempts,
            "next_attempt_at": delivery.next_attempt_at,
            "last_status_code": delivery.last_status_code,
            "last_error": delivery.last_error,
            "delivered_at": delivery.delivered_at,
            "created_at": delivery.created_at,
        }
    )


def attempt_view(attempt: WebhookAttempt) -> dict[str, Any]:
    return json_safe(
        {
            "number": attempt.number,
            "started_at": attempt.started_at,
            "outcome": attempt.outcome,
            "status_code": attempt.status_code,
            "response_excerpt": attempt.response_excerpt,
            "error": attempt.error,
            "duration_ms": attempt.duration_ms,
        }
    )
