"""Offers made on the right day, re-rated at the new age; guaranteed renewal honoured; refusals
with a notice; a run killed half-way resumes without duplicates."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from huibao.catalog.models import ProductStatus
from huibao.notification.models import OutboxMessage
from huibao.policy.tests.factories import years_ago
from huibao.renewal import services
from huibao.renewal.models import RenewalOffer
from huibao.renewal.states import OfferStatus
from huibao.renewal.tests.factories import expiry_date, renewable_policy, renewable_version

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def _at(day: datetime.date):
    return time_machine.travel(
        timezone.make_aware(datetime.datetime.combine(day, datetime.time(6))), tick=False
    )


def test_offer_made_on_the_right_day_re_rated_at_the_new_age():
    policy = renewable_policy()
    offer_day = expiry_date(policy) - datetime.timedelta(days=30)
    with _at(offer_day - DAY):
        assert services.make_offers(offer_day - DAY) == 0
    with _at(offer_day):
        assert services.make_offers(offer_day) == 1
        assert services.make_offers(offer_day) == 0  # run again: nothing new
    offer = RenewalOffer.objects.get(policy=policy)
    assert offer.status == OfferStatus.OFFERED
    assert offer.insured_age == 31  # 30 today, 31 on the renewal's start
    # band 31–40: 150 per 100,000 × 200,000
    assert offer.premium == Decimal("300.00")
    assert offer.previous_premium == Decimal("200.00")
    assert [s["label"] for s in offer.steps] == ["年龄段基础保费", "应缴保费"]
    assert offer.steps[0]["value"] == "150"
    assert offer.starts_at == policy.expires_at
    assert timezone.localtime(offer.ends_at).date() == expiry_date(policy).replace(
        year=expiry_date(policy).year + 1
    )
    assert offer.grace_until == expiry_date(policy) - DAY + datetime.timedelta(days=15)
    assert offer.product_version_id == policy.product_version_id
    # the customer is told once
    with _at(offer_day):
        assert services.notify_offers(offer_day) == 1
        assert services.notify_offers(offer_day) == 0
    inbox = OutboxMessage.objects.filter(user=policy.customer, template="renewal.offered", channel="inbox")
    assert inbox.count() == 1
    assert "300.00" in inbox.get().body


def test_offer_days_come_from_the_servicing_rules():
    policy = renewable_policy(servicing={"renewal_offer_days": 45, "grace_days": 30})
    day = expiry_date(policy) - datetime.timedelta(days=45)
    with _at(day):
        assert services.make_offers(day + DAY) == 0
        assert services.make_offers(day) == 1
    assert RenewalOffer.objects.get(policy=policy).grace_until == expiry_date(policy) + datetime.timedelta(
        days=29
    )


def test_guaranteed_renewal_keeps_the_version_and_its_rate_table_when_the_product_stops_selling():
    version = renewable_version(guaranteed_years=6)
    policy = renewable_policy(version, birth=years_ago(40))  # 41 on the new start: band 41+
    product = version.product
    product.status = ProductStatus.OFF_SALE
    product.save(update_fields=["status"])
    day = expiry_date(policy) - datetime.timedelta(days=30)
    with _at(day):
        services.make_offers(day)
    offer = RenewalOffer.objects.get(policy=policy)
    assert offer.status == OfferStatus.OFFERED
    assert offer.guaranteed is True
    assert offer.product_version_id == version.pk
    assert offer.insured_age == 41
    assert offer.premium == Decimal("400.00")


def test_without_guarantee_a_product_no_longer_on_sale_is_refused_with_a_notice():
    version = renewable_version()
    policy = renewable_policy(version)
    product = version.product
    product.status = ProductStatus.OFF_SALE
    product.save(update_fields=["status"])
    day = expiry_date(policy) - datetime.timedelta(days=30)
    with _at(day):
        services.make_offers(day)
        services.notify_offers(day)
    offer = RenewalOffer.objects.get(policy=policy)
    assert offer.status == OfferStatus.REFUSED
    assert offer.premium is None
    assert "停售" in offer.refusal
    notice = OutboxMessage.objects.get(user=policy.customer, template="renewal.refused", channel="inbox")
    assert "停售" in notice.body


def test_over_the_maximum_renewal_age_is_refused():
    policy = renewable_policy(birth=years_ago(65), max_renewal_age=65)
    day = expiry_date(policy) - datetime.timedelta(days=30)
    with _at(day):
        services.make_offers(day)
    offer = RenewalOffer.objects.get(policy=policy)
    assert offer.status == OfferStatus.REFUSED
    assert "最高续保年龄65周岁" in offer.refusal


def test_entry_age_limit_does_not_stop_a_renewal():
    # the test product takes new insureds up to 65; a renewal at 66 is priced (max renewal age 80)
    policy = renewable_policy(birth=years_ago(65), max_renewal_age=80)
    day = expiry_date(policy) - datetime.timedelta(days=30)
    with _at(day):
        services.make_offers(day)
    offer = RenewalOffer.objects.get(policy=policy)
    assert offer.status == OfferStatus.OFFERED
    assert offer.insured_age == 66
    assert offer.premium == Decimal("400.00")


def test_not_renewable_products_get_no_offer():
    version = renewable_version()
    version.renewal = {"renewable": False}
    version.save(update_fields=["renewal"])
    policy = renewable_policy(version)
    day = expiry_date(policy) - datetime.timedelta(days=30)
    with _at(day):
        assert services.make_offers(day) == 0
    assert not RenewalOffer.objects.exists()


class Killed(Exception):
    pass


def test_a_run_killed_half_way_resumes_from_its_cursor_without_duplicates():
    version = renewable_version()
    policies = [renewable_policy(version) for _ in range(3)]
    day = expiry_date(policies[0]) - datetime.timedelta(days=30)
    saved = []

    def crash_after_first(cursor):
        saved.append(cursor)
        if len(saved) == 1:
            raise Killed

    with _at(day):
        with pytest.raises(Killed):
            services.make_offers(day, batch=1, checkpoint=crash_after_first)
        # the batch that crashed with its checkpoint rolled back with it
        assert RenewalOffer.objects.count() == 0
        ok: list = []
        assert services.make_offers(day, batch=2, checkpoint=ok.append) == 3
        assert services.make_offers(day, batch=2, cursor=ok[-1]) == 0
    assert RenewalOffer.objects.count() == 3
    assert {o.policy_id for o in RenewalOffer.objects.all()} == {p.pk for p in policies}


def test_a_renewal_policy_is_offered_its_next_term_with_its_term_number():
    version = renewable_version(guaranteed_years=2)
    policy = renewable_policy(version)
    offer_day = expiry_date(policy) - datetime.timedelta(days=30)
    with _at(offer_day):
        services.make_offers(offer_day)
    first = RenewalOffer.objects.get(policy=policy)
    assert first.term_number == 2 and first.guaranteed
    # The renewal policy's own offer is its third term: past the two guaranteed ones.
    from huibao.renewal.tests.test_payments import renew_now

    renewal = renew_now(first)
    next_day = timezone.localtime(renewal.expires_at).date() - datetime.timedelta(days=30)
    with _at(next_day):
        services.make_offers(next_day)
    second = RenewalOffer.objects.get(policy=renewal)
    assert second.term_number == 3
    assert second.guaranteed is False
