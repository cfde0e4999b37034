"""Fifty identical partner POSTs at once, each signed with its own nonce and all with one
Idempotency-Key: one effect, fifty identical answers. Threads with their own database
sessions: on PostgreSQL the losers wait on the key's unique index until the winner commits;
SQLite serialises the writers. The invariant is asserted either way."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone

from huibao.claim.event_models import TriggeredPayout, TriggerEvent
from huibao.claim.tests.test_limits_concurrency import run_at_once
from huibao.claim.tests.trigger_factories import return_policy
from huibao.core.audit import record
from huibao.core.models import AuditEntry
from huibao.distribution.tests.factories import tree
from huibao.partner.idempotency import run_once
from huibao.partner.models import IdempotencyRecord
from huibao.partner.tests.factories import channel_partner, hmac_client, post
from huibao.payment.models import Payout
from huibao.policy.models import Policy

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 50


def test_fifty_identical_events_at_once_pay_once_and_answer_alike():
    # given
    units = tree()
    creds = hmac_client(channel_partner(units["CH"]), scopes=["events:write"], rate_limit=1000)
    policy = return_policy("ORD-RACE-00001")
    Policy.objects.filter(pk=policy.pk).update(seller=units["CH"])
    body = json.dumps(
        {
            "kind": "return",
            "event_id": "RACE-1",
            "order_number": "ORD-RACE-00001",
            "returned_at": timezone.now().isoformat(),
        }
    ).encode()

    # when
    def send(_i: int) -> tuple[int, dict[str, object]]:
        response = post(Client(), creds, "/api/partner/v1/events", body, key="race-key-1")
        return response.status_code, response.json()

    results = run_at_once(THREADS, send)
    # then
    assert {status for status, _ in results} == {201}, results[:3]
    assert len({json.dumps(answer, sort_keys=True) for _, answer in results}) == 1
    assert TriggerEvent.objects.count() == 1
    assert TriggeredPayout.objects.count() == 1 and Payout.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_the_helper_runs_its_effect_once_under_fifty_threads():
    # given: an effect with no uniqueness of its own (an audit entry per run)
    creds = hmac_client(channel_partner(tree()["CH"]))
    factory = RequestFactory()

    def effect() -> tuple[int, dict[str, str]]:
        token = str(uuid.uuid4())
        record("partner.test_effect", "test", token)
        return 201, {"made": token}

    # when
    def call(_i: int) -> tuple[int, bytes]:
        request = factory.post(
            "/api/partner/v1/things",
            b'{"a": 1}',
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="k-50",
        )
        response = run_once(request, creds.client, effect)
        return response.status_code, response.content

    results = run_at_once(THREADS, call)
    # then
    assert len(set(results)) == 1 and results[0][0] == 201
    assert AuditEntry.objects.filter(action="partner.test_effect").count() == 1
