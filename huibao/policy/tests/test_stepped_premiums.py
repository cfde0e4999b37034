"""Premiums that step up by policy year (`pricing.premium_steps: attained_age`): the rating engine
prices each year of the premium term at the insured's age in it, issuance freezes the years'
premiums in the schedule, billing plans each year at its own premium (the roll-forward), a
premium change in year 2 re-rates every year, and the e-policy, "my policies", the premiums page
and the API show the years' amounts."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from huibao.billing import rules as billing_rules
from huibao.billing.models import PremiumSchedule
from huibao.core.money import to_fen
from huibao.policy import documents, endorsements
from huibao.policy import schedule as schedule_mod
from huibao.policy.models import Policy
from huibao.policy.tests import endorsement_factories as ef
from huibao.policy.tests.test_endorsement_later_years import (  # noqa: F401
    YEAR_2,
    YEAR_3,
    _sms_and_gateway,
    at,
    instalments,
    live_until,
)
from huibao.rating import rules as rating_rules
from huibao.rating.errors import SpecError

pytestmark = pytest.mark.django_db
D = Decimal
ISSUED_ON = datetime.date(2026, 1, 30)
FIVE_YEARS = [{"code": "5y", "label": "5年", "years": 5}]
# 0.001 of the sum insured plus 10.00 a year of age: at 30, 500,000 costs 800.00, then 810.00, …
STEPPED: dict[str, Any] = {
    "inputs": {},
    "tables": {},
    "constants": {"rate": "0.001", "per_year_of_age": "10"},
    "steps": [{"name": "premium", "label": "应缴保费", "expr": "sum_insured * rate + age * per_year_of_age"}],
    "result": "premium",
    "premium_steps": "attained_age",
}


def stepped_policy(mode: str) -> Policy:
    from huibao.billing import services as billing
    from huibao.billing.tests.factories import mandate

    with at(ISSUED_ON):
        policy = ef.covered_policy(
            pricing=STEPPED,
            quote_inputs={"term": "5y", "payment_mode": mode, "age": 30},
            term_options=FIVE_YEARS,
            premium="800.00",
        )
        schedule = PremiumSchedule.objects.get(reference_id=policy.number)
        billing.attach_mandate(schedule, mandate(policy.customer_id))
        ef.checkout_payment(policy, billing_rules.first_instalment(D("800.00"), mode))
    return policy


def _product(pricing: dict[str, Any]) -> rating_rules.RatingProduct:
    plan = rating_rules.PlanTerms(
        code="basic", name="标准版", min_sum_insured=D(100_000), max_sum_insured=D(1_000_000), plan_id=1
    )
    return rating_rules.make_rating_product(
        version_id=1,
        product_code="p",
        pricing=pricing,
        eligibility={"max_age": 32},
        term_options=FIVE_YEARS,
        payment_modes=["annual", "monthly"],
        plans=[plan],
    )


def test_the_rating_engine_prices_each_year_at_the_attained_age_past_the_entry_ceiling() -> None:
    product = _product(STEPPED)
    # priced by age: 30, 31, … (the entry ceiling of 32 does not hold a later year back)
    by_age = rating_rules.premiums_by_year(
        product, "basic", {"age": 30, "sum_insured": "500000"}, years=5, start=datetime.date(2026, 1, 31)
    )
    assert by_age == [D("800.00"), D("810.00"), D("820.00"), D("830.00"), D("840.00")]
    # priced by birth date: the age on each anniversary (born 1 Jul 1995: 30, then 31 from 2027 on…)
    by_birth = rating_rules.premiums_by_year(
        product,
        "basic",
        {"birth_date": "1995-07-01", "start_date": "2026-01-31", "sum_insured": "500000"},
        years=3,
        start=datetime.date(2026, 1, 31),
    )
    assert by_birth == [D("800.00"), D("810.00"), D("820.00")]
    # a level product: every year the first's
    level = _product({**STEPPED, "premium_steps": ""})
    assert (
        rating_rules.premiums_by_year(
            level, "basic", {"age": 30, "sum_insured": "500000"}, years=3, start=datetime.date(2026, 1, 31)
        )
        == [D("800.00")] * 3
    )
    # and a spec that names an unknown step kind, or steps by age without pricing by age, is refused
    with pytest.raises(SpecError, match="premium_steps"):
        rating_rules.compile_spec({**STEPPED, "premium_steps": "by_magic"})
    with pytest.raises(SpecError, match="age"):
        rating_rules.compile_spec(
            {**STEPPED, "steps": [{"name": "premium", "label": "应缴保费", "expr": "sum_insured * rate"}]}
        )


def test_an_annual_stepped_policy_plans_each_year_at_its_own_premium_and_shows_the_years() -> None:
    # given a 5-year stepped policy paid annually, issued at 30
    policy = stepped_policy("annual")
    years = [D("800.00"), D("810.00"), D("820.00"), D("830.00"), D("840.00")]
    # then issuance froze the years' premiums, and the schedule carries them
    assert schedule_mod.year_premiums(schedule_mod.loads(policy.schedule)) == years
    schedule = PremiumSchedule.objects.get(reference_id=policy.number)
    assert [D(p) for p in schedule.year_premiums] == years
    # the e-policy states the premium term and each year's premium
    sections = {s.heading: s for s in documents.epolicy_sections(policy)}
    assert dict(sections["保险费"].table)["交费期间"] == "5年交"
    assert sections["逐年保险费"].table == tuple(
        (f"第{n}保单年度", f"¥{p:,}") for n, p in enumerate(years, 1)
    )
    # when billing rolls year 2 forward and collects it
    live_until(policy, YEAR_2)
    rows = instalments(policy)
    assert [(i.number, i.due_on, i.amount, i.status) for i in rows] == [
        (1, datetime.date(2026, 1, 31), D("800.00"), "paid"),
        (2, YEAR_2, D("810.00"), "paid"),
    ]
    assert PremiumSchedule.objects.get(reference_id=policy.number).annual_premium == D("810.00")
    # then "my policies", the premiums page and the API show the years, year 2 the current one
    client = Client()
    with at(YEAR_2):
        client.force_login(policy.customer)
        mine = client.get("/policy/mine/").content.decode()
        page = client.get(f"/policy/mine/{policy.public_id}/premiums/").content.decode()
        api = client.get(f"/api/v1/policies/{policy.public_id}/premiums").json()
    assert 'data-testid="year-premiums"' in mine and mine.count('data-testid="year-premium"') == 5
    assert "第2年 ¥810.00" in mine and "第5年 ¥840.00" in mine
    assert (
        page.count('data-testid="year-premium"') == 5
        and 'aria-current="true"><td data-label="保单年度">第2年' in page
    )
    assert api["year_premiums"] == [{"policy_year": n, "premium": str(p)} for n, p in enumerate(years, 1)]
    assert api["policy_year"] == 2


def test_a_monthly_stepped_policy_splits_each_years_own_premium() -> None:
    policy = stepped_policy("monthly")
    live_until(policy, YEAR_2 - datetime.timedelta(days=30))  # year 2 planned
    rows = instalments(policy)
    assert [i.amount for i in rows[:12]] == billing_rules.amounts(D("800.00"), "monthly")
    assert [i.amount for i in rows[12:]] == billing_rules.amounts(D("810.00"), "monthly") == [D("67.50")] * 12


def test_a_rise_in_year_two_of_a_stepped_policy_re_rates_every_year_at_its_age() -> None:
    # given a 5-year stepped annual policy, year 2 (810.00) collected
    policy = stepped_policy("annual")
    change_on = datetime.date(2027, 6, 15)  # 230 of year 2's 365 days left
    live_until(policy, change_on)
    # when the sum insured is raised to 600,000: 900.00 at 30, so 910.00 in year 2, 920.00 in year 3 …
    with at(change_on):
        e = endorsements.request_endorsement(
            policy, "sum_insured", {"sum_insured": "600000"}, actor=policy.customer
        )
        # then year 2's rest is charged at its own new premium: (910.00 − 810.00) × 230 / 365
        assert e.premium_delta == to_fen(D("100.00") * 230 / 365) == D("63.01")
        ef.confirm(e, policy.customer)
        payment = ef.pay_delta(e)
    assert payment.amount == D("63.01")
    schedule = PremiumSchedule.objects.get(reference_id=policy.number)
    assert [D(p) for p in schedule.year_premiums] == [
        D("900.00"),
        D("910.00"),
        D("920.00"),
        D("930.00"),
        D("940.00"),
    ]
    # and year 3 is planned at the new premium of its age
    live_until(policy, YEAR_3)
    assert [(i.number, i.amount) for i in instalments(policy)][2:] == [(3, D("920.00"))]
    policy.refresh_from_db()
    assert policy.premium == D("900.00")


def test_the_demo_market_has_a_term_life_product_whose_premium_steps_up_by_year() -> None:
    from huibao.catalog.demo.generator import generate_market
    from huibao.catalog.io import schema_errors

    market = generate_market(products=300)
    stepped = [
        p.document
        for p in market.products
        if (p.document["version"]["pricing"].get("premium_steps") == "attained_age")
    ]
    assert len(stepped) == 1 and stepped[0]["product"]["line"] == "term_life"
    doc = stepped[0]
    assert schema_errors(doc) == []
    version = doc["version"]
    plans = [
        rating_rules.PlanTerms(
            code=p["code"],
            name=p["name"],
            min_sum_insured=D(str(p["min_sum_insured"])),
            max_sum_insured=D(str(p["max_sum_insured"])),
        )
        for p in doc["plans"]
    ]
    product = rating_rules.make_rating_product(
        version_id=1,
        product_code=doc["product"]["code"],
        pricing=version["pricing"],
        eligibility=version.get("eligibility"),
        term_options=version["term_options"],
        payment_modes=version["payment_modes"],
        plans=plans,
    )
    inputs = {"age": 40, "sex": "M", "term": "20y", "payment_mode": "annual", "sum_insured": "1000000"}
    years = rating_rules.premiums_by_year(
        product, plans[0].code, inputs, years=20, start=datetime.date(2026, 1, 1)
    )
    # natural premiums: never lower, and markedly higher by the end of the term (age 59)
    assert all(a <= b for a, b in itertools.pairwise(years)) and years[-1] > years[0] * 3
