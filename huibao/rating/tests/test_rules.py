from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from huibao.rating.errors import QuoteRejected, SpecError
from huibao.rating.rules import (
    FEN_ZERO,
    PlanTerms,
    cheapest_premium,
    compile_spec,
    make_rating_product,
    premium_for_profile,
    price,
)
from huibao.rating.tests import specs

TERM_LIFE = specs.term_life_product()
AUTO = specs.auto_product()
TRAVEL = specs.travel_product()
ACCIDENT = specs.accident_product()
PRODUCTS = {"term_life": TERM_LIFE, "auto": AUTO, "travel": TRAVEL, "accident": ACCIDENT}


@pytest.mark.parametrize(
    ("product", "plan", "inputs", "premium", "instalment"),
    [
        # 35-year-old man, band 31, 20y: 0.55‰ × 500,000 = 275.00; monthly loading 1.02 → 280.50
        (
            "term_life",
            "standard",
            {"age": 35, "sex": "M", "sum_insured": 500000, "term": "20y"},
            "275.00",
            None,
        ),
        (
            "term_life",
            "standard",
            {"age": 35, "sex": "M", "sum_insured": "500000", "term": "20y", "payment_mode": "monthly"},
            "280.50",
            "23.38",
        ),
        # woman 0.8 × 0.40 × 0.8 (band 18) × 100 = 25.60 → minimum 50
        (
            "term_life",
            "standard",
            {"age": 20, "sex": "F", "sum_insured": 100000, "term": "10y"},
            "50.00",
            None,
        ),
        # suv 1180 + 200000 × 0.012 = 3580; ncd 7 years → band 4 → 0.6; default score 80 → 0.95 → 2040.60
        (
            "auto",
            "basic",
            {"age": 35, "sum_insured": 200000, "vehicle_class": "suv", "no_claim_years": 7},
            "2040.60",
            None,
        ),
        # sedan 950 + 600 = 1550; ncd 0 → 1; score 55 → 1.15 → 1782.50
        (
            "auto",
            "basic",
            {"age": 35, "sum_insured": 50000, "vehicle_class": "sedan", "driving_score": 55},
            "1782.50",
            None,
        ),
        # europe, 10 days (band 8 → 8.5/day at 500k) = 85.00
        ("travel", "plus", {"age": 3, "destination_zone": "europe", "trip_days": 10}, "85.00", None),
        # asia, default 7 days, 300k: 6 × 0.6 = 3.6/day → 25.2
        ("travel", "basic", {"age": 30, "destination_zone": "asia"}, "25.20", None),
        # 200,000 × 0.0009 = 180 × occupation 1.5 × age 1.3 = 351
        ("accident", "basic", {"age": 55, "occupation_class": 3, "sum_insured": 200000}, "351.00", None),
    ],
)
def test_price_table(product, plan, inputs, premium, instalment):
    # given a product and valid inputs
    # when priced
    result = price(PRODUCTS[product], plan, inputs)
    # then the premium is rounded once to the fen and the monthly instalment follows
    assert result.premium == Decimal(premium)
    assert result.instalment == (Decimal(instalment) if instalment else None)


@pytest.mark.parametrize(
    ("product", "plan", "inputs", "expected"),
    [
        (
            "term_life",
            "standard",
            {"age": 70, "sex": "M", "sum_insured": 100000},
            [("inputs.age", "age_out_of_range")],
        ),
        (
            "term_life",
            "standard",
            {"age": 17, "sex": "M", "sum_insured": 100000},
            [("inputs.age", "age_out_of_range")],
        ),
        ("term_life", "standard", {"sex": "M", "sum_insured": 100000}, [("inputs.age", "required")]),
        (
            "term_life",
            "standard",
            {"age": "abc", "sex": "M", "sum_insured": 100000},
            [("inputs.age", "invalid")],
        ),
        (
            "term_life",
            "standard",
            {"age": 30, "sex": "X", "sum_insured": 4000000, "term": "5y", "payment_mode": "single"},
            [
                ("inputs.sex", "invalid_choice"),
                ("inputs.sum_insured", "sum_insured_above_limit"),
                ("inputs.term", "unknown_term"),
                ("inputs.payment_mode", "unknown_payment_mode"),
            ],
        ),
        (
            "term_life",
            "standard",
            {"age": 30, "sex": "M", "sum_insured": 50000},
            [("inputs.sum_insured", "sum_insured_below_minimum")],
        ),
        (
            "term_life",
            "standard",
            {"age": 30, "sex": "M", "sum_insured": 150000},
            [("inputs.sum_insured", "sum_insured_off_step")],
        ),
        ("term_life", "standard", {"age": 30, "sex": "M"}, [("inputs.sum_insured", "required")]),
        ("term_life", "gold", {"age": 30, "sex": "M"}, [("plan_code", "unknown_plan")]),
        (
            "accident",
            "basic",
            {"age": 30, "occupation_class": 4, "sum_insured": 100000},
            [("inputs.occupation_class", "occupation_not_accepted")],
        ),
        ("accident", "basic", {"age": 30, "sum_insured": 100000}, [("inputs.occupation_class", "required")]),
        (
            "auto",
            "basic",
            {
                "age": 30,
                "sum_insured": 50000,
                "vehicle_class": "bus",
                "region": "510000",
                "no_claim_years": 11,
            },
            [
                ("inputs.region", "region_not_accepted"),
                ("inputs.vehicle_class", "invalid_choice"),
                ("inputs.no_claim_years", "out_of_range"),
            ],
        ),
        ("auto", "basic", {"age": 30, "sum_insured": 50000}, [("inputs.vehicle_class", "required")]),
        (
            "travel",
            "basic",
            {"age": 30, "destination_zone": "asia", "trip_days": 1.5},
            [("inputs.trip_days", "invalid")],
        ),
    ],
)
def test_invalid_inputs_are_all_reported(product, plan, inputs, expected):
    # when priced with invalid inputs
    with pytest.raises(QuoteRejected) as info:
        price(PRODUCTS[product], plan, inputs)
    # then every problem is reported with its field and rule, in Chinese
    assert [(e.field, e.code) for e in info.value.errors] == expected
    assert all(e.message for e in info.value.errors)
    assert info.value.http_status == 422


