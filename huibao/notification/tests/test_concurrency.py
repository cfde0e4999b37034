"""PostgreSQL only (see conftest): workers in threads, each with its own database session."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, transaction

from huibao.notification import sending, services
from huibao.notification.models import OutboxMessage
from huibao.notification.states import OutboxStatus
from huibao.notification.tests.conftest import ISSUED, make_customer

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(fn, results, index):
    try:
        results[index] = fn()
    finally:
        connection.close()


def test_a_row_locked_by_one_worker_is_skipped_not_waited_for():
    # given a pending SMS and a worker holding its row lock
    customer = make_customer()
    sms = services.notify(user=customer, template="policy.issued", context=ISSUED, dedup_key="k:1")[2]
    locked, release = threading.Event(), threading.Event()
    results: dict[int, object] = {}

    def holder():
        with transaction.atomic():
            OutboxMessage.objects.select_for_update().get(pk=sms.pk)
            locked.set()
            release.wait(10)
        return "held"

    first = threading.Thread(target=_in_thread, args=(holder, results, 0))
    first.start()
    assert locked.wait(10)
    # when a second worker tries to claim it (timeout: it must not block)
    second = threading.Thread(target=_in_thread, args=(lambda: sending.claim(sms.pk), results, 1))
    second.start()
    second.join(5)
    alive = second.is_alive()
    release.set()
    first.join(10)
    second.join(10)
    # then it skipped the row at once
    assert not alive
    assert results[1] is None
    sms.refresh_from_db()
    assert sms.status == OutboxStatus.PENDING


def test_four_workers_send_every_message_exactly_once(sms_outbox):
    # given 30 SMS due
    customer = make_customer()
    ids = [
        services.notify(
            user=customer,
            template="service.notice",
            context={"title": "t", "text": f"n{i}"},
            dedup_key=f"notice:{i}",
        )[2].pk
        for i in range(30)
    ]
    start = threading.Barrier(4)
    results: dict[int, object] = {}

    def worker():
        start.wait(10)
        return [pk for pk in ids if sending.send(pk) == OutboxStatus.SENT]

    # when four workers run over the same rows at once
    threads = [threading.Thread(target=_in_thread, args=(worker, results, i)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # then each message reached the gateway once (a worker that met a row another was sending
    # skipped it), and all are sent
    assert set().union(*results.values()) == set(ids)
    texts = Counter(m.text for m in sms_outbox.outbox)
    assert len(texts) == 30 and set(texts.values()) == {1}
    assert OutboxMessage.objects.filter(pk__in=ids, status=OutboxStatus.SENT).count() == 30
