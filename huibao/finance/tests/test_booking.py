"""The booking of an issuance (finance/booking.py): one job per issuance, queued after the
issuing commit with the e-policy and the delivery; idempotent; the sweep books what a lost job
left; a refund or a cancellation that comes before the job books the issuance first."""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from huibao.catalog.models import LineOfBusiness
from huibao.finance import accounts, booking, ledger, postings, tasks
from huibao.finance.models import CommissionEntry, IssuanceBooking, JournalTransaction
from huibao.finance.tests import commission_factories as comf
from huibao.finance.tests.booking_jobs import BookingJobs
from huibao.payment import services as payment_services
from huibao.payment.models import Payment
from huibao.payment.tests import factories as pf
from huibao.policy import cancellation
from huibao.policy.tests import cancel_factories as cf
from huibao.policy.tests import factories as f
from huibao.sandbox import notifications

pytestmark = pytest.mark.django_db
D = Decimal
ISSUED = datetime.date(2026, 3, 1)


@pytest.fixture(autouse=True)
def _gateway_through_the_test_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "http_post", pf.client_transport(Client()))


def _payable(insurer: object) -> Decimal:
    return ledger.balance(accounts.premium_payable(insurer))  # type: ignore[arg-type]


def _sold_with_commission(user: object) -> tuple[object, list[object]]:
    """A product whose insurer pays 30% (net of VAT) and the policy of 1060.00 sold of it,
    paid and issued; its booking job not run."""
    version = f.product_version(line=LineOfBusiness.ACCIDENT)
    comf.plan("in", [{"line": "accident", "rate": "0.30"}], insurer=version.product.insurer)
    with cf.at(ISSUED):
        policies = cf.paid_policies(user, [(version, f.Person(), 500_000, D("1060.00"), {"term": "1y"})])
    return version.product.insurer, policies


def test_the_issuance_queues_one_booking_job_with_its_epolicy_and_delivery_in_one_insert(
    django_capture_on_commit_callbacks,
) -> None:
    # given a policy paid and issued, what its commit would run captured
    with django_capture_on_commit_callbacks(execute=False) as callbacks, cf.at(ISSUED):
        policy = cf.one_policy(f.customer(), premium="320.00")
    payment = Payment.objects.get(reference_kind="application")
    assert not JournalTransaction.objects.exists() and not IssuanceBooking.objects.exists()
    # when it commits
    DBTaskResult.objects.all().delete()
    with CaptureQueriesContext(connection) as committed:
        for callback in callbacks:
            callback()
    # then the policy's jobs and the booking were queued by one insert, the booking among them (the
    # flow's other steps queued theirs by their own commits)
    booking_inserts = [
        q["sql"] for q in committed.captured_queries if "finance.tasks.book_issuance" in q["sql"]
    ]
    assert len(booking_inserts) == 1
    assert "policy.tasks.render_epolicy_task" in booking_inserts[0]
    assert "policy.tasks.deliver_policy" in booking_inserts[0]
    rows = list(
        DBTaskResult.objects.filter(task_path="huibao.finance.tasks.book_issuance").values_list(
            "args_kwargs", flat=True
        )
    )
    assert rows == [{"args": [[policy.pk], payment.merchant_ref], "kwargs": {}}]
    # and the job, run as the worker runs it, books the premium once
    assert tasks.book_issuance.call([policy.pk], payment.merchant_ref) == 1
    assert tasks.book_issuance.call([policy.pk], payment.merchant_ref) == 0
    assert _payable(policy.insurer) == D("320.00")
    assert IssuanceBooking.objects.filter(policy=policy).count() == 1


def test_the_job_books_premium_and_commission_together_and_a_rerun_books_nothing(
    booking_jobs: BookingJobs,
) -> None:
    # given a policy paid and issued whose job is queued, not run
    insurer, policies = _sold_with_commission(f.customer())
    policy = policies[0]
    assert len(booking_jobs.queued) == 1
    assert not CommissionEntry.objects.exists() and not JournalTransaction.objects.exists()
    # when the worker runs it, and runs it again (a retry after a lost acknowledgement)
    again = list(booking_jobs.queued)
    assert booking_jobs.run() == 1
    booking_jobs.queued = again
    transactions = JournalTransaction.objects.count()
    assert booking_jobs.run() == 0
    # then premium 1060 payable to the insurer, commission 300 receivable, each once
    assert _payable(insurer) == D("1060.00")
    assert ledger.balance(accounts.commission_receivable(insurer)) == D("300.00")
    assert JournalTransaction.objects.count() == transactions == 2
    assert list(CommissionEntry.objects.values_list("key", flat=True)) == [
        f"commission:issued:{policy.number}:inbound"
    ]
    # and the booking dates are the sale's, whenever the worker ran
    assert set(JournalTransaction.objects.values_list("posted_on", flat=True)) == {ISSUED}


