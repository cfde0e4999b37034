"""The same payout requested from several threads at once: one payout, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction

from huibao.core.models import AuditEntry
from huibao.payment import payouts
from huibao.payment.models import Payout
from huibao.payment.tests import payout_factories as f


@pytest.mark.django_db(transaction=True)
def test_the_same_reference_from_many_threads_makes_one_payout() -> None:
    # given: eight callers (a retried task, a double click…) released at once, each in its own
    # transaction, as a claim's approval would call it
    start = threading.Barrier(8)

    def call(_: int) -> int:
        try:
            start.wait()
            with transaction.atomic():
                return f.request("C-RACE", amount="88.00").pk
        finally:
            connection.close()

    # when
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(call, range(8)))
    # then: every caller got the one payout
    assert len(set(ids)) == 1
    assert Payout.objects.filter(kind="test_claim", reference="C-RACE").count() == 1
    assert AuditEntry.objects.filter(action="payout.requested").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_submissions_at_once_send_one_attempt() -> None:
    # given: the queued task and the sweep pick the same payout at the same moment
    p = f.request("C-TWICE")
    start = threading.Barrier(2)

    def submit(_: int) -> str:
        try:
            start.wait()
            return payouts.submit_payout(p.pk)
        finally:
            connection.close()

    # when
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(submit, range(2)))
    # then
    assert outcomes == ["not_due", "submitted"]
    p.refresh_from_db()
    assert p.attempts == 1 and p.attempt_rows.count() == 1
