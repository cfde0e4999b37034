"""Two confirmations of one cancellation at the same time (a double tap, a retry): one
confirmation, one refund; two refund workers at once: one refund."""

from __future__ import annotations

import datetime
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from huibao.account.errors import CodeError
from huibao.core.models import AuditEntry
from huibao.payment.models import Payment, Refund
from huibao.payment.tests.factories import client_transport
from huibao.policy import cancellation as svc
from huibao.policy.models import Cancellation, CancellationRefund
from huibao.policy.states import CancellationStatus, PolicyStatus
from huibao.policy.tests import cancel_factories as cf
from huibao.policy.tests import factories as f
from huibao.sandbox import notifications


@pytest.fixture(autouse=True)
def _gateway_through_the_test_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "http_post", client_transport(Client()))


@pytest.mark.django_db(transaction=True)
def test_two_confirmations_at_once_give_one_cancellation_and_one_refund() -> None:
    # given: a requested cancellation and its code
    user = f.customer()
    with cf.at(datetime.date(2026, 3, 1)):
        policy = cf.one_policy(user, premium="320.00")
    with cf.at(datetime.date(2026, 3, 5)):
        c = svc.request_cancellation(policy, user=user, reason="no_longer_needed")
        code = cf.sms_code()

        def confirm(_: int) -> Any:
            try:
                return svc.confirm(Cancellation.objects.get(pk=c.pk), user=user, code=code)
            except CodeError as exc:  # the other one used the code and had not finished yet
                return exc
            finally:
                connection.close()

        def refund(_: int) -> str:
            try:
                return svc.refund(c.pk)
            finally:
                connection.close()

        # when: confirmed twice at once, then refunded by two workers at once
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(confirm, range(2)))
        with ThreadPoolExecutor(max_workers=2) as pool:
            refunds = list(pool.map(refund, range(2)))

    # then: at least one confirmation answered the cancellation; only one was made
    confirmed = [r for r in results if isinstance(r, Cancellation)]
    assert confirmed and all(r.pk == c.pk for r in confirmed)
    assert AuditEntry.objects.filter(action="policy.cancellation_confirmed").count() == 1
    assert CancellationRefund.objects.count() == 1
    assert Refund.objects.count() == 1
    assert CancellationStatus.COMPLETED in refunds
    c.refresh_from_db()
    policy.refresh_from_db()
    assert c.status == CancellationStatus.COMPLETED and c.refunded == c.amount
    assert policy.status == PolicyStatus.CANCELLED_COOLING_OFF
    assert Payment.objects.get(reference_kind="application").refunded_amount == c.amount
