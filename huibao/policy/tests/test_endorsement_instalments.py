"""A premium change of a policy paid monthly: the schedule re-planned from the change's day —
the current instalment's days left charged or refunded (or folded into it while unpaid), later
instalments at the new amount, paid ones never changed, each change in the schedule's history —
shown before confirming, and over the year exact to the fen."""

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
from huibao.core.errors import ValidationFailed
from huibao.core.money import to_fen
from huibao.payment.models import Payment, Refund
from huibao.policy import endorsements
from huibao.policy import services as policy_services
from huibao.policy.models import Endorsement, Policy
from huibao.policy.tests import endorsement_factories as ef
from huibao.policy.tests import factories as f
from huibao.rating.services import clear_cache
from huibao.sandbox import notifications
from huibao.sandbox import payment as sandbox_payment

pytestmark = pytest.mark.django_db
D = Decimal
TZ = timezone.get_default_timezone()
ISSUED_ON = datetime.date(2026, 1, 30)  # cover from the 31st: due dates clamp to the month's end


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


def monthly_policy(premium: str = "320.00") -> Policy:
    """A one-year policy paid monthly (320.00 a year: 26.67 × 11 + 26.63), collected by mandate."""
    with at(ISSUED_ON):
        policy = ef.covered_policy(quote_inputs={"term": "1y", "payment_mode": "monthly"}, premium=premium)
        schedule = PremiumSchedule.objects.get(reference_id=policy.number)
        billing.attach_mandate(schedule, mandate(policy.customer_id))
    return policy


def instalments(policy: Policy) -> list[Instalment]:
    return list(Instalment.objects.filter(schedule__reference_id=policy.number).order_by("number"))


def collect(d: datetime.date) -> None:
    """The daily run on `d`: due instalments charged, the gateway's notifications delivered."""
    with at(d):
        billing.run_daily(d)
        deliver_owed()
        policy_services.update_policy_statuses()


def expected_year(old: Decimal, new: Decimal, start: datetime.date, on: datetime.date) -> Decimal:
    """The old premium to the change date + the new premium after it, written out: the current
    instalment's re-rated part rounded to the fen once (half up), nothing else rounded."""
    o, n = billing_rules.amounts(old, "monthly"), billing_rules.amounts(new, "monthly")
    for k in range(12):
        begins, ends = billing_rules.add_months(start, k), billing_rules.add_months(start, k + 1)
        if begins <= on < ends:
            left = D((ends - on).days) / D((ends - begins).days)
            return sum(o[:k], D(0)) + o[k] + to_fen((n[k] - o[k]) * left) + sum(n[k + 1 :], D(0))
    raise AssertionError("outside the year")


def test_a_rise_mid_year_charges_the_month_left_and_the_year_costs_old_then_new_to_the_fen() -> None:
    # given a monthly policy of 320.00 a year, its instalments collected month by month
    policy = monthly_policy()
    start = instalments(policy)[0].due_on
    change_on = datetime.date(2026, 5, 10)  # inside the 4th period (30 Apr → 31 May): 21 of 31 days left
    for inst in instalments(policy):
        if inst.due_on <= change_on:
            collect(inst.due_on)
    paid_before = [(i.number, i.amount) for i in instalments(policy) if i.status == "paid"]
    assert [n for n, _ in paid_before] == [1, 2, 3, 4]
    # when the sum insured is raised to 600,000 (600.00 a year) on 10 May
    with at(change_on):
        e = endorsements.request_endorsement(
            policy, "sum_insured", {"sum_insured": "600000"}, actor=policy.customer
        )
        # then before confirming the customer sees the new schedule
        preview = endorsements.replan_of(e)
        assert preview is not None
        assert [(x.number, x.old_amount, x.new_amount) for x in preview.changed][1:] == [
            (n, D("26.67"), D("50.00")) for n in range(5, 12)
        ] + [(12, D("26.63"), D("50.00"))]
        current = preview.changed[0]
        assert (current.number, current.settled) == (4, True)
        # instalment 4 is paid: its 21 days left are charged now, (50.00 − 26.67) × 21 / 31
        assert e.premium_delta == current.adjustment == to_fen(D("23.33") * 21 / 31) == D("15.80")
        ef.confirm(e, policy.customer)
        payment = ef.pay_delta(e)
    e.refresh_from_db()
    assert e.status == "applied" and payment.amount == D("15.80")
    # and the rest of the year is collected at the new amount
    for inst in instalments(policy):
        if inst.due_on > change_on:
            collect(inst.due_on)
    rows = instalments(policy)
    assert all(i.status == "paid" for i in rows)
    assert [(i.number, i.amount) for i in rows[:4]] == paid_before  # paid instalments never change
    assert [i.amount for i in rows[4:]] == [D("50.00")] * 8
    collected = sum((i.amount for i in rows), D(0)) + payment.amount
    assert collected == expected_year(D("320.00"), D("600.00"), start, change_on)
    # the schedule's history names the change on each instalment it touched
    history = InstalmentChange.objects.filter(cause_kind="endorsement", cause_id=e.number)
    assert sorted(history.values_list("instalment__number", flat=True)) == list(range(4, 13))
    assert history.get(instalment__number=4).adjustment == D("15.80")
    schedule = PremiumSchedule.objects.get(reference_id=policy.number)
    assert schedule.total == sum((i.amount for i in rows), D(0))
    policy.refresh_from_db()
    assert policy.premium == D("600.00")


