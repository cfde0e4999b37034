"""A long-term policy's premiums after the first policy year (缴费期间 of 20 years, paid annually):
issuance starts a multi-year schedule, billing plans year 2 before the anniversary, the pages
show 第 2/20 年, and a failed year-2 charge takes the policy through grace to lapse."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from huibao.application.states import ApplicationStatus
from huibao.billing import services as billing
from huibao.billing.models import PremiumSchedule
from huibao.billing.tests.factories import mandate
from huibao.catalog.models import LineOfBusiness
from huibao.policy import rules
from huibao.policy.models import Policy
from huibao.policy.states import PolicyStatus
from huibao.policy.tests import factories as f
from huibao.policy.tests.test_premiums import ISSUED_ON, at, day, gateway  # noqa: F401

pytestmark = pytest.mark.django_db
TZ = timezone.get_default_timezone()
TERMS = [{"code": "20y", "label": "20年", "years": 20}, {"code": "1y", "label": "1年", "years": 1}]


def annual_policy(term: str = "20y") -> tuple[Policy, PremiumSchedule | None]:
    with at(ISSUED_ON):
        user = f.customer()
        version = f.product_version(line=LineOfBusiness.TERM_LIFE, term_options=TERMS)
        app = f.application(
            [(version, f.Person(), 500_000, "2400.00", {"term": term, "payment_mode": "annual"})],
            customer=user,
            status=ApplicationStatus.AWAITING_PAYMENT,
        )
        policy = f.issue(app)[0]
        schedule = PremiumSchedule.objects.filter(reference_id=policy.number).first()
        if schedule is not None:
            billing.attach_mandate(schedule, mandate(user.pk))
    day(timezone.localtime(policy.effective_at).date())
    return Policy.objects.get(pk=policy.pk), schedule


def test_premium_years_of_a_term() -> None:
    start = datetime.datetime(2026, 1, 11, tzinfo=TZ)
    twenty = rules.Term("20y", "20年", "years", 20)
    assert rules.premium_years(twenty, start, rules.contract_end(twenty, start, None)) == 20
    assert rules.premium_years(rules.Term("6m", "6个月", "months", 6), start, None) == 1
    lifetime = rules.Term("life", "终身", "lifetime")
    assert rules.premium_years(lifetime, start, None, pay_years=10) == 10
    assert rules.premium_years(lifetime, start, None) == 1
    to60 = rules.Term("to60", "保至60岁", "to_age", 60)
    end = rules.contract_end(to60, start, datetime.date(1990, 6, 1))
    assert rules.premium_years(to60, start, end) == 25


def test_the_epolicy_states_the_premium_term() -> None:
    # a 20-year term paid annually: 20年交; one year: 1年
    from huibao.policy import documents

    long_term, _ = annual_policy()
    one_year, _ = annual_policy(term="1y")

    premium = dict({s.heading: s for s in documents.epolicy_sections(long_term)}["保险费"].table)
    assert premium["交费期间"] == "20年交" and premium["交费方式"] == "年交"
    premium = dict({s.heading: s for s in documents.epolicy_sections(one_year)}["保险费"].table)
    assert premium["交费期间"] == "1年"


def test_a_one_year_annual_policy_still_has_no_schedule() -> None:
    _, schedule = annual_policy(term="1y")
    assert schedule is None


def test_year_two_is_planned_shown_and_unpaid_takes_the_policy_to_lapse(client, gateway) -> None:  # noqa: F811
    # given: a 20-year annual term-life policy issued on 10 Jan 2026, year 1 paid at checkout
    policy, schedule = annual_policy()
    assert schedule is not None
    schedule.refresh_from_db()
    assert (schedule.premium_years, schedule.policy_year, schedule.grace_days) == (20, 1, 60)
    client.force_login(policy.customer)
    mine = client.get(reverse("policy:mine")).content.decode()
    assert "第 1/20 年" in mine
    anniversary = timezone.localtime(policy.effective_at).date().replace(year=2027)
    # when: billing's day 30 days before the first anniversary, and the charge fails on it
    day(anniversary - datetime.timedelta(days=30))
    page = client.get(reverse("policy:premiums", args=[policy.public_id])).content.decode()
    # then: the year-2 instalment is on the premiums page, with the term
    assert 'data-testid="premium-year"' in page and "第 2/20 年" in page
    assert page.count('data-testid="instalment"') == 1 and anniversary.strftime("%Y-%m-%d") in page
    assert "¥2400.00" in page
    gateway.SANDBOX_MANDATE_FAILURE_RATE = 1.0
    day(anniversary)
    day(anniversary + datetime.timedelta(days=1))
    # then: in grace for 60 days, lapsed on the 61st
    assert Policy.objects.get(pk=policy.pk).status == PolicyStatus.IN_GRACE
    day(anniversary + datetime.timedelta(days=60))
    assert Policy.objects.get(pk=policy.pk).status == PolicyStatus.IN_GRACE
    day(anniversary + datetime.timedelta(days=61))
    assert Policy.objects.get(pk=policy.pk).status == PolicyStatus.LAPSED
