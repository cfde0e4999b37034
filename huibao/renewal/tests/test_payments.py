"""Accept and pay issues exactly one renewal policy (retries, a second payment refunded);
automatic renewal: success, failure then retry within grace, failure past grace → not renewed."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from huibao.billing.tests.factories import deliver_owed, mandate
from huibao.core.errors import Conflict
from huibao.notification.models import OutboxMessage
from huibao.payment.models import Payment
from huibao.payment.tests.factories import DECLINED_CARD
from huibao.policy.models import Policy, PolicyBeneficiary, PolicyParty
from huibao.policy.states import PolicyStatus
from huibao.renewal import services
from huibao.renewal.models import RenewalOffer
from huibao.renewal.states import OfferStatus
from huibao.renewal.tests.factories import expiry_date, pay_at_cashier, renewable_policy
from huibao.sandbox import payment as sandbox_payment

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def _at(day: datetime.date, hour: int = 9):
    return time_machine.travel(
        timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour))), tick=False
    )


def offered(**kwargs) -> RenewalOffer:
    policy = renewable_policy(**kwargs)
    day = expiry_date(policy) - datetime.timedelta(days=30)
    with _at(day):
        services.make_offers(day)
    return RenewalOffer.objects.get(policy=policy)


def renew_now(offer: RenewalOffer) -> Policy:
    with _at(offer.offered_on):
        payment = services.accept(offer, user=offer.customer)
        pay_at_cashier(payment, offer.policy)
    offer.refresh_from_db()
    assert offer.renewal_policy is not None
    return offer.renewal_policy


def test_accept_and_pay_issues_one_renewal_policy_copying_the_parties():
    offer = offered()
    policy = offer.policy
    with _at(offer.offered_on):
        payment = services.accept(offer, user=offer.customer)
        again = services.accept(offer, user=offer.customer)  # a retried tap: the same payment
        assert again.pk == payment.pk
        assert offer.status == OfferStatus.ACCEPTED
        assert payment.amount == Decimal("300.00")
        pay_at_cashier(payment, policy)
    offer.refresh_from_db()
    assert offer.status == OfferStatus.RENEWED
    renewal = offer.renewal_policy
    assert renewal.renewed_from_id == policy.pk
    assert renewal.number != policy.number
    assert renewal.application_id is None and renewal.item_id is None
    assert renewal.premium == Decimal("300.00")
    assert renewal.effective_at == policy.expires_at
    assert renewal.status == PolicyStatus.PENDING_START
    assert renewal.customer_id == policy.customer_id
    old = {p.role: (p.name, p.id_number, p.birth_date) for p in PolicyParty.objects.filter(policy=policy)}
    new = {p.role: (p.name, p.id_number, p.birth_date) for p in PolicyParty.objects.filter(policy=renewal)}
    assert new == old
    assert (
        PolicyBeneficiary.objects.filter(policy=renewal).count()
        == PolicyBeneficiary.objects.filter(policy=policy).count()
    )
    assert Policy.objects.filter(renewed_from=policy).count() == 1
    assert (
        OutboxMessage.objects.filter(
            template="renewal.renewed", channel="inbox", user=policy.customer
        ).count()
        == 1
    )
    # Paying is over: a new acceptance is refused.
    with _at(offer.offered_on), pytest.raises(Conflict):
        services.accept(offer, user=offer.customer)


def test_a_second_payment_of_a_renewed_offer_is_refunded_and_issues_nothing(
    django_capture_on_commit_callbacks,
):
    offer = offered()
    with _at(offer.offered_on):
        first = services.accept(offer, user=offer.customer)
        # a second checkout opened meanwhile (e.g. another device, after the first expired)
        Payment.objects.filter(pk=first.pk).update(expires_at=timezone.now())
        second = services.accept(offer, user=offer.customer)
        assert second.pk != first.pk
        Payment.objects.filter(pk=first.pk).update(expires_at=timezone.now() + datetime.timedelta(minutes=5))
        pay_at_cashier(first, offer.policy)
        with django_capture_on_commit_callbacks(execute=True):
            pay_at_cashier(second, offer.policy)
    assert Policy.objects.filter(renewed_from=offer.policy).count() == 1
    second.refresh_from_db()
    assert second.refunds.get().amount == Decimal("300.00")


def test_decline_closes_the_offer():
    offer = offered()
    services.decline(offer, user=offer.customer)
    offer.refresh_from_db()
    assert offer.status == OfferStatus.DECLINED
    with pytest.raises(Conflict):
        services.accept(offer, user=offer.customer)


def _auto(offer: RenewalOffer, card: str | None = None) -> RenewalOffer:
    if card is not None:
        mandate(offer.customer_id, card=card)
        return services.set_auto_renew(offer, user=offer.customer, on=True, today=offer.offered_on)
    return services.set_auto_renew(
        offer, user=offer.customer, on=True, card_number="4242424242424242", today=offer.offered_on
    )


def test_auto_renewal_charges_on_the_last_day_and_renews():
    offer = _auto(offered())
    assert offer.auto_renew and offer.mandate is not None
    last_day = offer.expires_on - DAY
    with _at(last_day - DAY):
        assert services.auto_renew(last_day - DAY) == 0  # not yet
    with _at(last_day):
        assert services.auto_renew(last_day) == 1
        assert services.auto_renew(last_day) == 0  # a charge per day at most
        deliver_owed()
    offer.refresh_from_db()
    assert offer.status == OfferStatus.RENEWED
    assert offer.attempts == 1
    assert Policy.objects.filter(renewed_from=offer.policy).count() == 1


def test_auto_renewal_fails_then_succeeds_on_a_retry_within_grace():
    offer = _auto(offered())
    last_day = offer.expires_on - DAY
    sandbox_payment.MANDATE_FAULTS.force(1)
    with _at(last_day):
        assert services.auto_renew(last_day) == 1
        deliver_owed()
    offer.refresh_from_db()
    assert offer.status == OfferStatus.FAILED
    assert offer.last_failure == "insufficient_funds"
    notice = OutboxMessage.objects.get(
        template="renewal.auto_renewal_failed", channel="inbox", user=offer.customer
    )
    assert "余额不足" in notice.body and "手动支付" in notice.body
    # the next day, after the policy expired, within grace: retried and renewed
    with _at(last_day + 2 * DAY):
        assert services.auto_renew(last_day + 2 * DAY) == 1
        deliver_owed()
        services.lapse_offers(last_day + 2 * DAY)
    offer.refresh_from_db()
    assert offer.status == OfferStatus.RENEWED
    assert offer.attempts == 2
    renewal = offer.renewal_policy
    # cover continues from the old expiry: the renewal is in force at once
    assert renewal.effective_at == offer.policy.expires_at
    assert renewal.status == PolicyStatus.IN_FORCE


def test_auto_renewal_failing_past_grace_is_not_renewed_with_a_notice():
    offer = _auto(offered(), card=DECLINED_CARD)
    day = offer.expires_on - DAY
    while day <= offer.grace_until:
        with _at(day):
            services.auto_renew(day)
            deliver_owed()
            services.lapse_offers(day)
        day += DAY
    offer.refresh_from_db()
    assert offer.status == OfferStatus.FAILED
    assert offer.attempts == (offer.grace_until - (offer.expires_on - DAY)).days + 1
    with _at(day):
        assert services.auto_renew(day) == 0
        assert services.lapse_offers(day) == 1
        assert services.lapse_offers(day) == 0
    offer.refresh_from_db()
    assert offer.status == OfferStatus.LAPSED
    assert not Policy.objects.filter(renewed_from=offer.policy).exists()
    assert (
        OutboxMessage.objects.filter(
            template="renewal.not_renewed", channel="inbox", user=offer.customer
        ).count()
        == 1
    )
    # one failure notice per attempt, each once
    failures = OutboxMessage.objects.filter(template="renewal.auto_renewal_failed", channel="inbox")
    assert failures.count() == offer.attempts


def test_manual_offer_not_paid_by_the_end_of_grace_lapses():
    offer = offered()
    with _at(offer.grace_until):
        assert services.lapse_offers(offer.grace_until) == 0
    with _at(offer.grace_until + DAY):
        assert services.lapse_offers(offer.grace_until + DAY) == 1
        with pytest.raises(Conflict):
            services.accept(offer, user=offer.customer, today=offer.grace_until + DAY)
    offer.refresh_from_db()
    assert offer.status == OfferStatus.LAPSED


def test_the_paid_hook_run_again_issues_nothing_more():
    offer = offered()
    renewal = renew_now(offer)
    payment = Payment.objects.get(reference_kind="renewal", reference_id=str(offer.public_id))
    with _at(offer.offered_on):
        services.on_renewal_paid(payment)
    assert list(Policy.objects.filter(renewed_from=offer.policy)) == [renewal]


def test_the_renewal_e_policy_names_the_policy_it_renews_and_is_signed():
    from huibao.policy import documents

    offer = offered()
    renewal = renew_now(offer)
    rows = [row for section in documents.epolicy_sections(renewal) for row in (section.table or ())]
    assert ("续保自保单", offer.policy.number) in rows
    signed = documents.render_epolicy(renewal)
    assert signed.pdf.startswith(b"%PDF")
