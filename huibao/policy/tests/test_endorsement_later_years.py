"""A premium change in policy year 2 of a policy paid over several years (a 5-year term): the
current policy year's unpaid instalments re-planned, the rest of the current period charged or
refunded, a later year already planned taking the new premium whole, later years rolled forward
with it — monthly and annual, exact to the fen (time-machine)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from huibao.account.sms import reset_sms_backends
from huibao.billing import rules as billing_rules
from huibao.billing import services as billing
from huibao.billing.models import Instalment, InstalmentChange, PremiumSchedule
from huibao.billing.tests.factories import deliver_owed, mandate
from huibao.core.money import to_fen
from huibao.payment.models import Refund
from huibao.policy import endorsement_rules as er
from huibao.policy import endorsements
from huibao.policy import services as policy_services
from huibao.policy.models import Policy
from huibao.policy.tests import endorsement_factories as ef
from huibao.policy.tests import factories as f
from huibao.rating.services import clear_cache
from huibao.sandbox import notifications
from huibao.sandbox import payment as sandbox_payment

pytestmark = pytest.mark.django_db
D = Decimal
TZ = timezone.get_default_timezone()
ISSUED_ON = datetime.date(2026, 1, 30)  # cover from the 31st: due dates clamp to the month's end
YEAR_2 = datetime.date(2027, 1, 31)
YEAR_3 = datetime.date(2028, 1, 31)
FIVE_YEARS = [{"code": "5y", "label": "5年", "years": 5}]


@pytest.fixture(autouse=True)
def _sms_and_gateway(settings, monkeypatch):
    settings.SMS_BACKEND = "huibao.account.sms.ConsoleSmsBackend"
    settings.SANDBOX_MANDATE_FAILURE_RATE = 0.0
    reset_sms_backends()
    clear_cache()
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))
    sandbox_payment.MANDATE_FAULTS.force(0)
    yield
    sandbox_payment.MANDATE_FAULTS.force(0)
    reset_sms_backends()
    clear_cache()


def at(d: datetime.date, hour: int = 9) -> Any:
    return time_machine.travel(datetime.datetime(d.year, d.month, d.day, hour, tzinfo=TZ), tick=False)


def five_year_policy(mode: str) -> Policy:
    """A 5-year policy of 320.00 a year paid `mode`, collected by mandate (the first instalment
    paid at the checkout)."""
    with at(ISSUED_ON):
        policy = ef.covered_policy(quote_inputs={"term": "5y", "payment_mode": mode}, term_options=FIVE_YEARS)
        schedule = PremiumSchedule.objects.get(reference_id=policy.number)
        billing.attach_mandate(schedule, mandate(policy.customer_id))
        ef.checkout_payment(policy, billing_rules.first_instalment(D("320.00"), mode))
    assert schedule.premium_years == 5
    return policy


def schedule_of(policy: Policy) -> PremiumSchedule:
    return PremiumSchedule.objects.get(reference_id=policy.number)


def instalments(policy: Policy) -> list[Instalment]:
    return list(Instalment.objects.filter(schedule__reference_id=policy.number).order_by("number"))


def run_day(d: datetime.date) -> None:
    """The daily run on `d`: next years planned, due instalments charged, notifications in."""
    with at(d):
        billing.run_daily(d)
        deliver_owed()
        policy_services.update_policy_statuses()


def live_until(policy: Policy, last: datetime.date) -> None:
    """Every day billing has work on (a year to plan, an instalment due), up to `last`."""
    while True:
        schedule = schedule_of(policy)
        days = [i.due_on for i in instalments(policy) if i.status != "paid" and i.due_on <= last]
        if schedule.next_year_on is not None and schedule.next_year_on <= last:
            days.append(schedule.next_year_on)
        if not days:
            return
        run_day(min(days))


def expected_year(old: Decimal, new: Decimal, start: datetime.date, on: datetime.date, mode: str) -> Decimal:
    """The year's premium: the old one to the change date and the new one after it, written out
    (the current period's re-rated part rounded to the fen once, half up)."""
    o, n = billing_rules.amounts(old, mode), billing_rules.amounts(new, mode)
    step = 12 // len(o)
    for k in range(len(o)):
        begins = billing_rules.add_months(start, k * step)
        ends = billing_rules.add_months(start, (k + 1) * step)
        if begins <= on < ends:
            left = D((ends - on).days) / D((ends - begins).days)
            return sum(o[:k], D(0)) + o[k] + to_fen((n[k] - o[k]) * left) + sum(n[k + 1 :], D(0))
    raise AssertionError("outside the year")


def test_a_rise_in_year_two_of_a_monthly_policy_replans_that_year_and_rolls_the_next_forward() -> None:
    # given a 5-year monthly policy, year 1 collected, year 2 collected up to 10 May 2027
    policy = five_year_policy("monthly")
    change_on = datetime.date(2027, 5, 10)  # instalment 16's period (30 Apr → 31 May): 21 of 31 days left
    live_until(policy, change_on)
    year_one = [(i.number, i.amount, i.status) for i in instalments(policy)[:12]]
    assert year_one == [(n, D("26.67"), "paid") for n in range(1, 12)] + [(12, D("26.63"), "paid")]
    assert [i.number for i in instalments(policy) if i.status == "paid"] == list(range(1, 17))
    # when the sum insured is raised to 600,000 (600.00 a year) on 10 May of year 2
    with at(change_on):
        e = endorsements.request_endorsement(
            policy, "sum_insured", {"sum_insured": "600000"}, actor=policy.customer
        )
        preview = endorsements.replan_of(e)
        assert preview is not None and preview.policy_year == 2
        # then year 2's unpaid instalments take the new amount; instalment 16's days left are charged
        assert [(x.number, x.old_amount, x.new_amount) for x in preview.changed[1:]] == [
            (n, D("26.67"), D("50.00")) for n in range(17, 24)
        ] + [(24, D("26.63"), D("50.00"))]
        current = preview.changed[0]
        assert (current.number, current.settled, current.current) == (16, True, True)
        assert e.premium_delta == current.adjustment == to_fen(D("23.33") * 21 / 31) == D("15.80")
        ef.confirm(e, policy.customer)
        payment = ef.pay_delta(e)
    e.refresh_from_db()
    assert e.status == "applied" and payment.amount == D("15.80")
    # and the rest of year 2 is collected at the new amount, year 3 planned at it
    live_until(policy, YEAR_3)
    rows = instalments(policy)
    assert [(i.number, i.amount, i.status) for i in rows[:12]] == year_one  # year 1 untouched
    year_two = rows[12:24]
    assert all(i.status == "paid" for i in year_two)
    assert [i.amount for i in year_two[4:]] == [D("50.00")] * 8
    paid = sum((i.amount for i in year_two), D(0)) + payment.amount
    assert paid == expected_year(D("320.00"), D("600.00"), YEAR_2, change_on, "monthly") == D("522.48")
    year_three = rows[24:]
    assert [(i.number, i.due_on, i.amount) for i in year_three] == [
        (p.number, p.due_on, p.amount)
        for p in billing_rules.plan_year(D("600.00"), "monthly", datetime.date(2026, 1, 31), 3)
    ]
    assert [i.amount for i in year_three] == [D("50.00")] * 12
    schedule = schedule_of(policy)
    assert (schedule.policy_year, schedule.annual_premium) == (3, D("600.00"))
    assert schedule.total == sum((i.amount for i in rows), D(0))
    history = InstalmentChange.objects.filter(cause_kind="endorsement", cause_id=e.number)
    assert sorted(history.values_list("instalment__number", flat=True)) == list(range(16, 25))
    policy.refresh_from_db()
    assert policy.premium == D("600.00")


def test_a_fall_in_the_last_month_of_year_two_lowers_year_three_already_planned_and_refunds() -> None:
    # given a 5-year monthly policy on 10 Jan 2028: year 3 planned (1 Jan), instalment 24 paid
    policy = five_year_policy("monthly")
    change_on = datetime.date(2028, 1, 10)  # instalment 24 (31 Dec → 31 Jan): 21 of 31 days left
    live_until(policy, change_on)
    assert schedule_of(policy).policy_year == 3
    assert [i.status for i in instalments(policy)[24:]] == ["due"] * 12
    # when the sum insured is lowered to 200,000 (200.00 a year)
    with at(change_on):
        e = endorsements.request_endorsement(
            policy, "sum_insured", {"sum_insured": "200000"}, actor=policy.customer
        )
        # then the last instalment of year 2 refunds its days left: (16.63 − 26.63) × 21 / 31
        assert e.premium_delta == to_fen(D("-10.00") * 21 / 31) == D("-6.77")
        ef.confirm(e, policy.customer)
    e.refresh_from_db()
    assert e.status == "applied" and Refund.objects.get().amount == D("6.77")
    # and year 3, planned at the old premium, is the new premium's year whole
    rows = instalments(policy)
    assert [i.amount for i in rows[24:]] == billing_rules.amounts(D("200.00"), "monthly")
    assert [i.amount for i in rows[12:24]] == [D("26.67")] * 11 + [D("26.63")]  # paid: unchanged
    live_until(policy, datetime.date(2029, 1, 1))  # year 3 collected, year 4 planned at 200.00
    rows = instalments(policy)
    assert sum((i.amount for i in rows[24:36]), D(0)) == D("200.00")
    assert [i.amount for i in rows[36:]] == billing_rules.amounts(D("200.00"), "monthly")


def test_a_rise_in_year_two_of_an_annual_policy_charges_the_rest_of_the_year(client) -> None:
    # given a 5-year policy paid annually: year 2's 320.00 collected on 31 Jan 2027
    policy = five_year_policy("annual")
    change_on = datetime.date(2027, 6, 15)
    live_until(policy, change_on)
    assert [(i.number, i.due_on, i.amount, i.status) for i in instalments(policy)] == [
        (1, datetime.date(2026, 1, 31), D("320.00"), "paid"),
        (2, YEAR_2, D("320.00"), "paid"),
    ]
    # when the sum insured is raised to 600,000 on 15 Jun 2027 (230 of year 2's 365 days left)
    with at(change_on):
        e = endorsements.request_endorsement(
            policy, "sum_insured", {"sum_insured": "600000"}, actor=policy.customer
        )
        remaining, days = (YEAR_3 - change_on).days, (YEAR_3 - YEAR_2).days
        assert (remaining, days) == (230, 365)
        # then the rest of the policy year is charged, as a policy paid whole would be
        assert e.premium_delta == to_fen(D("280.00") * remaining / days) == D("176.44")
        assert e.premium_delta == er.premium_delta(
            D("320.00"), D("600.00"), period_start=YEAR_2, period_end=YEAR_3, on=change_on
        )
        client.force_login(policy.customer)
        shown = client.get(f"/api/v1/policies/{policy.public_id}/endorsements/{e.number}").json()
        assert shown["instalments"] == [
            {
                "number": 2,
                "due_on": "2027-01-31",
                "old_amount": "320.00",
                "new_amount": "320.00",
                "adjustment": "176.44",
                "paid": True,
            }
        ]
        ef.confirm(e, policy.customer)
        payment = ef.pay_delta(e)
    assert payment.amount == D("176.44")
    # and year 2 cost the old premium to the change and the new after it; year 3 is 600.00
    live_until(policy, YEAR_3)
    rows = instalments(policy)
    assert rows[1].amount + payment.amount == expected_year(
        D("320.00"), D("600.00"), YEAR_2, change_on, "annual"
    )
    assert [(i.number, i.due_on, i.amount, i.status) for i in rows[2:]] == [(3, YEAR_3, D("600.00"), "paid")]
    assert schedule_of(policy).annual_premium == D("600.00")
    premiums = client.get(f"/api/v1/policies/{policy.public_id}/premiums").json()
    assert premiums["policy_year"] == 3 and premiums["premium_years"] == 5


def test_a_fall_in_year_two_of_an_annual_policy_refunds_through_the_years_collected_payment() -> None:
    # given a 5-year annual policy whose year-2 premium was collected through the mandate
    policy = five_year_policy("annual")
    change_on = datetime.date(2027, 8, 1)
    live_until(policy, change_on)
    # when the sum insured is lowered to 200,000 (200.00 a year) on 1 Aug 2027
    with at(change_on):
        e = endorsements.request_endorsement(
            policy, "sum_insured", {"sum_insured": "200000"}, actor=policy.customer
        )
        ef.confirm(e, policy.customer)
    # then the rest of year 2 at 120.00 a year less goes back, first through the checkout's payment
    e.refresh_from_db()
    left = (YEAR_3 - change_on).days
    assert e.status == "applied" and e.premium_delta == to_fen(D("-120.00") * left / 365)
    assert sum((r.amount for r in Refund.objects.all()), D(0)) == -e.premium_delta
    # and year 3 is planned at 200.00
    live_until(policy, YEAR_3 - datetime.timedelta(days=30))
    assert instalments(policy)[2].amount == D("200.00")
