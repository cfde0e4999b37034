"""The sandbox partner's webhook receiver: what an insurer's or channel's system does with the
platform's webhooks (docs/webhooks.md), so a deployment can show them end to end.

`receive` verifies the signature with the secret of the partner's active endpoints (any one of
them: a partner with several endpoints, or in the middle of a rotation), refuses a stale
timestamp, treats a webhook id already accepted as a duplicate (answered 200, not processed
again), and can be told to fail the next N deliveries (`fail_next`) with a 500, to show the
retries and back-off. Every request is recorded (`SandboxPartnerWebhook`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from huibao.sandbox.models import SandboxPartnerReceiver, SandboxPartnerWebhook
from huibao.webhook import rules
from huibao.webhook.selectors import active_endpoints

BODY_MAX = 20_000
RECENT = 50


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, object]


def _verify(code: str, *, signature: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    """'' when one of the partner's endpoint secrets signs it, else why not."""
    now = int(timezone.now().timestamp())
    problem = "no_endpoint"
    for endpoint in active_endpoints(code):
        problem = (
            rules.verify(
                endpoint.secret,
                header=signature,
                webhook_id=webhook_id,
                timestamp=timestamp,
                body=body,
                now=now,
            )
            or ""
        )
        if not problem:
            return ""
    return problem


def _take_failure(code: str) -> bool:
    with transaction.atomic():
        taken = SandboxPartnerReceiver.objects.filter(code=code, fail_next__gt=0).update(
            fail_next=F("fail_next") - 1
        )
    return bool(taken)


def receive(code: str, *, headers: dict[str, str], body: bytes) -> Answer:
    webhook_id = headers.get("Huibao-Webhook-Id", "")[:64]
    timestamp = headers.get("Huibao-Timestamp", "")[:20]
    signature = headers.get("Huibao-Signature", "")
    problem = _verify(code, signature=signature, webhook_id=webhook_id, timestamp=timestamp, body=body)
    event_type = ""
    if not problem:
        try:
            event_type = str(json.loads(body).get("type", ""))[:64]
        except (ValueError, AttributeError):
            problem = "bad_json"
    duplicate = False
    if problem:
        answer = Answer(401, {"error": problem})
    elif _take_failure(code):
        answer = Answer(500, {"error": "injected_failure"})
    else:
        duplicate = SandboxPartnerWebhook.objects.filter(
            code=code, webhook_id=webhook_id, verified=True, answered=200
        ).exists()
        answer = Answer(200, {"received": True, "duplicate": duplicate})
    SandboxPartnerWebhook.objects.create(
        code=code[:64],
        webhook_id=webhook_id,
        event_type=event_type,
        timestamp=timestamp,
        verified=not problem,
        problem=problem,
        duplicate=duplicate,
        answered=answer.status,
        body=body[:BODY_MAX].decode("utf-8", errors="replace"),
    )
    return answer


def set_fail_next(code: str, count: int) -> SandboxPartnerReceiver:
    receiver, _ = SandboxPartnerReceiver.objects.update_or_create(
        code=code, defaults={"fail_next": max(0, count)}
    )
    return receiver


def fail_next(code: str) -> int:
    return SandboxPartnerReceiver.objects.filter(code=code).values_list("fail_next", flat=True).first() or 0


def received(code: str) -> list[SandboxPartnerWebhook]:
    return list(SandboxPartnerWebhook.objects.filter(code=code).order_by("-received_at", "-id")[:RECENT])