def test_a_fall_on_a_due_date_before_collection_lowers_that_instalment_and_refunds_nothing() -> None:
    # given a monthly policy whose 3rd instalment (31 Mar) is due today and not yet collected
    policy = monthly_policy()
    for inst in instalments(policy)[:2]:
        collect(inst.due_on)
    third = instalments(policy)[2]
    # when the sum insured is lowered to 200,000 (200.00 a year) that morning
    with at(third.due_on, hour=7):
        e = endorsements.request_endorsement(
            policy, "sum_insured", {"sum_insured": "200000"}, actor=policy.customer
        )
        assert e.premium_delta == D("0.00")
        ef.confirm(e, policy.customer)
    # then the whole 3rd period is at the new amount and nothing is refunded
    e.refresh_from_db()
    assert e.status == "applied" and not e.refund_ref and not Refund.objects.exists()
    rows = instalments(policy)
    assert [i.amount for i in rows] == [D("26.67")] * 2 + [D("16.67")] * 9 + [D("16.63")]
    collect(third.due_on)
    assert instalments(policy)[2].status == "paid"
    assert Payment.objects.filter(reference_kind="billing_instalment", amount=D("16.67")).exists()


def test_a_fall_mid_month_refunds_the_paid_instalments_days_left_through_the_first_payment() -> None:
    # given instalment 2 (28 Feb → 31 Mar) paid; the first instalment was paid at the checkout
    policy = monthly_policy()
    ef.checkout_payment(policy, "26.67")
    collect(instalments(policy)[1].due_on)
    on = datetime.date(2026, 3, 10)  # 21 of 31 days left
    # when lowered to 200,000
    with at(on):
        e = endorsements.request_endorsement(
            policy, "sum_insured", {"sum_insured": "200000"}, actor=policy.customer
        )
        ef.confirm(e, policy.customer)
    # then (16.67 − 26.67) × 21 / 31 = −6.77 goes back; instalments 3–12 fall to 16.67 (16.63 last)
    e.refresh_from_db()
    assert e.premium_delta == D("-6.77") and e.status == "applied"
    assert Refund.objects.get().amount == D("6.77")
    assert [i.amount for i in instalments(policy)[2:]] == [D("16.67")] * 9 + [D("16.63")]


def test_a_change_that_would_leave_an_instalment_at_nothing_is_refused_with_nothing_written() -> None:
    # given a policy priced at a rate that makes 100,000 of cover cost 0.10 a year
    with at(ISSUED_ON):
        pricing = {
            "inputs": {},
            "tables": {},
            "constants": {"rate": "0.000001"},
            "steps": [{"name": "premium", "label": "应缴保费", "expr": "sum_insured * rate"}],
            "result": "premium",
        }
        policy = ef.covered_policy(
            pricing=pricing, quote_inputs={"term": "1y", "payment_mode": "monthly"}, premium="12.00"
        )
    before = [(i.number, i.amount) for i in instalments(policy)]
    # when the sum insured is lowered so far that a month would cost less than a fen
    with at(ISSUED_ON + datetime.timedelta(days=3)), pytest.raises(ValidationFailed) as refused:
        endorsements.request_endorsement(
            policy, "sum_insured", {"sum_insured": "100000"}, actor=policy.customer
        )
    # then the field is named and nothing changed
    assert refused.value.code == "instalment_not_positive"
    assert refused.value.errors[0].field == "sum_insured"
    assert not Endorsement.objects.exists() and not InstalmentChange.objects.exists()
    assert [(i.number, i.amount) for i in instalments(policy)] == before