def test_age_message_names_the_range():
    with pytest.raises(QuoteRejected) as info:
        price(TERM_LIFE, "standard", {"age": 61, "sex": "M", "sum_insured": 100000})
    assert info.value.errors[0].message == "被保险人年龄须在18周岁至60周岁之间，当前为61周岁"


def test_city_code_inside_an_accepted_province_is_accepted():
    result = price(
        AUTO, "basic", {"age": 30, "sum_insured": 50000, "vehicle_class": "sedan", "region": "310115"}
    )
    assert result.inputs["region"] == "310115"


def test_birth_date_gives_age_at_start_date():
    # given someone born 2000-06-02, insured from 2026-06-01 → 25 years old (band 18)
    result = price(
        TERM_LIFE,
        "standard",
        {
            "birth_date": "2000-06-02",
            "start_date": "2026-06-01",
            "sex": "M",
            "sum_insured": 1000000,
            "term": "10y",
        },
    )
    # then the age is derived and recorded with the dates for replay
    assert result.inputs["age"] == 25
    assert result.inputs["birth_date"] == "2000-06-02"
    assert result.steps[0].lookups[0].key == "18|M|10y"


def test_infant_min_age_in_days_is_checked_with_birth_date():
    with pytest.raises(QuoteRejected) as info:
        price(TRAVEL, "basic", {"birth_date": "2026-05-20", "destination_zone": "asia"}, on=date(2026, 6, 1))
    assert info.value.errors[0].code == "age_out_of_range"
    assert "出生满28天" in info.value.errors[0].message


def test_missing_factor_names_table_and_key():
    # given a spec whose table lacks an entry for truck
    spec = specs.auto_spec()
    del spec["tables"]["vehicle_base"]["values"]["truck"]
    product = make_rating_product(
        version_id=9,
        product_code="a",
        pricing=spec,
        eligibility={},
        term_options=[],
        payment_modes=["annual"],
        plans=[PlanTerms("p", "P", Decimal(50000), Decimal(50000))],
    )
    # when priced for a truck
    with pytest.raises(QuoteRejected) as info:
        price(product, "p", {"vehicle_class": "truck"})
    # then
    (error,) = info.value.errors
    assert (error.field, error.code) == ("inputs.vehicle_class", "missing_factor")
    assert "车型基准保费" in error.message and "truck" in error.message


def test_steps_explain_the_premium():
    result = price(ACCIDENT, "basic", {"age": 30, "occupation_class": 2, "sum_insured": 100000})
    assert [s.name for s in result.steps] == ["base", "occupation_factor", "age_loading", "premium"]
    assert result.steps[1].as_dict() == {
        "name": "occupation_factor",
        "label": "职业系数",
        "expr": "table('occupation')",
        "value": "1.2",
        "lookups": [{"table": "occupation", "key": "2", "value": "1.2"}],
    }
    assert result.inputs == {
        "age": 30,
        "sum_insured": "100000",
        "occupation_class": 2,
        "term": "1y",
        "payment_mode": "single",
    }


def test_normalised_inputs_replay_to_the_same_result():
    first = price(
        AUTO, "full", {"age": 40, "sum_insured": 300000.0, "vehicle_class": "truck", "no_claim_years": "2"}
    )
    again = price(AUTO, "full", first.inputs)
    assert again.premium == first.premium
    assert again.steps == first.steps


