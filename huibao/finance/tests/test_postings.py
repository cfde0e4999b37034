"""Postings from real events: an application's payment (one policy, several), an instalment, an
endorsement's extra premium, a cancellation's refund, a refused payment, the insurer collecting
itself; hooks delivered twice; the backfill."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.test import Client

from huibao.application.selectors import REFERENCE_KIND as APPLICATION_KIND
from huibao.billing import services as billing_services
from huibao.distribution.models import AgencyEntity, AgreementStatus, InsurerAgreement, PremiumCollector
from huibao.finance import accounts, booking, ledger, postings
from huibao.finance.models import JournalLine, JournalTransaction
from huibao.finance.tests.booking_jobs import BookingJobs, run_booking_jobs
from huibao.payment import services as payment_services
from huibao.payment.models import Payment, Refund
from huibao.payment.states import PaymentStatus
from huibao.payment.tests import factories as pf
from huibao.policy import endorsements
from huibao.policy import services as policy_services
from huibao.policy.models import Policy
from huibao.policy.tests import cancel_factories as cf
from huibao.policy.tests import factories as f
from huibao.renewal.services import PAYMENT_KIND as RENEWAL_KIND
from huibao.sandbox import notifications
from huibao.sandbox.models import SandboxCheckout

pytestmark = pytest.mark.django_db
D = Decimal
ISSUED = datetime.date(2026, 3, 1)


@pytest.fixture(autouse=True)
def _gateway_through_the_test_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "http_post", pf.client_transport(Client()))


def _lines(key: str) -> list[tuple[str, Decimal, Decimal, int | None]]:
    return [
        (line.account.code, line.debit, line.credit, line.policy_id)
        for line in JournalLine.objects.filter(transaction__key=key).select_related("account").order_by("id")
    ]


def _payable(policy: Policy) -> Decimal:
    return ledger.balance(accounts.premium_payable(policy.insurer))


def test_the_reference_kinds_are_their_owners() -> None:
    assert postings.APPLICATION_KIND == APPLICATION_KIND
    assert postings.RENEWAL_KIND == RENEWAL_KIND
    assert postings.ENDORSEMENT_KIND == endorsements.REFERENCE_KIND
    assert postings.INSTALMENT_KIND == billing_services.COLLECTION_KIND
    assert postings.CHECKOUT_KIND == billing_services.CHECKOUT_KIND


def test_an_applications_payment_is_premium_payable_to_the_insurer_on_its_policy() -> None:
    # given: a policy of 320.00 paid at checkout and issued by the paid hook
    with cf.at(ISSUED):
        policy = cf.one_policy(f.customer(), premium="320.00")
    payment = Payment.objects.get(reference_kind="application")
    key = postings.premium_key(payment.pk, policy.pk)
    # nothing is booked in the issuing transaction: its booking job is
    assert not JournalTransaction.objects.exists()
    # when the worker runs the job (a day later: the dates are the payment's)
    with cf.at(ISSUED + datetime.timedelta(days=1)):
        assert run_booking_jobs() == 1
    # then
    code = f"premium_payable:insurer:{policy.insurer.code}"
    assert _lines(key) == [("cash", D("320.00"), D("0"), policy.pk), (code, D("0"), D("320.00"), policy.pk)]
    txn = JournalTransaction.objects.get(key=key)
    assert txn.posted_on == ISSUED
    assert _payable(policy) == D("320.00") and ledger.balance(accounts.cash()) == D("320.00")


def test_several_policies_of_one_payment_are_split_per_policy() -> None:
    # given: two items of two products (two insurers) in one application
    v1 = f.product_version()
    v2 = f.product_version()
    with cf.at(ISSUED):
        policies = cf.paid_policies(
            f.customer(),
            [
                (v1, f.Person(), 500_000, D("320.00"), {"term": "1y"}),
                (v2, f.Person(name="李四"), 500_000, D("99.90"), {"term": "1y"}),
            ],
        )
        assert run_booking_jobs() == 2  # one job for the issuance, both policies
    payment = Payment.objects.get(reference_kind="application")
    assert payment.amount == D("419.90")
    # then: one transaction per policy, summing to the payment
    amounts = {
        p.pk: JournalLine.objects.get(
            transaction__key=postings.premium_key(payment.pk, p.pk), credit__gt=0
        ).credit
        for p in policies
    }
    assert amounts == {policies[0].pk: D("320.00"), policies[1].pk: D("99.90")}
    assert ledger.balance(accounts.cash()) == payment.amount


def test_the_hook_delivered_twice_posts_once(booking_jobs: BookingJobs) -> None:
    with cf.at(ISSUED):
        policy = cf.one_policy(f.customer(), premium="320.00")
        run_booking_jobs()
    payment = Payment.objects.get(reference_kind="application")
    before = JournalTransaction.objects.count()
    # when: issuance announced again and its job run again, the backfill run, the sweep run, the
    # poster called directly
    issued = policy_services.IssuedPolicy(policy=policy, parties=(), subject=())
    policy_services.policies_issued.announce(
        policy_services.PoliciesIssued(issued=(issued,), payment_ref=payment.merchant_ref)
    )
    assert len(booking_jobs.queued) == 1
    assert run_booking_jobs() == 0
    assert booking.book_issuance([policy.pk]) == 0
    assert booking.book_unbooked(after=datetime.timedelta(0)) == 0
    postings.backfill()
    postings.post_application_premium(payment, [policy])
    # then
    assert JournalTransaction.objects.count() == before
    assert _payable(policy) == D("320.00")


def test_an_instalment_collected_is_premium_on_its_own_payment() -> None:
    # given: a monthly policy (the first month paid at checkout), then one month collected
    with cf.at(ISSUED):
        policy = cf.one_policy(f.customer(), premium="1200.00", mode="monthly")
        run_booking_jobs()
    checkout = Payment.objects.get(reference_kind="application")
    first = JournalLine.objects.get(
        transaction__key=postings.premium_key(checkout.pk, policy.pk), credit__gt=0
    )
    # when
    cf.collect_instalments(policy, 1)
    # then
    collected = Payment.objects.get(reference_kind=postings.INSTALMENT_KIND, status=PaymentStatus.SUCCEEDED)
    assert _lines(postings.premium_key(collected.pk))[1][1:] == (D("0"), collected.amount, policy.pk)
    assert _payable(policy) == first.credit + collected.amount == checkout.amount + collected.amount


def test_a_cancellation_refund_gives_the_premium_back_to_the_cash() -> None:
    # given: a policy of 320.00, cancelled in its cooling-off period
    from huibao.policy import cancellation as svc

    user = f.customer()
    with cf.at(ISSUED):
        policy = cf.one_policy(user, premium="320.00")
    on = datetime.date(2026, 3, 10)
    with cf.at(on):
        policy_services.update_policy_statuses()
        c = svc.request_cancellation(policy, user=user, reason="no_longer_needed")
        c = svc.confirm(c, user=user, code=cf.sms_code())
        svc.refund(c.pk)
    # then
    refund = Refund.objects.get()
    code = f"premium_payable:insurer:{policy.insurer.code}"
    assert _lines(postings.refund_key(refund.pk)) == [
        (code, D("320.00"), D("0"), policy.pk),
        ("cash", D("0"), D("320.00"), policy.pk),
    ]
    assert JournalTransaction.objects.get(key=postings.refund_key(refund.pk)).posted_on == on
    assert _payable(policy) == 0 and ledger.balance(accounts.cash()) == 0
    assert ledger.balance(accounts.cash(), on=on - datetime.timedelta(days=1)) == D("320.00")


def test_a_refund_for_one_of_several_policies_is_booked_against_that_policy() -> None:
    v1 = f.product_version()
    v2 = f.product_version()
    with cf.at(ISSUED):
        policies = cf.paid_policies(
            f.customer(),
            [
                (v1, f.Person(), 500_000, D("320.00"), {"term": "1y"}),
                (v2, f.Person(name="李四"), 500_000, D("99.90"), {"term": "1y"}),
            ],
        )
    payment = Payment.objects.get(reference_kind="application")
    # when: 99.90 refunded for the second policy
    refund = payment_services.refund(payment, D("99.90"), "退保", policy_id=policies[1].pk)
    # then
    assert _lines(postings.refund_key(refund.pk))[0][1:] == (D("99.90"), D("0"), policies[1].pk)
    assert _payable(policies[0]) == D("320.00") and _payable(policies[1]) == 0


def test_a_refused_payment_passes_through_refunds_payable() -> None:
    # given: an application's payment paid by someone else's card (refused, refunded at once)
    p = pf.payment(kind="application", ref=str(uuid.uuid4()))
    SandboxCheckout.objects.filter(txn_id=p.provider_txn_id).update(status="paid")
    payment_services.handle_notification(
        "sandbox", *pf.notification(p, payer_name="李四", payer_id=pf.OTHER_ID)
    )
    p.refresh_from_db()
    assert p.status == PaymentStatus.REFUSED
    refund = Refund.objects.get(payment=p)
    # then: in and out through refunds payable, no premium
    assert _lines(postings.receipt_key(p.pk)) == [
        ("cash", D("128.50"), D("0"), None),
        ("refunds_payable", D("0"), D("128.50"), None),
    ]
    assert _lines(postings.refund_key(refund.pk)) == [
        ("refunds_payable", D("128.50"), D("0"), None),
        ("cash", D("0"), D("128.50"), None),
    ]
    assert ledger.balance(accounts.cash()) == 0 and ledger.balance(accounts.refunds_payable()) == 0
    assert not JournalTransaction.objects.filter(key__startswith="premium:").exists()


def test_nothing_is_posted_when_the_insurer_collects_the_premium() -> None:
    # given: the insurer's active agreement says it collects the premium itself
    version = f.product_version()
    agency = AgencyEntity.objects.create(
        code="hb", name="汇保代理", licence_number="L1", licence_lines=["health"]
    )
    agreement = InsurerAgreement.objects.create(
        number="XY-1",
        agency=agency,
        insurer=version.product.insurer,
        status=AgreementStatus.ACTIVE,
        lines=[version.product.line],
        valid_from=datetime.date(2026, 1, 1),
        premium_collector=PremiumCollector.INSURER,
    )
    # when
    with cf.at(ISSUED):
        cf.paid_policies(f.customer(), [(version, f.Person(), 500_000, D("320.00"), {"term": "1y"})])
    # then
    assert not JournalTransaction.objects.exists()
    # and with the agency collecting, the same sale is booked
    InsurerAgreement.objects.filter(pk=agreement.pk).update(premium_collector=PremiumCollector.AGENCY)
    assert postings.backfill().premium == 1
    assert JournalLine.objects.aggregate(s=Sum("credit"))["s"] == D("320.00")


def test_the_backfill_posts_what_the_hooks_missed_once() -> None:
    # given: a payment whose booking job never ran
    with cf.at(ISSUED):
        policy = cf.one_policy(f.customer(), premium="320.00")
    assert not JournalTransaction.objects.exists()
    # when
    first = postings.backfill()
    second = postings.backfill()
    # then
    assert (first.premium, second.premium) == (1, 0)
    assert _payable(policy) == D("320.00")


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        ("419.90", ["320.00", "99.90"], ["320.00", "99.90"]),  # already exact
        ("100.00", ["1", "1", "1"], ["33.34", "33.33", "33.33"]),  # the fen on the largest (first)
        ("10.00", ["0", "0"], ["10.00", "0.00"]),
        ("0.01", ["5", "5"], ["0.00", "0.01"]),  # both round up: the excess fen off the first
    ],
)
def test_allocate_sums_to_the_total(total: str, weights: list[str], parts: list[str]) -> None:
    result = postings.allocate(D(total), [D(w) for w in weights])
    assert result == [D(p) for p in parts] and sum(result) == D(total)


def test_an_endorsements_extra_premium_is_booked_when_applied(
    settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huibao.account.sms import reset_sms_backends
    from huibao.policy.tests import endorsement_factories as ef
    from huibao.policy.tests.test_endorsement_rules import rid
    from huibao.rating.services import clear_cache

    settings.SMS_BACKEND = "huibao.account.sms.ConsoleSmsBackend"  # type: ignore[attr-defined]
    reset_sms_backends()
    clear_cache()
    # given: a covered policy whose insured's age correction costs more premium
    policy = ef.covered_policy(
        pricing=ef.AGE_PRICING,
        quote_inputs={"birth_date": "1996-01-15", "start_date": "2026-01-01"},
        premium="560.00",
    )
    e = endorsements.request_endorsement(
        policy, "insured_correction", {"id_number": rid("1986-01-15", 12)}, actor=policy.customer
    )
    ef.confirm(e, policy.customer)
    # when: the delta is paid
    payment = ef.pay_delta(e)
    e.refresh_from_db()
    # then
    assert e.status == "applied" and payment.amount == e.premium_delta > 0
    assert _lines(postings.premium_key(payment.pk))[1][1:] == (D("0"), payment.amount, policy.pk)
    assert _payable(policy) == payment.amount  # the checkout was not a real payment here
    reset_sms_backends()


def test_a_reinstatement_books_every_premium_it_collects(settings) -> None:
    # given: a monthly policy (month 1 paid at checkout) whose schedule lapsed with months 2 and 3
    # unpaid
    from huibao.billing.models import PremiumSchedule
    from huibao.billing.states import InstalmentStatus, ScheduleStatus
    from huibao.billing.tests import factories as billing_factories

    with cf.at(ISSUED):
        policy = cf.one_policy(f.customer(), premium="1200.00", mode="monthly")
        run_booking_jobs()
    schedule = PremiumSchedule.objects.get(reference_kind="policy", reference_id=policy.number)
    billing_services.attach_mandate(schedule, billing_factories.mandate(policy.customer_id))
    due = dict(schedule.instalments.values_list("number", "due_on"))
    schedule.instalments.filter(number__in=(2, 3)).update(status=InstalmentStatus.OVERDUE)
    PremiumSchedule.objects.filter(pk=schedule.pk).update(status=ScheduleStatus.LAPSED, lapsed_on=due[2])
    schedule.refresh_from_db()
    payable_before = _payable(policy)
    # when: reinstated on the day month 3 fell due, the card has funds
    settings.SANDBOX_MANDATE_FAILURE_RATE = 0.0
    with cf.at(due[3]):
        quote = billing_services.reinstatement_quote(schedule, due[3])
        billing_services.reinstate(schedule, due[3])
        billing_factories.deliver_owed()
    # then: each premium collected is booked, owed to the insurer, on its own payment
    assert quote.numbers == (2, 3)
    collected = Payment.objects.filter(
        reference_kind=postings.INSTALMENT_KIND, status=PaymentStatus.SUCCEEDED
    )
    assert collected.count() == 2
    for payment in collected:
        assert _lines(postings.premium_key(payment.pk))[1][1:] == (D("0"), payment.amount, policy.pk)
    assert _payable(policy) == payable_before + quote.amount