def test_an_instalment_collected_between_request_and_payment_carries_its_delta_to_the_next() -> None:
    # given a rise requested the day before instalment 3 falls due (nothing to charge apart yet…)
    policy = monthly_policy()
    collect(instalments(policy)[1].due_on)
    third = instalments(policy)[2]
    with at(third.due_on - datetime.timedelta(days=1)):
        e = endorsements.request_endorsement(
            policy, "sum_insured", {"sum_insured": "600000"}, actor=policy.customer
        )
        delta = e.premium_delta
        assert delta == to_fen(D("23.33") * 1 / 31)  # the last day of instalment 2's period (28 Feb → 31 Mar)
        ef.confirm(e, policy.customer)
    # … and instalment 3 collected at the old amount before the delta is paid
    collect(third.due_on)
    e.refresh_from_db()
    shown = endorsements.replan_of(e)  # what the page shows while the delta is unpaid: as applied
    assert shown is not None and shown.lines[3].new_amount == D("73.33") and shown.adjustment == delta
    with at(third.due_on):
        ef.pay_delta(e)
    # then instalment 4 carries instalment 3's delta, so the year still costs what was shown
    rows = instalments(policy)
    assert rows[2].amount == D("26.67") and rows[2].status == "paid"
    assert rows[3].amount == D("50.00") + D("23.33")
    assert InstalmentChange.objects.get(cause_id=e.number, instalment__number=4).carried == D("23.33")
    total = sum((i.amount for i in rows), D(0)) + delta
    start = rows[0].due_on
    assert total == expected_year(D("320.00"), D("600.00"), start, third.due_on - datetime.timedelta(days=1))


def test_the_page_and_the_api_show_the_new_schedule_before_confirming_and_the_history_after() -> None:
    # given a monthly policy with instalment 2 paid, and a rise requested over the API on 10 Mar
    policy = monthly_policy()
    collect(instalments(policy)[1].due_on)
    client = Client()
    client.force_login(policy.customer)
    base = f"/api/v1/policies/{policy.public_id}/endorsements"
    with at(datetime.date(2026, 3, 10)):
        response = client.post(
            base,
            '{"kind": "sum_insured", "changes": {"sum_insured": "600000"}}',
            content_type="application/json",
        )
        assert response.status_code == 201
        body = response.json()
        # then the API lists the plan: instalment 2 paid (its 21 days left charged), 3–12 at 50.00
        lines = body["instalments"]
        assert lines[0] == {
            "number": 2,
            "due_on": "2026-02-28",
            "old_amount": "26.67",
            "new_amount": "26.67",
            "adjustment": str(to_fen(D("23.33") * 21 / 31)),
            "paid": True,
        }
        assert [(x["number"], x["new_amount"]) for x in lines[1:]] == [(n, "50.00") for n in range(3, 13)]
        assert body["premium_delta"] == lines[0]["adjustment"]
        # and the page shows it before the customer confirms
        page = client.get(f"/policy/mine/{policy.public_id}/changes/{body['number']}/")
        assert page.status_code == 200
        html = page.content.decode()
        assert "调整后的缴费计划" in html and "¥26.67（已缴）" in html and html.count("¥50.00") == 10
        e = Endorsement.objects.get(number=body["number"])
        ef.confirm(e, policy.customer)
        ef.pay_delta(e)
    # then once applied the same rows are the schedule's history of this change
    after = client.get(f"{base}/{body['number']}").json()
    assert after["status"] == "applied"
    assert [(x["number"], x["new_amount"]) for x in after["instalments"]] == [(2, "26.67")] + [
        (n, "50.00") for n in range(3, 13)
    ]
    assert (
        "缴费计划调整记录"
        in client.get(f"/policy/mine/{policy.public_id}/changes/{body['number']}/").content.decode()
    )
    # and the policy's premiums name the change on each instalment it moved
    premiums = client.get(f"/api/v1/policies/{policy.public_id}/premiums").json()
    assert [x["changed_by"] for x in premiums["instalments"]] == [[]] + [[body["number"]]] * 11
    page = client.get(f"/policy/mine/{policy.public_id}/premiums/").content.decode()
    assert page.count(f"经批改{body['number']}调整") == 11