def test_the_sweep_books_an_issuance_whose_job_never_ran_once_it_is_overdue() -> None:
    # given a policy paid and issued whose job was lost (the worker killed)
    insurer, policies = _sold_with_commission(f.customer())
    issued_at = policies[0].issued_at
    # when the sweep runs before the job is overdue, then at its time, then again
    early = booking.book_unbooked(now=issued_at + booking.SWEEP_AFTER - datetime.timedelta(seconds=1))
    late = booking.book_unbooked(now=issued_at + booking.SWEEP_AFTER + datetime.timedelta(seconds=1))
    again = booking.book_unbooked(now=issued_at + datetime.timedelta(days=1))
    # then it waited for the job, then booked it (the payment found from the policy), once
    assert (early, late, again) == (0, 1, 0)
    assert _payable(insurer) == D("1060.00")
    assert ledger.balance(accounts.commission_receivable(insurer)) == D("300.00")
    assert booking.unbooked(issued_before=timezone.now() + datetime.timedelta(days=1)) == []


def test_the_sweep_splits_an_applications_payment_over_its_policies_as_the_job_would() -> None:
    # given two policies of one payment whose job never ran
    v1, v2 = f.product_version(), f.product_version()
    with cf.at(ISSUED):
        policies = cf.paid_policies(
            f.customer(),
            [
                (v1, f.Person(), 500_000, D("320.00"), {"term": "1y"}),
                (v2, f.Person(name="李四"), 500_000, D("99.90"), {"term": "1y"}),
            ],
        )
    payment = Payment.objects.get(reference_kind="application")
    # when the sweep books them
    assert booking.book_unbooked(now=timezone.now() + datetime.timedelta(days=1)) == 2
    # then each policy has its share of the payment
    assert _payable(policies[0].insurer) == D("320.00") and _payable(policies[1].insurer) == D("99.90")
    assert JournalTransaction.objects.filter(key__startswith=postings.premium_key(payment.pk)).count() == 2


def test_a_partial_refund_before_the_job_ran_is_booked_against_the_premium() -> None:
    # given a policy of 320.00 whose job has not run yet
    with cf.at(ISSUED):
        policy = cf.one_policy(f.customer(), premium="320.00")
    payment = Payment.objects.get(reference_kind="application")
    # when 100.00 of it is refunded
    payment_services.refund(payment, D("100.00"), "部分退款", policy_id=policy.pk)
    # then the premium was booked first, and the refund against it (not as money never premium)
    assert _payable(policy.insurer) == D("220.00") and ledger.balance(accounts.cash()) == D("220.00")
    assert not JournalTransaction.objects.filter(key=postings.receipt_key(payment.pk)).exists()
    assert ledger.balance(accounts.refunds_payable()) == 0
    # and the job, when it runs at last, books nothing twice
    assert booking.book_issuance([policy.pk], payment_ref=payment.merchant_ref) == 0
    assert _payable(policy.insurer) == D("220.00")


def test_a_cancellation_before_the_job_ran_claws_back_what_the_issuance_earned() -> None:
    # given a policy with 300.00 commission whose job has not run yet
    insurer, policies = _sold_with_commission(f.customer())
    policy = policies[0]
    # when it is cancelled in its cooling-off period (the event of a real, confirmed cancellation)
    confirmed = cf.confirmed_cooling_off(policy, D("1060.00"))
    cancellation.cancellation_confirmed.announce(
        cancellation.CancellationConfirmed(
            policy=policy,
            cancellation=confirmed,
            refund=D("1060.00"),
            paid=D("1060.00"),
            in_cooling_off=True,
            on=timezone.localdate(),
        )
    )
    # then the issuance was booked first and all of it clawed back
    amounts = dict(CommissionEntry.objects.values_list("event", "amount"))
    assert amounts == {"issued": D("300.00"), "cancellation": D("-300.00")}
    assert ledger.balance(accounts.commission_receivable(insurer)) == 0


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite lets one writer at a time hold the database"
)
@pytest.mark.django_db(transaction=True)
def test_two_workers_running_the_same_booking_at_once_book_it_once() -> None:
    # given a paid policy with commission whose job was delivered to two workers
    insurer, policies = _sold_with_commission(f.customer())
    payment = Payment.objects.get(reference_kind="application")
    barrier = threading.Barrier(2)
    got: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            got.append(booking.book_issuance([policies[0].pk], payment_ref=payment.merchant_ref))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    # when both run it at once
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then one booked it (the other waited on the policy's lock and found it booked)
    assert errors == [] and sorted(got) == [0, 1]
    assert IssuanceBooking.objects.count() == 1 and CommissionEntry.objects.count() == 1
    assert _payable(insurer) == D("1060.00")
    assert ledger.balance(accounts.commission_receivable(insurer)) == D("300.00")
