"""A policy paid monthly renews monthly: the offer keeps the premium mode and the underwriting
loading the policy carries (exclusions too), the first instalment is what renews it (at the
cashier or through the mandate), and the renewal's schedule is created as at issuance and
collected through the same mandate."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from huibao.billing import rules as billing_rules
from huibao.billing import services as billing
from huibao.billing.models import Instalment, PremiumSchedule
from huibao.billing.tests.factories import deliver_owed, mandate
from huibao.policy import schedule as schedule_mod
from huibao.policy.models import Policy
from huibao.policy.tests.factories import Person, application, customer, issue, years_ago
from huibao.renewal import services
from huibao.renewal.models import RenewalOffer
from huibao.renewal.states import OfferStatus
from huibao.renewal.tests.factories import expiry_date, pay_at_cashier, renewable_version

pytestmark = pytest.mark.django_db
D = Decimal
DAY = datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def _gateway(settings):
    settings.SANDBOX_MANDATE_FAILURE_RATE = 0.0


def _at(day: datetime.date, hour: int = 9):
    return time_machine.travel(
        timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour))), tick=False
    )


def monthly_policy(
    *, loading: int = 0, exclusions: tuple[str, ...] = (), modes=("annual", "monthly")
) -> Policy:
    """200,000 of cover for an insured aged 30 (31 at renewal: 300.00 a year rated), paid
    monthly, collected through a mandate, with the underwriting terms given."""
    version = renewable_version()
    version.payment_modes = list(modes)
    version.save(update_fields=["payment_modes"])
    user = customer()
    premium = (D("200.00") * (1 + D(loading) / 100)).quantize(D("0.01"))
    app = application(
        [
            (
                version,
                Person(birth=years_ago(30)),
                200_000,
                str(premium),
                {"term": "1y", "payment_mode": "monthly"},
            )
        ],
        customer=user,
        loading_percent=loading,
        exclusions=exclusions,
    )
    policy = issue(app)[0]
    schedule = PremiumSchedule.objects.get(reference_id=policy.number)
    billing.attach_mandate(schedule, mandate(user.pk))
    return policy


def offer_for(policy: Policy) -> RenewalOffer:
    day = expiry_date(policy) - datetime.timedelta(days=30)
    with _at(day):
        services.make_offers(day)
    return RenewalOffer.objects.get(policy=policy)


def test_a_monthly_policy_with_a_loading_is_offered_monthly_with_the_loading_again():
    # given a monthly policy accepted with a 50 % loading and an exclusion
    policy = monthly_policy(loading=50, exclusions=("既往症：甲状腺结节",))
    # when the renewal offer is made
    offer = offer_for(policy)
    # then rated at the new age (300.00), loaded again (450.00), kept monthly: 37.50 to renew
    assert (offer.rated_premium, offer.loading_percent, offer.premium) == (
        D("300.00"),
        D("50.00"),
        D("450.00"),
    )
    assert offer.payment_mode == "monthly"
    assert services.due_now(offer) == billing_rules.first_instalment(D("450.00"), "monthly") == D("37.50")


def test_accepting_pays_the_first_instalment_and_the_renewal_gets_its_schedule_and_terms():
    # given the offer of a monthly policy with a loading and an exclusion
    policy = monthly_policy(loading=50, exclusions=("既往症：甲状腺结节",))
    offer = offer_for(policy)
    # when the customer accepts and pays at the cashier
    with _at(offer.offered_on):
        payment = services.accept(offer, user=offer.customer)
        assert payment.amount == D("37.50")
        assert services.accept(offer, user=offer.customer).pk == payment.pk  # a retried tap
        pay_at_cashier(payment, policy)
    # then the renewal is issued monthly, its first instalment paid by that payment
    offer.refresh_from_db()
    renewal = offer.renewal_policy
    assert offer.status == OfferStatus.RENEWED and renewal is not None
    assert renewal.premium == D("450.00")
    schedule = PremiumSchedule.objects.get(reference_id=renewal.number)
    assert schedule.mode == "monthly" and schedule.total == D("450.00")
    rows = list(Instalment.objects.filter(schedule=schedule).order_by("number"))
    assert len(rows) == 12 and rows[0].status == "paid" and rows[0].payment_reference == payment.merchant_ref
    assert [r.amount for r in rows] == [D("37.50")] * 12
    assert rows[0].due_on == timezone.localtime(renewal.effective_at).date()
    # the loading and the exclusion are the renewal's terms, on its e-policy's schedule
    frozen = schedule_mod.loads(renewal.schedule)
    assert frozen["premium"]["payment_mode"] == "monthly"
    assert D(str(frozen["premium"]["loading_percent"])) == D("50")
    assert frozen["exclusions"] == ["既往症：甲状腺结节"]
    # and the next instalments are collected through the same mandate
    old_mandate = PremiumSchedule.objects.get(reference_id=policy.number).mandate_id
    assert schedule.mandate_id == old_mandate is not None
    with _at(rows[1].due_on):
        billing.collect_due(rows[1].due_on)  # (the first term's instalments, never collected here, too)
        deliver_owed()
    assert Instalment.objects.get(pk=rows[1].pk).status == "paid"


def test_automatic_renewal_of_a_monthly_policy_charges_the_first_instalment():
    # given the offer of a monthly policy, automatic renewal on with the customer's mandate
    policy = monthly_policy()
    offer = offer_for(policy)
    offer = services.set_auto_renew(offer, user=offer.customer, on=True, today=offer.offered_on)
    last_day = offer.expires_on - DAY
    # when the last covered day comes
    with _at(last_day):
        assert services.auto_renew(last_day) == 1
        deliver_owed()
    # then the first instalment (300.00 / 12) renewed it, monthly, on the same mandate
    offer.refresh_from_db()
    assert offer.status == OfferStatus.RENEWED
    schedule = PremiumSchedule.objects.get(reference_id=offer.renewal_policy.number)
    assert schedule.mode == "monthly" and schedule.mandate_id == offer.mandate_id
    first = Instalment.objects.get(schedule=schedule, number=1)
    assert first.amount == D("25.00") and first.status == "paid"


def test_a_version_no_longer_offering_monthly_renews_yearly_and_a_wrong_amount_is_refunded():
    # given a monthly policy whose version now offers annual payment only
    policy = monthly_policy()
    policy.product_version.payment_modes = ["annual"]
    policy.product_version.save(update_fields=["payment_modes"])
    offer = offer_for(policy)
    # then the renewal is offered yearly, the whole premium to pay
    assert offer.payment_mode == "annual" and services.due_now(offer) == D("300.00")
    with _at(offer.offered_on):
        payment = services.accept(offer, user=offer.customer)
        assert payment.amount == D("300.00")
        pay_at_cashier(payment, policy)
    offer.refresh_from_db()
    assert not PremiumSchedule.objects.filter(reference_id=offer.renewal_policy.number).exists()


def test_the_page_and_the_api_show_the_first_instalment_and_the_loading():
    from django.test import Client

    # given the offer of a monthly policy with a 50 % loading
    policy = monthly_policy(loading=50)
    offer_for(policy)
    client = Client()
    client.force_login(policy.customer)
    # when the customer looks at it
    body = client.get(f"/api/v1/policies/{policy.public_id}/renewal-offer").json()
    page = client.get(f"/renewal/{policy.public_id}/").content.decode()
    # then both say monthly, 37.50 now, the loading kept
    assert (body["payment_mode"], body["due_now"], body["premium"], body["loading_percent"]) == (
        "monthly",
        "37.50",
        "450.00",
        "50.00",
    )
    assert "续保时支付首期 ¥37.50" in page and "继续加费 50.00%" in page
