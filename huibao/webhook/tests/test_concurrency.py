"""PostgreSQL only (see conftest): workers in threads, each with its own database session."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, transaction

from huibao.webhook import sending, services
from huibao.webhook.models import WebhookAttempt, WebhookDelivery
from huibao.webhook.states import DeliveryStatus

from .conftest import make_endpoint

pytestmark = pytest.mark.django_db(transaction=True)


def _run(fn, results, index, barrier=None):
    try:
        if barrier is not None:
            barrier.wait(10)
        results[index] = fn()
    finally:
        connection.close()


def test_two_workers_racing_on_one_delivery_send_it_once(partner):
    # given one due delivery and a partner slow enough that both workers overlap
    partner.delay = 0.3
    make_endpoint("CH001", partner.url, ["policy.issued"])
    services.publish("CH001", "policy.issued", {"n": 1}, ref="P1")
    delivery = WebhookDelivery.objects.get()
    results: dict[int, object] = {}
    barrier = threading.Barrier(2)

    # when two workers run its job at the same moment
    def attempt():
        return sending.send(delivery.pk)

    workers = [threading.Thread(target=_run, args=(attempt, results, i, barrier)) for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(20)
    # then the partner got it once, and one attempt is logged
    assert len(partner.received) == 1
    assert Counter(results.values())[DeliveryStatus.SUCCEEDED] >= 1
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 1


def test_a_delivery_locked_by_one_worker_is_skipped_not_waited_for(partner):
    make_endpoint("CH001", partner.url, ["policy.issued"])
    services.publish("CH001", "policy.issued", {"n": 1}, ref="P1")
    delivery = WebhookDelivery.objects.get()
    locked, release = threading.Event(), threading.Event()
    results: dict[int, object] = {}

    def holder():
        with transaction.atomic():
            WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
            locked.set()
            release.wait(10)
        return "held"

    first = threading.Thread(target=_run, args=(holder, results, 0))
    first.start()
    assert locked.wait(10)
    second = threading.Thread(target=_run, args=(lambda: sending.claim(delivery.pk), results, 1))
    second.start()
    second.join(5)
    alive = second.is_alive()
    release.set()
    first.join(10)
    second.join(10)
    assert not alive and results[1] is None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and partner.received == []


def test_four_workers_sweeping_send_every_delivery_exactly_once(partner):
    make_endpoint("CH001", partner.url, ["policy.issued"])
    for n in range(20):
        services.publish("CH001", "policy.issued", {"n": n}, ref=f"P{n}")
    results: dict[int, object] = {}
    barrier = threading.Barrier(4)

    def sweep():
        return [sending.send(pk) for pk in sending.due_deliveries()]

    workers = [threading.Thread(target=_run, args=(sweep, results, i, barrier)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    ids = Counter(r.headers["Huibao-Webhook-Id"] for r in partner.received)
    assert len(ids) == 20 and set(ids.values()) == {1}
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 20
