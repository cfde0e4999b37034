"""Whether a payment is still open, and whether it ended unpaid: one answer for every caller."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from huibao.payment import selectors
from huibao.payment.models import Payment
from huibao.payment.states import PaymentStatus as P
from huibao.payment.tests import factories as f


@pytest.mark.parametrize(
    ("status", "minutes_left", "is_open"),
    [
        (P.CREATED, 5, True),
        (P.PENDING, 5, True),
        (P.PENDING, -1, False),
        (P.SUCCEEDED, 5, False),
        (P.FAILED, 5, False),
        (P.EXPIRED, 5, False),
        (P.REFUSED, 5, False),
    ],
)
def test_a_payment_is_open_while_created_or_pending_and_not_past_its_time(
    status: str, minutes_left: int, is_open: bool
) -> None:
    now = timezone.now()
    payment = Payment(status=status, expires_at=now + datetime.timedelta(minutes=minutes_left))
    assert selectors.is_open(payment, now=now) is is_open


@pytest.mark.parametrize(
    ("status", "ended"),
    [
        (None, True),
        (P.CREATED, False),
        (P.PENDING, False),
        (P.SUCCEEDED, False),
        (P.FAILED, True),
        (P.EXPIRED, True),
        (P.REFUSED, True),
        (P.REFUNDED, True),
    ],
)
def test_a_payment_ended_unpaid_once_nothing_can_still_confirm_it(status: str | None, ended: bool) -> None:
    assert selectors.ended_unpaid(status) is ended


@pytest.mark.django_db
def test_status_of_reads_the_status_or_none() -> None:
    payment = f.payment()
    assert selectors.status_of(payment.pk) == P.CREATED or selectors.status_of(payment.pk) == P.PENDING
    assert selectors.status_of(None) is None
    assert selectors.status_of(payment.pk + 1000) is None
