"""Cancelling a premium schedule when its policy is cancelled: unpaid instalments cancelled, a
pending charge left to settle (and given back), the mandate revoked; idempotent."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from huibao.billing import selectors, services
from huibao.billing.models import Collection, PaymentMandate
from huibao.billing.states import CollectionStatus, InstalmentStatus, MandateStatus, ScheduleStatus
from huibao.billing.tests import factories as f
from huibao.core.models import AuditEntry
from huibao.payment.models import Payment
from huibao.payment.states import PaymentStatus

pytestmark = pytest.mark.django_db(transaction=True)
TZ = timezone.get_default_timezone()
START = datetime.date(2026, 1, 10)


def at(d: datetime.date) -> time_machine.travel:
    return time_machine.travel(datetime.datetime(d.year, d.month, d.day, 9, tzinfo=TZ), tick=False)


def statuses(schedule) -> list[str]:
    return list(schedule.instalments.order_by("number").values_list("status", flat=True))


def cancel(schedule, on: datetime.date) -> services.CancelledSchedule:
    with at(on), transaction.atomic():
        return services.cancel_schedule("policy", schedule.reference_id, on)


def test_unpaid_instalments_are_cancelled_and_the_mandate_revoked() -> None:
    # given: a monthly schedule, the second instalment collected
    with at(START):
        schedule = f.schedule(start=START, premium="1200.00")
    with at(datetime.date(2026, 2, 10)):
        services.collect_due(datetime.date(2026, 2, 10))
        f.deliver_owed()
    # when
    result = cancel(schedule, datetime.date(2026, 3, 1))
    # then
    schedule.refresh_from_db()
    assert schedule.status == ScheduleStatus.CANCELLED and schedule.mandate is None
    assert statuses(schedule) == ["paid", "paid"] + ["cancelled"] * 10
    assert result.cancelled == tuple(range(3, 13)) and result.paid == Decimal("200.00")
    assert result.mandate_revoked and result.pending_collections == ()
    assert PaymentMandate.objects.get().status == MandateStatus.REVOKED
    assert AuditEntry.objects.filter(action="billing.schedule_cancelled").count() == 1
    paid = selectors.paid_instalments("policy", schedule.reference_id)
    assert [(p.number, p.amount) for p in paid] == [(1, Decimal("100.00")), (2, Decimal("100.00"))]
    assert paid[0].payment_reference == "HBCHECKOUT1"
    # and: nothing is charged any more
    with at(datetime.date(2026, 3, 10)):
        assert services.collect_due(datetime.date(2026, 3, 10)) == 0


def test_cancelling_again_changes_nothing() -> None:
    with at(START):
        schedule = f.schedule(start=START, premium="1200.00")
    cancel(schedule, datetime.date(2026, 1, 20))
    entries = AuditEntry.objects.count()
    again = cancel(schedule, datetime.date(2026, 1, 21))
    assert again.cancelled == () and not again.mandate_revoked
    assert AuditEntry.objects.count() == entries


def test_a_pending_charge_is_left_to_settle_and_its_money_goes_back() -> None:
    # given: the second instalment's charge is pending at the gateway
    with at(START):
        schedule = f.schedule(start=START, premium="1200.00")
    with at(datetime.date(2026, 2, 10)):
        services.collect_due(datetime.date(2026, 2, 10))
    # when: the policy is cancelled before the gateway answers
    result = cancel(schedule, datetime.date(2026, 2, 10))
    assert len(result.pending_collections) == 1
    assert statuses(schedule)[1] == InstalmentStatus.CANCELLED
    # then: the charge succeeds later, and the money is refunded at once
    with at(datetime.date(2026, 2, 10)):
        f.deliver_owed()
    collection = Collection.objects.get()
    assert collection.status == CollectionStatus.SUCCEEDED
    payment = Payment.objects.get(merchant_ref=collection.out_trade_no)
    assert payment.status == PaymentStatus.REFUNDED
    assert statuses(schedule)[1] == InstalmentStatus.CANCELLED


def test_a_mandate_another_schedule_uses_is_kept() -> None:
    with at(START):
        schedule = f.schedule(start=START, premium="1200.00")
        other = f.schedule(start=START, premium="600.00", with_mandate=False)
        services.attach_mandate(other, schedule.mandate)
    result = cancel(schedule, datetime.date(2026, 1, 20))
    assert not result.mandate_revoked
    assert PaymentMandate.objects.get().status == MandateStatus.ACTIVE


def test_a_reference_without_schedule_has_nothing_to_cancel() -> None:
    with transaction.atomic():
        result = services.cancel_schedule("policy", "P-none", datetime.date(2026, 1, 1))
    assert result.schedule == "" and result.cancelled == ()
