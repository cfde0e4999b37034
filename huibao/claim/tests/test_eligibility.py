"""eligibility.check (pure) table-driven, and the transition guard with its database constraints."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import translation

from huibao.catalog.claim_terms import ClaimTerms, ClaimType, CoverageBasis, claim_terms
from huibao.claim.eligibility import Facts, check
from huibao.claim.lifecycle import transition
from huibao.claim.models import Claim, ClaimStatusChange
from huibao.claim.services import report_claim
from huibao.claim.states import TRANSITIONS, ClaimStatus
from huibao.claim.tests.factories import in_force, medical_policy, report_input, start_of
from huibao.core.errors import InvalidTransition
from huibao.policy.tests.factories import customer

START = datetime.date(2026, 1, 1)
TERMS: ClaimTerms = claim_terms(
    {
        "report_within_days": 30,
        "exclusions": [{"cause": "pre_existing", "clause": "第六条", "text": "既往症不赔"}],
    },
    [
        CoverageBasis("general_medical", "一般医疗", Decimal(100_000), waiting_period_days=30),
        CoverageBasis("waiver", "豁免", Decimal(0)),
    ],
    line="medical",
)


def facts(**kw) -> Facts:
    values = {
        "terms": TERMS,
        "claim_type": ClaimType.MEDICAL,
        "coverage_codes": (),
        "incident_date": START + datetime.timedelta(days=60),
        "reported_on": START + datetime.timedelta(days=70),
        "covered_on_incident": True,
        "state_label": "保障中",
        "effective_on": START,
        "continuous_since": START,
        "expires_on": START + datetime.timedelta(days=365),
    }
    values.update(kw)
    return Facts(**values)


@pytest.mark.parametrize(
    ("overrides", "codes"),
    [
        ({}, []),
        (
            {
                "incident_date": START + datetime.timedelta(days=10),
                "reported_on": START + datetime.timedelta(days=20),
            },
            ["in_waiting_period"],
        ),
        (
            {
                "incident_date": START + datetime.timedelta(days=30),
                "reported_on": START + datetime.timedelta(days=35),
            },
            [],
        ),  # the first day after waiting
        ({"covered_on_incident": False, "state_label": "已满期"}, ["policy_not_in_force"]),
        ({"reported_on": START + datetime.timedelta(days=100)}, ["reported_too_late"]),
        ({"cause": "pre_existing"}, ["excluded_cause"]),
        ({"claim_type": ClaimType.PHONE_SCREEN}, ["claim_type_not_covered"]),
        ({"claim_type": None}, ["claim_type_not_covered"]),
        ({"coverage_codes": ("proton",)}, ["coverage_not_in_policy"]),
        ({"incident_date": START + datetime.timedelta(days=80)}, ["incident_in_future"]),
        ({"amount": Decimal("0")}, ["amount_not_positive"]),
    ],
)
def test_eligibility_answers_every_problem_by_code(overrides, codes):
    assert [p.code for p in check(facts(**overrides)).problems] == codes


CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


@pytest.mark.parametrize(
    ("overrides", "english"),
    [
        ({"amount": Decimal("0")}, "The amount claimed must be more than ¥0"),
        (
            {"incident_date": START + datetime.timedelta(days=80)},
            "The incident date cannot be later than today",
        ),
        (
            {"claim_type": ClaimType.PHONE_SCREEN},
            "This policy does not cover this claim type (available: Medical",
        ),
        ({"coverage_codes": ("proton",)}, "Coverage not in this policy for this claim type: proton"),
        (
            {"covered_on_incident": False, "state_label": ""},
            "The incident date 2026-03-02 is outside the period of cover (the policy had not yet "
            "taken effect that day); the policy period is 2026-01-01 to 2027-01-01",
        ),
        ({"reported_on": START + datetime.timedelta(days=100)}, "must be reported within 30 days"),
    ],
)
def test_eligibility_problems_are_in_english_in_english_mode(overrides, english):
    # given a customer who chose English
    with translation.override("en"):
        # when the claim is checked
        problems = check(facts(**overrides)).problems
    # then the message is English, with no Chinese left in it
    assert english in problems[0].message
    assert not CJK.search(problems[0].message), problems[0].message


def test_eligibility_lines_are_in_english_in_english_mode_and_chinese_by_default():
    # given a renewal checked after the waiting period
    renewed = facts(
        effective_on=START + datetime.timedelta(days=365),
        continuous_since=START,
        incident_date=START + datetime.timedelta(days=370),
        reported_on=START + datetime.timedelta(days=371),
    )
    # when checked in English, then in Chinese
    with translation.override("en"):
        english = check(renewed).lines
    with translation.override("zh-hans"):
        chinese = check(renewed).lines
    # then every line reads in the language chosen (the coverage's name is the product's own)
    assert english[0] == "The incident date 2027-01-06 is within the period of cover"
    assert english[1] == "Reported within the 30-day reporting limit"
    assert english[2].startswith("The waiting period is over (a renewal continues the cover")
    assert english[3] == "Coverage that applies: 一般医疗"
    assert chinese[0] == "出险日期2027年1月6日在保障期间内"


def test_the_waiting_period_message_is_english_around_the_coverage_name():
    with translation.override("en"):
        message = (
            check(
                facts(
                    incident_date=START + datetime.timedelta(days=10),
                    reported_on=START + datetime.timedelta(days=20),
                )
            )
            .problems[0]
            .message
        )
    assert message == (
        "The incident date is in the waiting period: 一般医疗 has a 30-day waiting period; "
        "claims are accepted from 2026-01-31"
    )


def test_a_renewal_starts_no_new_waiting_period():
    # given: this policy started on day 365, continuing one that started on day 0
    renewed = facts(
        effective_on=START + datetime.timedelta(days=365),
        continuous_since=START,
        incident_date=START + datetime.timedelta(days=370),
        reported_on=START + datetime.timedelta(days=371),
    )
    # when
    answer = check(renewed)
    # then
    assert answer.ok and any("不重新计算等待期" in line for line in answer.lines)
    fresh = check(
        facts(
            **{
                **{f: getattr(renewed, f) for f in renewed.__slots__},
                "continuous_since": renewed.effective_on,
            }
        )
    )
    assert [p.code for p in fresh.problems] == ["in_waiting_period"]


def test_waivers_are_not_claimable_online():
    assert TERMS.claim_types() == (ClaimType.MEDICAL,)


def test_the_table_lets_every_open_status_withdraw_and_finals_go_nowhere():
    for status in ClaimStatus.values:
        if status in (ClaimStatus.WITHDRAWN, ClaimStatus.CLOSED):
            assert TRANSITIONS[status] == frozenset()
    assert ClaimStatus.WITHDRAWN in TRANSITIONS[ClaimStatus.UNDER_REVIEW]
    assert ClaimStatus.APPROVED in TRANSITIONS[ClaimStatus.MATERIALS_COMPLETE]  # the fast track


@pytest.mark.django_db
def test_an_invalid_move_raises_and_writes_nothing():
    # given

    owner = customer()
    policy = in_force(medical_policy(owner))
    with time_machine.travel(
        datetime.datetime.combine(start_of(policy), datetime.time(10)) + datetime.timedelta(days=130)
    ):
        claim = report_claim(owner, report_input(policy))
    # when
    with pytest.raises(InvalidTransition):
        transition(claim, ClaimStatus.PAID, actor="system")
    # then
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REPORTED
    assert ClaimStatusChange.objects.filter(claim=claim).count() == 1
    # and the database itself refuses a status outside the table and an amount of zero
    with pytest.raises(IntegrityError), transaction.atomic():
        Claim.objects.filter(pk=claim.pk).update(status="lost")
    with pytest.raises(IntegrityError), transaction.atomic():
        Claim.objects.filter(pk=claim.pk).update(amount_claimed=Decimal("0"))
