"""Events for one flight delivered at once — the same event by several threads, and several
sources — pay each policy once. Threads with their own database sessions: on PostgreSQL they queue
on the key's index-row locks; SQLite serialises writers. The invariant is asserted either way."""

from __future__ import annotations

import pytest
from django.db.models import Count

from huibao.claim.event_models import TriggeredPayout, TriggerEvent
from huibao.claim.events_intake import receive_delivery
from huibao.claim.tests.test_limits_concurrency import run_at_once
from huibao.claim.tests.trigger_factories import (
    KEY,
    SOURCE,
    departure,
    flight_body,
    flight_policy,
    flight_version,
    signed,
)
from huibao.claim.triggers import receive_event
from huibao.claim.triggers_rules import FLIGHT, read_event
from huibao.core.errors import Conflict
from huibao.payment.models import Payout

pytestmark = pytest.mark.django_db(transaction=True)


def _headers(body: bytes) -> dict[str, str]:
    # receive_delivery takes header names as sent (not the test client's HTTP_ form)
    raw = signed(body)
    return {k[5:].replace("_", "-").title(): v for k, v in raw.items()}


def test_the_same_event_delivered_by_eight_threads_pays_each_policy_once(settings):
    # given
    settings.EVENT_SOURCE_KEYS = {SOURCE: KEY}
    version = flight_version()
    policies = [flight_policy(version) for _ in range(4)]
    body = flight_body(policies[0], event_id="SAME-1")

    # when
    def deliver(_i: int) -> object:
        try:
            return receive_delivery(SOURCE, "flight", _headers(body), body).payouts
        except Conflict as exc:  # never expected: each thread signs with its own nonce
            return exc

    results = run_at_once(8, deliver)
    # then
    assert sorted(results) == [0] * 7 + [4]
    assert TriggerEvent.objects.count() == 1
    assert Payout.objects.count() == 4
    assert not TriggeredPayout.objects.values("policy").annotate(n=Count("id")).filter(n__gt=1).exists()


def test_six_sources_reporting_one_flight_at_once_pay_each_policy_once():
    # given
    version = flight_version()
    policies = [flight_policy(version) for _ in range(4)]

    # when
    def report(i: int) -> int:
        event_id, fact, _ = read_event(
            {
                "event_id": f"S{i}",
                "flight_number": "MU5101",
                "flight_date": departure(policies[0]).isoformat(),
                "status": "delayed",
                "delay_minutes": 200 + i,
            },
            FLIGHT,
        )
        assert fact is not None
        return receive_event(source=f"feed{i}", event_id=event_id, fact=fact, payload_sha256=f"h{i}").payouts

    results = run_at_once(6, report)
    # then
    assert sorted(results) == [0] * 5 + [4]
    assert TriggerEvent.objects.count() == 6
    assert Payout.objects.filter(kind="trigger").count() == 4
    assert TriggeredPayout.objects.count() == 4
