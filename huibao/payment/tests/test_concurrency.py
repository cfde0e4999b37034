"""Duplicate notifications arriving at the same time: exactly one confirmation, one hook call."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from huibao.payment import services
from huibao.payment.models import Payment
from huibao.payment.states import PaymentStatus
from huibao.payment.tests import factories as f


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_duplicate_successes_give_exactly_one_hook_call() -> None:
    # given: one pending payment and 50 copies of its success notification — 25 retries of one
    # notification and 25 re-sends under new notify ids — all released at once
    calls: list[int] = []

    def hook(payment: Payment) -> None:
        calls.append(payment.pk)

    services.register_paid_hook("test_order", hook)
    try:
        p = f.payment()
        first = f.notification(p)
        copies = [first] * 25 + [f.notification(p) for _ in range(25)]

        def deliver(copy: tuple[dict[str, str], bytes]) -> services.NotificationOutcome:
            try:
                return services.handle_notification("sandbox", *copy)
            finally:
                connection.close()

        # when
        with ThreadPoolExecutor(max_workers=10) as pool:
            outcomes = list(pool.map(deliver, copies))
    finally:
        services.unregister_paid_hook("test_order", hook)

    # then: every copy is acknowledged, one confirmed the payment, the hook ran once
    assert all(o.acknowledge for o in outcomes), [o.code for o in outcomes if not o.acknowledge]
    assert [o.code for o in outcomes].count("succeeded") == 1
    assert calls == [p.pk]
    p.refresh_from_db()
    assert p.status == PaymentStatus.SUCCEEDED
    assert p.events.filter(to_status=PaymentStatus.SUCCEEDED).count() == 1
