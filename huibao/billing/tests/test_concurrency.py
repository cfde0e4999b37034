"""Two collectors at once: one charge per instalment (row locks on PostgreSQL; SQLite serialises
its writers)."""

from __future__ import annotations

import datetime
import threading

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from huibao.billing import services
from huibao.billing.models import Collection
from huibao.billing.tests import factories as f
from huibao.payment.models import Payment
from huibao.sandbox.models import SandboxCheckout


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_collectors_charge_once() -> None:
    # given: a monthly schedule whose 2nd instalment is due today
    tz = timezone.get_default_timezone()
    day = datetime.date(2026, 2, 10)
    with time_machine.travel(datetime.datetime(2026, 1, 10, 9, tzinfo=tz), tick=False):
        f.schedule(start=datetime.date(2026, 1, 10))
    barrier = threading.Barrier(2)
    results: list[int] = []

    def collector() -> None:
        try:
            barrier.wait()
            results.append(services.collect_due(day))
        finally:
            connection.close()

    # when
    with time_machine.travel(datetime.datetime(2026, 2, 10, 9, tzinfo=tz), tick=False):
        threads = [threading.Thread(target=collector) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # then
    assert sorted(results) == [0, 1]
    assert Collection.objects.count() == 1
    assert Payment.objects.filter(reference_kind=services.COLLECTION_KIND).count() == 1
    assert SandboxCheckout.objects.filter(merchant_ref__startswith="BL").count() == 1
