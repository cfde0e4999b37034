"""The benefit rules, table-driven and by property (no database)."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace
from datetime import date
from decimal import Decimal
from functools import reduce

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huibao.catalog.claim_terms import (
    BenefitKind,
    ClaimType,
    CoverageTerms,
    DeductibleBasis,
    ExclusionTerm,
    HourBand,
)
from huibao.claim.rules import (
    BenefitInputError,
    Expense,
    Loss,
    UsageSoFar,
    benefit_as_json,
    benefit_from_json,
    calculate_benefit,
    policy_year_bounds,
)

D = Decimal


def medical(**kw: object) -> CoverageTerms:
    base = CoverageTerms(
        code="medical",
        name="一般医疗保险金",
        claim_type=ClaimType.MEDICAL,
        benefit_kind=BenefitKind.REIMBURSEMENT,
        sum_insured=D("2000000.00"),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def claim(*expenses: Expense, claimed: str | None = None, social: bool = True, cause: str = "") -> Loss:
    total = sum((e.amount for e in expenses), D("0"))
    return Loss(
        amount_claimed=D(claimed) if claimed is not None else total,
        expenses=expenses,
        social_insurance_settled=social,
        cause=cause,
    )


def inpatient(amount: str) -> Expense:
    return Expense("inpatient", D(amount))


NO_USAGE = UsageSoFar()


# --- reimbursement --------------------------------------------------------------------------------

REIMBURSEMENT_CASES = [
    # (id, terms, loss, usage, payable, deductible applied)
    ("no deductible, 100%", medical(), claim(inpatient("1200.00")), NO_USAGE, "1200.00", "0"),
    (
        "per-claim deductible",
        medical(deductible=D("100.00")),
        claim(inpatient("1200.00")),
        NO_USAGE,
        "1100.00",
        "100.00",
    ),
    (
        "per-claim deductible again on a second claim",
        medical(deductible=D("100.00")),
        claim(inpatient("1200.00")),
        UsageSoFar(paid=D("1100.00")),
        "1100.00",
        "100.00",
    ),
    (
        "expenses under the deductible pay nothing",
        medical(deductible=D("500.00")),
        claim(inpatient("300.00")),
        NO_USAGE,
        "0",
        "300.00",
    ),
    (
        "per-year deductible: first claim absorbs part",
        medical(deductible=D("10000.00"), deductible_basis=DeductibleBasis.PER_YEAR),
        claim(inpatient("4000.00")),
        NO_USAGE,
        "0",
        "4000.00",
    ),
    (
        "per-year deductible: the rest is taken from the next claim",
        medical(deductible=D("10000.00"), deductible_basis=DeductibleBasis.PER_YEAR),
        claim(inpatient("20000.00")),
        UsageSoFar(deductible_used=D("4000.00")),
        "14000.00",
        "6000.00",
    ),
    (
        "per-year deductible already absorbed",
        medical(deductible=D("10000.00"), deductible_basis=DeductibleBasis.PER_YEAR),
        claim(inpatient("20000.00")),
        UsageSoFar(deductible_used=D("10000.00"), paid=D("5000.00")),
        "20000.00",
        "0",
    ),
    (
        "60% without social insurance settlement",
        medical(ratio_without_social_insurance=D("0.6")),
        claim(inpatient("1000.00"), social=False),
        NO_USAGE,
        "600.00",
        "0",
    ),
    (
        "100% with settlement",
        medical(ratio_without_social_insurance=D("0.6")),
        claim(inpatient("1000.00"), social=True),
        NO_USAGE,
        "1000.00",
        "0",
    ),
    (
        "ratio after the deductible, rounded half up to the fen",
        medical(deductible=D("100.00"), ratio_with_social_insurance=D("0.85")),
        claim(inpatient("333.30")),
        NO_USAGE,
        "198.31",  # 233.30 × 0.85 = 198.305: half up (half even would say 198.30)
        "100.00",
    ),
    (
        "rounding half up",
        medical(ratio_with_social_insurance=D("0.5")),
        claim(inpatient("0.01")),
        NO_USAGE,
        "0.01",  # 0.005 → 0.01
        "0",
    ),
    (
        "excluded items are not paid",
        medical(),
        claim(inpatient("800.00"), Expense("drugs", D("200.00"), covered=False)),
        NO_USAGE,
        "800.00",
        "0",
    ),
    (
        "item limit caps the category",
        medical(item_limits={"outpatient": D("5000.00")}),
        claim(inpatient("1000.00"), Expense("outpatient", D("7000.00"))),
        NO_USAGE,
        "6000.00",
        "0",
    ),
    (
        "item limit less what earlier claims used",
        medical(item_limits={"outpatient": D("5000.00")}),
        claim(Expense("outpatient", D("3000.00"))),
        UsageSoFar(paid=D("4000.00"), item_paid={"outpatient": D("4000.00")}),
        "1000.00",
        "0",
    ),
    (
        "item limit used up",
        medical(item_limits={"outpatient": D("5000.00")}),
        claim(Expense("outpatient", D("3000.00"))),
        UsageSoFar(paid=D("5000.00"), item_paid={"outpatient": D("5000.00")}),
        "0",
        "0",
    ),
    (
        "per-claim limit",
        medical(per_claim_limit=D("3000.00")),
        claim(inpatient("8000.00")),
        NO_USAGE,
        "3000.00",
        "0",
    ),
    (
        "annual limit below the sum insured",
        medical(annual_limit=D("10000.00")),
        claim(inpatient("8000.00")),
        UsageSoFar(paid=D("6000.00")),
        "4000.00",
        "0",
    ),
    (
        "sum insured remaining",
        medical(sum_insured=D("10000.00")),
        claim(inpatient("8000.00")),
        UsageSoFar(paid=D("9500.00")),
        "500.00",
        "0",
    ),
    (
        "never more than claimed",
        medical(),
        claim(inpatient("8000.00"), claimed="5000.00"),
        NO_USAGE,
        "5000.00",
        "0",
    ),
    (
        "no invoice lines: the amount claimed is the expense",
        medical(deductible=D("50.00")),
        Loss(amount_claimed=D("450.00")),
        NO_USAGE,
        "400.00",
        "50.00",
    ),
    (
        "all together",
        medical(
            deductible=D("10000.00"),
            deductible_basis=DeductibleBasis.PER_YEAR,
            ratio_without_social_insurance=D("0.6"),
            item_limits={"outpatient": D("5000.00")},
        ),
        claim(
            inpatient("22000.00"),
            Expense("outpatient", D("7000.00")),
            Expense("drugs", D("1000.00"), covered=False),
            social=False,
        ),
        UsageSoFar(deductible_used=D("3000.00")),
        "12000.00",  # 30000 − 1000 − 2000 = 27000; − 7000 = 20000; × 60 %
        "7000.00",
    ),
]


@pytest.mark.parametrize(
    ("terms", "loss", "usage", "payable", "deductible"),
    [pytest.param(*case[1:], id=case[0]) for case in REIMBURSEMENT_CASES],
)
def test_reimbursement(terms, loss, usage, payable, deductible) -> None:
    benefit = calculate_benefit(terms, loss, usage)
    assert benefit.payable == D(payable)
    assert benefit.deductible_applied == D(deductible)
    assert benefit.lines[-1].label == "应赔付金额"
    assert benefit.lines[-1].amount == benefit.payable
    assert benefit.usage_added.paid == benefit.payable
    assert bool(benefit.refusal) == (benefit.payable == 0)


def test_the_lines_explain_every_step_in_chinese() -> None:
    terms = medical(
        deductible=D("10000.00"),
        deductible_basis=DeductibleBasis.PER_YEAR,
        ratio_without_social_insurance=D("0.6"),
        item_limits={"outpatient": D("5000.00")},
        per_claim_limit=D("11000.00"),
    )
    loss = claim(
        inpatient("22000.00"),
        Expense("outpatient", D("7000.00")),
        Expense("drugs", D("1000.00"), covered=False),
        social=False,
    )
    benefit = calculate_benefit(terms, loss, UsageSoFar(deductible_used=D("3000.00")))
    assert [(line.label, line.amount) for line in benefit.lines] == [
        ("费用合计", D("30000.00")),
        ("不在保障范围内的费用", D("29000.00")),
        ("门急诊医疗费用分项限额", D("27000.00")),
        ("免赔额", D("20000.00")),
        ("赔付比例 60%（未经社保结算）", D("12000.00")),
        ("单次赔付限额", D("11000.00")),
        ("应赔付金额", D("11000.00")),
    ]
    assert "本保单年度已抵扣 ¥3,000.00" in benefit.lines[3].note
    assert "本次抵扣 ¥7,000.00" in benefit.lines[3].note
    assert benefit.usage_added == UsageSoFar(
        paid=D("11000.00"), deductible_used=D("7000.00"), item_paid={"outpatient": D("5000.00")}
    )


def test_a_per_claim_deductible_is_not_added_to_the_years_usage() -> None:
    benefit = calculate_benefit(medical(deductible=D("100.00")), claim(inpatient("500.00")), NO_USAGE)
    assert benefit.deductible_applied == D("100.00")
    assert benefit.usage_added.deductible_used == 0


def test_the_remaining_annual_limit_line_says_what_was_paid() -> None:
    benefit = calculate_benefit(
        medical(sum_insured=D("10000.00")), claim(inpatient("8000.00")), UsageSoFar(paid=D("9500.00"))
    )
    line = benefit.lines[-2]
    assert line.label == "本保单年度剩余保额"
    assert "已赔付 ¥9,500.00" in line.note


def test_an_exhausted_year_is_a_refusal_saying_so() -> None:
    benefit = calculate_benefit(
        medical(sum_insured=D("10000.00")), claim(inpatient("800.00")), UsageSoFar(paid=D("10000.00"))
    )
    assert benefit.payable == 0
    assert benefit.refusal == "本保单年度保额已用完"


# --- several claims of one policy year ----------------------------------------------------------


def pay_in_turn(terms: CoverageTerms, losses: list[Loss]) -> tuple[list[Decimal], UsageSoFar]:
    usage, paid = UsageSoFar(), []
    for loss in losses:
        benefit = calculate_benefit(terms, loss, usage)
        paid.append(benefit.payable)
        usage = usage.plus(benefit.usage_added)
    return paid, usage


AGGREGATE_CASES = [
    (
        "per-year deductible spread over three claims",
        medical(deductible=D("10000.00"), deductible_basis=DeductibleBasis.PER_YEAR),
        ["6000.00", "6000.00", "3000.00"],
        ["0", "2000.00", "3000.00"],
    ),
    (
        "annual limit reached on the third claim",
        medical(annual_limit=D("10000.00")),
        ["4000.00", "4000.00", "4000.00", "4000.00"],
        ["4000.00", "4000.00", "2000.00", "0"],
    ),
    (
        "per-claim deductible each time, then the annual limit",
        medical(deductible=D("500.00"), annual_limit=D("5000.00")),
        ["3000.00", "3000.00", "3000.00"],
        ["2500.00", "2500.00", "0"],
    ),
]


@pytest.mark.parametrize(
    ("terms", "amounts", "expected"), [pytest.param(*c[1:], id=c[0]) for c in AGGREGATE_CASES]
)
def test_claims_of_one_year_in_turn(terms, amounts, expected) -> None:
    paid, usage = pay_in_turn(terms, [claim(inpatient(a)) for a in amounts])
    assert paid == [D(x) for x in expected]
    assert usage.paid == sum(paid, D("0"))


def test_item_limits_fold_across_claims() -> None:
    terms = medical(item_limits={"outpatient": D("5000.00")})
    losses = [claim(Expense("outpatient", D("2000.00"))) for _ in range(4)]
    paid, usage = pay_in_turn(terms, losses)
    assert paid == [D("2000.00"), D("2000.00"), D("1000.00"), D("0")]
    assert usage.item_paid == {"outpatient": D("5000.00")}


# --- fixed, daily, hourly bands, scale, none, exclusions ---------------------------------------


def critical_illness(**kw: object) -> CoverageTerms:
    base = CoverageTerms(
        code="ci",
        name="重大疾病保险金",
        claim_type=ClaimType.CRITICAL_ILLNESS,
        benefit_kind=BenefitKind.FIXED,
        sum_insured=D("300000.00"),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("terms", "claimed", "usage", "payable", "refused"),
    [
        pytest.param(critical_illness(), "300000.00", NO_USAGE, "300000.00", False, id="lump sum"),
        pytest.param(
            critical_illness(fixed_amount=D("50000.00")),
            "300000.00",
            NO_USAGE,
            "50000.00",
            False,
            id="fixed amount",
        ),
        pytest.param(critical_illness(), "100000.00", NO_USAGE, "100000.00", False, id="not above claimed"),
        pytest.param(
            critical_illness(), "300000.00", UsageSoFar(paid=D("300000.00")), "0", True, id="once per year"
        ),
        pytest.param(
            critical_illness(fixed_amount=D("1000.00"), sum_insured=D("2500.00"), fixed_once_per_year=False),
            "1000.00",
            UsageSoFar(paid=D("2000.00")),
            "500.00",
            False,
            id="several a year, within what is left",
        ),
    ],
)
def test_fixed(terms, claimed, usage, payable, refused) -> None:
    benefit = calculate_benefit(terms, Loss(amount_claimed=D(claimed)), usage)
    assert benefit.payable == D(payable)
    assert bool(benefit.refusal) is refused


def test_fixed_once_per_year_says_why() -> None:
    benefit = calculate_benefit(
        critical_illness(), Loss(amount_claimed=D("300000.00")), UsageSoFar(paid=D("300000.00"))
    )
    assert "每个保单年度限给付一次" in benefit.refusal


def hospital_cash(**kw: object) -> CoverageTerms:
    base = CoverageTerms(
        code="cash",
        name="住院津贴",
        claim_type=ClaimType.HOSPITAL_CASH,
        benefit_kind=BenefitKind.DAILY,
        sum_insured=D("18000.00"),
        daily_amount=D("100.00"),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("terms", "days", "claimed", "usage", "payable", "days_added"),
    [
        pytest.param(hospital_cash(), 7, "700.00", NO_USAGE, "700.00", 7, id="days times the daily amount"),
        pytest.param(hospital_cash(max_days=5), 7, "700.00", NO_USAGE, "500.00", 5, id="day cap per claim"),
        pytest.param(
            hospital_cash(max_days_per_year=10),
            7,
            "700.00",
            UsageSoFar(paid=D("600.00"), days_paid=6),
            "400.00",
            4,
            id="days left in the year",
        ),
        pytest.param(
            hospital_cash(sum_insured=D("1000.00")),
            7,
            "700.00",
            UsageSoFar(paid=D("750.00"), days_paid=7),
            "250.00",
            2,
            id="amount left pays fewer days",
        ),
        pytest.param(hospital_cash(), 7, "300.00", NO_USAGE, "300.00", 3, id="not above claimed"),
        pytest.param(hospital_cash(), 0, "300.00", NO_USAGE, "0", 0, id="no days"),
    ],
)
def test_daily(terms, days, claimed, usage, payable, days_added) -> None:
    benefit = calculate_benefit(terms, Loss(amount_claimed=D(claimed), days=days), usage)
    assert benefit.payable == D(payable)
    assert benefit.usage_added.days_paid == days_added


def flight_delay(**kw: object) -> CoverageTerms:
    base = CoverageTerms(
        code="delay",
        name="航班延误",
        claim_type=ClaimType.TRAVEL_DELAY,
        benefit_kind=BenefitKind.HOURLY_BANDS,
        sum_insured=D("1000.00"),
        hour_bands=(HourBand(6, D("400.00")), HourBand(2, D("100.00")), HourBand(4, D("200.00"))),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("hours", "usage", "payable"),
    [
        ("1.5", NO_USAGE, "0"),
        ("2", NO_USAGE, "100.00"),
        ("3.9", NO_USAGE, "100.00"),
        ("4", NO_USAGE, "200.00"),
        ("12", NO_USAGE, "400.00"),
        ("12", UsageSoFar(paid=D("800.00")), "200.00"),
    ],
)
def test_hourly_bands_pay_the_highest_band_reached(hours, usage, payable) -> None:
    benefit = calculate_benefit(flight_delay(), Loss(amount_claimed=D("400.00"), delay_hours=D(hours)), usage)
    assert benefit.payable == D(payable)


def test_a_delay_under_every_band_is_refused_with_the_lowest_band() -> None:
    benefit = calculate_benefit(
        flight_delay(), Loss(amount_claimed=D("400.00"), delay_hours=D("1.5")), NO_USAGE
    )
    assert benefit.refusal == "延误 1.5 小时，未达到最低给付时长 2 小时"


def accident(**kw: object) -> CoverageTerms:
    base = CoverageTerms(
        code="accident",
        name="意外身故、伤残",
        claim_type=ClaimType.ACCIDENT,
        benefit_kind=BenefitKind.SCALE,
        sum_insured=D("500000.00"),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("grade", "share"),
    [
        (1, "1"),
        (2, "0.9"),
        (3, "0.8"),
        (4, "0.7"),
        (5, "0.6"),
        (6, "0.5"),
        (7, "0.4"),
        (8, "0.3"),
        (9, "0.2"),
        (10, "0.1"),
        (None, "1"),
    ],
)
def test_scale_of_the_disability_standard(grade, share) -> None:
    benefit = calculate_benefit(accident(), Loss(amount_claimed=D("500000.00"), grade=grade), NO_USAGE)
    assert benefit.payable == D("500000.00") * D(share)


def test_scale_rounds_to_the_fen_and_counts_earlier_grades() -> None:
    # given a grade-10 disability already paid (10 %) on an odd sum insured
    terms = accident(sum_insured=D("12345.67"))
    first = calculate_benefit(terms, Loss(amount_claimed=D("12345.67"), grade=10), NO_USAGE)
    assert first.payable == D("1234.57")  # 1234.567 half up
    # when death follows in the same year, then the rest of the sum insured is paid
    second = calculate_benefit(terms, Loss(amount_claimed=D("12345.67")), first.usage_added)
    assert second.payable == D("11111.10")
    assert second.lines[-2].label == "本保单年度剩余保额"


def test_none_is_not_claimable() -> None:
    terms = replace(medical(), benefit_kind=BenefitKind.NONE)
    benefit = calculate_benefit(terms, claim(inpatient("100.00")), NO_USAGE)
    assert benefit.payable == 0
    assert "不提供理赔给付" in benefit.refusal


@pytest.mark.parametrize("kind_terms", [medical, critical_illness, hospital_cash, flight_delay, accident])
def test_an_exclusion_pays_nothing_and_quotes_its_clause(kind_terms) -> None:
    exclusion = ExclusionTerm(
        cause="drunk_driving", clause="第七条第（三）款", text="醉酒驾驶导致的事故不在保障范围内"
    )
    terms = kind_terms(exclusions=(exclusion,))
    loss = Loss(amount_claimed=D("500.00"), days=3, delay_hours=D("8"), grade=5, cause="Drunk_Driving ")
    benefit = calculate_benefit(terms, loss, NO_USAGE)
    assert benefit.payable == 0
    assert benefit.refusal == exclusion.text
    assert benefit.clause == exclusion.clause
    assert benefit.lines[0].label == "责任免除"
    assert benefit.usage_added == UsageSoFar()


def test_an_unrelated_cause_is_no_exclusion() -> None:
    exclusion = ExclusionTerm(cause="cosmetic", clause="第七条", text="美容手术")
    benefit = calculate_benefit(
        medical(exclusions=(exclusion,)), claim(inpatient("100.00"), cause="fall"), NO_USAGE
    )
    assert benefit.payable == D("100.00")


@pytest.mark.parametrize(
    "loss",
    [
        Loss(amount_claimed=D("-1.00")),
        Loss(amount_claimed=D("1.005")),
        Loss(amount_claimed=D("10.00"), expenses=(Expense("inpatient", D("-5.00")),)),
        Loss(amount_claimed=D("10.00"), days=-1),
        Loss(amount_claimed=D("10.00"), grade=11),
        Loss(amount_claimed=D("10.00"), grade=0),
    ],
)
def test_impossible_input_is_refused_loudly(loss) -> None:
    with pytest.raises(BenefitInputError):
        calculate_benefit(accident() if loss.grade is not None else medical(), loss, NO_USAGE)


def test_the_refusal_names_the_field_in_the_apis_error_shape() -> None:
    loss = Loss(
        amount_claimed=D("10.00"), expenses=(Expense("inpatient", D("1.00")), Expense("drugs", D("-5.00")))
    )
    with pytest.raises(BenefitInputError) as caught:
        calculate_benefit(medical(), loss, NO_USAGE)
    assert caught.value.http_status == 422
    assert caught.value.as_dict() == {
        "code": "validation_failed",
        "message": "第 2 项费用金额不能为负数（-5.00）",
        "errors": [
            {
                "field": "expenses[1].amount",
                "code": "negative",
                "message": "第 2 项费用金额不能为负数（-5.00）",
            }
        ],
    }


def test_a_zero_claim_pays_nothing_and_says_so() -> None:
    benefit = calculate_benefit(medical(), Loss(amount_claimed=D("0.00")), NO_USAGE)
    assert benefit.payable == 0 and benefit.refusal == "申请金额为零"


# --- policy years -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effective", "incident", "bounds"),
    [
        (date(2026, 3, 1), date(2026, 3, 1), (date(2026, 3, 1), date(2027, 2, 28))),
        (date(2026, 3, 1), date(2027, 2, 28), (date(2026, 3, 1), date(2027, 2, 28))),
        (date(2026, 3, 1), date(2027, 3, 1), (date(2027, 3, 1), date(2028, 2, 29))),
        (date(2026, 1, 15), date(2028, 1, 14), (date(2027, 1, 15), date(2028, 1, 14))),
        (date(2024, 2, 29), date(2025, 2, 27), (date(2024, 2, 29), date(2025, 2, 27))),
        (date(2024, 2, 29), date(2025, 2, 28), (date(2025, 2, 28), date(2026, 2, 27))),
        (date(2024, 2, 29), date(2028, 2, 28), (date(2027, 2, 28), date(2028, 2, 28))),
        (date(2024, 2, 29), date(2028, 2, 29), (date(2028, 2, 29), date(2029, 2, 27))),
        (date(2025, 12, 31), date(2026, 12, 31), (date(2026, 12, 31), date(2027, 12, 30))),
    ],
)
def test_policy_year_bounds(effective, incident, bounds) -> None:
    assert policy_year_bounds(effective, incident) == bounds


def test_an_incident_before_the_policy_has_no_policy_year() -> None:
    with pytest.raises(BenefitInputError):
        policy_year_bounds(date(2026, 3, 1), date(2026, 2, 28))


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)), st.integers(0, 3650))
def test_policy_years_tile_time(effective: date, offset: int) -> None:
    incident = date.fromordinal(effective.toordinal() + offset)
    start, end = policy_year_bounds(effective, incident)
    assert start <= incident <= end
    assert 364 <= (end - start).days <= 365
    # the next day is in this year or starts the next one
    following = date.fromordinal(end.toordinal() + 1)
    assert policy_year_bounds(effective, following)[0] == following


# --- properties ---------------------------------------------------------------------------------

fen = st.integers(min_value=0, max_value=5_000_000).map(lambda n: Decimal(n) / 100)
ratios = st.integers(min_value=0, max_value=10000).map(lambda n: Decimal(n) / 10000)
categories = st.sampled_from(["inpatient", "outpatient", "drugs"])
expenses = st.lists(st.builds(Expense, categories, fen, st.booleans()), min_size=1, max_size=6)


@st.composite
def reimbursement_terms(draw: st.DrawFn) -> CoverageTerms:
    return medical(
        sum_insured=draw(fen),
        annual_limit=draw(st.none() | fen),
        per_claim_limit=draw(st.none() | fen),
        deductible=draw(fen),
        deductible_basis=draw(st.sampled_from(list(DeductibleBasis))),
        ratio_with_social_insurance=draw(ratios),
        ratio_without_social_insurance=draw(ratios),
        item_limits=draw(st.dictionaries(categories, fen, max_size=2)),
    )


@st.composite
def usages(draw: st.DrawFn) -> UsageSoFar:
    return UsageSoFar(
        paid=draw(fen),
        deductible_used=draw(fen),
        item_paid=draw(st.dictionaries(categories, fen, max_size=2)),
    )


@given(reimbursement_terms(), expenses, fen, st.booleans(), usages())
def test_never_more_than_claimed_nor_than_the_year_has_left(terms, items, claimed, social, usage) -> None:
    loss = Loss(amount_claimed=claimed, expenses=tuple(items), social_insurance_settled=social)
    benefit = calculate_benefit(terms, loss, usage)
    year = min(terms.sum_insured, terms.annual_limit) if terms.annual_limit is not None else terms.sum_insured
    assert 0 <= benefit.payable <= claimed
    assert benefit.payable <= max(Decimal(0), year - usage.paid)
    assert benefit.payable == benefit.payable.quantize(Decimal("0.01"))
    assert benefit.payable <= sum((e.amount for e in items if e.covered), Decimal(0))


@given(reimbursement_terms(), expenses, st.builds(Expense, categories, fen, st.just(True)), usages())
def test_more_expenses_never_pay_less(terms, items, extra, usage) -> None:
    claimed = Decimal("100000000.00")
    less = calculate_benefit(terms, Loss(amount_claimed=claimed, expenses=tuple(items)), usage)
    more = calculate_benefit(terms, Loss(amount_claimed=claimed, expenses=(*items, extra)), usage)
    assert more.payable >= less.payable


@given(reimbursement_terms(), st.lists(expenses, min_size=1, max_size=8))
def test_a_years_claims_paid_one_by_one_never_exceed_the_annual_limit(terms, claims) -> None:
    losses = [Loss(amount_claimed=Decimal("100000000.00"), expenses=tuple(items)) for items in claims]
    paid, usage = pay_in_turn(terms, losses)
    year = min(terms.sum_insured, terms.annual_limit) if terms.annual_limit is not None else terms.sum_insured
    assert sum(paid, Decimal(0)) <= year
    assert usage.paid == sum(paid, Decimal(0))
    if terms.deductible_basis is DeductibleBasis.PER_YEAR:
        assert usage.deductible_used <= terms.deductible
    for category, limit in terms.item_limits.items():
        assert usage.item_paid.get(category, Decimal(0)) <= limit


@given(
    st.sampled_from([critical_illness(), hospital_cash(max_days=30), flight_delay(), accident()]),
    st.lists(
        st.tuples(fen, st.integers(0, 60), st.integers(0, 24), st.none() | st.integers(1, 10)), max_size=8
    ),
)
def test_every_kind_stays_within_the_year_and_the_claim(terms, claims) -> None:
    usage = UsageSoFar()
    for claimed, days, hours, grade in claims:
        loss = Loss(amount_claimed=claimed, days=days, delay_hours=Decimal(hours), grade=grade)
        benefit = calculate_benefit(terms, loss, usage)
        assert 0 <= benefit.payable <= claimed
        usage = usage.plus(benefit.usage_added)
    assert usage.paid <= terms.sum_insured


def test_usage_minus_undoes_plus() -> None:
    a = UsageSoFar(
        paid=D("100.00"), deductible_used=D("50.00"), item_paid={"outpatient": D("30.00")}, days_paid=2
    )
    b = UsageSoFar(
        paid=D("40.00"),
        deductible_used=D("10.00"),
        item_paid={"outpatient": D("5.00"), "drugs": D("1.00")},
        days_paid=1,
    )
    assert a.plus(b).minus(b) == a
    assert UsageSoFar().plus(reduce(UsageSoFar.plus, [b, b])).minus(b) == b


@given(reimbursement_terms(), expenses, st.booleans(), usages())
def test_a_benefit_reads_back_from_json_and_pickles(terms, items, social, usage) -> None:
    loss = Loss(
        amount_claimed=Decimal("100000000.00"), expenses=tuple(items), social_insurance_settled=social
    )
    benefit = calculate_benefit(terms, loss, usage)
    assert benefit_from_json(json.loads(json.dumps(benefit_as_json(benefit)))) == benefit
    assert pickle.loads(pickle.dumps(benefit)) == benefit


@given(st.integers(1, 30), st.integers(1, 60), st.lists(st.integers(0, 40), max_size=10))
def test_daily_days_of_a_year_stay_within_its_day_cap(per_claim, per_year, stays) -> None:
    terms = hospital_cash(max_days=per_claim, max_days_per_year=per_year, sum_insured=D("100000.00"))
    usage = UsageSoFar()
    for days in stays:
        benefit = calculate_benefit(terms, Loss(amount_claimed=D("100000.00"), days=days), usage)
        assert benefit.usage_added.days_paid <= min(days, per_claim)
        assert benefit.payable == D("100.00") * benefit.usage_added.days_paid
        usage = usage.plus(benefit.usage_added)
    assert usage.days_paid <= per_year