@pytest.mark.parametrize(
    ("pricing", "message"),
    [
        ({}, "不能为空"),
        ({"steps": []}, "至少有一个步骤"),
        ({"steps": [{"name": "p", "expr": "age +"}]}, "需要数字"),
        ({"steps": [{"name": "p", "expr": "1"}], "result": "q"}, "不存在"),
        ({"steps": [{"name": "p", "expr": "1 == 1"}]}, "必须是数字"),
        ({"steps": [{"name": "age", "expr": "1"}]}, "重名"),
        ({"inputs": {"age": {"type": "integer"}}, "steps": [{"name": "p", "expr": "1"}]}, "通用输入"),
        ({"inputs": {"z": {"type": "choice"}}, "steps": [{"name": "p", "expr": "1"}]}, "choices"),
        (
            {
                "inputs": {"z": {"type": "integer", "min": 1, "default": 0}},
                "steps": [{"name": "p", "expr": "1"}],
            },
            "默认值",
        ),
        ({"steps": [{"name": "p", "expr": "q"}, {"name": "q", "expr": "1"}]}, "未知的名称 'q'"),
        ({"steps": [{"name": "p", "expr": "1"}], "properties": {"non_decreasing_in": ["zzz"]}}, "不是输入"),
    ],
)
def test_bad_specs_are_refused(pricing, message):
    with pytest.raises(SpecError) as info:
        compile_spec(pricing)
    assert message in str(info.value)


def test_cheapest_premium_uses_youngest_adult_and_minimum_sum_insured():
    # term life: adult 18, min 100,000, woman, 10y → 0.40 × 0.8 × 0.8 × 100 = 25.60 → minimum 50
    assert cheapest_premium(TERM_LIFE) == Decimal("50.00")
    # travel: cheapest plan 300k asia 7 days → 25.20
    assert cheapest_premium(TRAVEL) == Decimal("25.20")
    # accident: age 18 class 1 100,000 → 90
    assert cheapest_premium(ACCIDENT) == Decimal("90.00")


def test_premium_for_profile_is_none_when_not_eligible():
    assert premium_for_profile(TERM_LIFE, {"age": 70, "sex": "M"}) is None
    assert premium_for_profile(ACCIDENT, {"age": 60, "occupation_class": 3}) == Decimal("175.50")


# --- properties -------------------------------------------------------------------------------

ages = st.integers(min_value=18, max_value=60)


@settings(max_examples=200, deadline=None)
@given(
    product=st.sampled_from(list(PRODUCTS.values())),
    age=ages,
    sex=st.sampled_from(["M", "F"]),
    steps_a=st.integers(min_value=0, max_value=29),
    steps_b=st.integers(min_value=0, max_value=29),
    data=st.data(),
)
def test_premium_never_falls_as_declared_inputs_rise(product, age, sex, steps_a, steps_b, data):
    # given a product declaring non_decreasing_in and a plan
    plan = data.draw(st.sampled_from(product.plans))
    step = plan.sum_insured_step or Decimal(10000)
    span = plan.max_sum_insured - plan.min_sum_insured
    low, high = sorted((steps_a, steps_b))
    si_low = min(plan.min_sum_insured + step * low, plan.max_sum_insured) if span else plan.min_sum_insured
    si_high = min(plan.min_sum_insured + step * high, plan.max_sum_insured) if span else plan.min_sum_insured
    if plan.sum_insured_step and si_high == plan.max_sum_insured and (span % step):
        si_high = si_low
    base = {
        "age": age,
        "sex": sex,
        "occupation_class": 1,
        "vehicle_class": "sedan",
        "destination_zone": "world",
    }
    # when the declared input rises
    for name in product.spec.non_decreasing_in:
        if name == "sum_insured":
            lo_inputs, hi_inputs = {**base, name: si_low}, {**base, name: si_high}
        elif name == "trip_days":
            lo_inputs = {**base, "sum_insured": si_low, name: low + 1}
            hi_inputs = {**base, "sum_insured": si_low, name: high + 1}
        else:  # occupation_class
            accepted = sorted(product.eligibility.occupation_classes)
            i, j = sorted((steps_a % len(accepted), steps_b % len(accepted)))
            lo_inputs = {**base, "sum_insured": si_low, name: accepted[i]}
            hi_inputs = {**base, "sum_insured": si_low, name: accepted[j]}
        # then the premium does not fall
        assert price(product, plan.code, lo_inputs).premium <= price(product, plan.code, hi_inputs).premium


@settings(max_examples=200, deadline=None)
@given(
    age=st.integers(min_value=18, max_value=60),
    si_steps=st.integers(min_value=0, max_value=29),
    term=st.sampled_from(["10y", "20y", "to70"]),
    mode=st.sampled_from(["annual", "monthly"]),
    sex=st.sampled_from(["M", "F"]),
)
def test_premium_is_quantized_to_fen_and_not_negative(age, si_steps, term, mode, sex):
    inputs = {
        "age": age,
        "sex": sex,
        "sum_insured": 100000 + 100000 * si_steps,
        "term": term,
        "payment_mode": mode,
    }
    result = price(TERM_LIFE, "standard", inputs)
    assert result.premium >= FEN_ZERO
    assert result.premium == result.premium.quantize(Decimal("0.01"))
    assert result.premium.as_tuple().exponent == -2
    if mode == "monthly":
        assert result.instalment == (result.premium / 12).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    # and replaying the normalised inputs gives the same fen and steps
    again = price(TERM_LIFE, "standard", result.inputs)
    assert (again.premium, again.steps_as_dicts()) == (result.premium, result.steps_as_dicts())
