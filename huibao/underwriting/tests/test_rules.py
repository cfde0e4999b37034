"""The underwriting rules, without the database: one table per rule, and properties that hold for
any answers."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huibao.core.errors import ValidationFailed
from huibao.underwriting.rules import (
    OUTCOMES,
    SEVERITY,
    UnderwritingFacts,
    death_benefit,
    evaluate,
    is_death_coverage,
    validate_rules,
    worst,
    yuan,
)

D = Decimal
QUESTIONS = [
    {"code": "hospitalised", "text": "过去2年内是否曾住院？", "knock_out_answer": True},
    {"code": "chronic", "text": "是否患有慢性疾病？", "knock_out_answer": True},
    {"code": "abnormal_exam", "text": "体检结果是否有异常？", "knock_out_answer": True},
    {"code": "cancer", "text": "是否患有恶性肿瘤？", "knock_out_answer": True},
    {"code": "healthy", "text": "目前是否身体健康、能正常工作生活？", "knock_out_answer": False},
]
ELIGIBILITY = {
    "min_age_days": 28,
    "max_age": 60,
    "occupation_classes": [1, 2, 3],
    "health_questions": QUESTIONS,
}
CLEAN = {"hospitalised": False, "chronic": False, "abnormal_exam": False, "cancer": False, "healthy": True}
RULES: dict[str, Any] = {
    "questions": {
        "hospitalised": {"on_yes": "refer"},
        "chronic": {"on_yes": "loading", "loading_percent": "30"},
        "abnormal_exam": {"on_yes": "exclusion", "exclusion": "甲状腺结节及其并发症"},
    },
    "sum_insured_limits": [{"max_age": 17, "max_sum_insured": "500000", "reason": "未成年人保额上限50万元"}],
    "aggregate_limits": [
        {
            "benefit": "death",
            "max_age": 9,
            "limit": "200000",
            "reason": "未满10周岁未成年人身故保险金总额不得超过20万元",
        },
        {
            "benefit": "death",
            "min_age": 10,
            "max_age": 17,
            "limit": "500000",
            "reason": "10至17周岁不超过50万元",
        },
    ],
    "refer_sum_insured_above": "1000000",
    "refer_age_above": 55,
}


def facts(**changes: Any) -> UnderwritingFacts:
    base = UnderwritingFacts(
        product_code="p1",
        line="critical_illness",
        age_days=30 * 365 + 7,
        age_years=30,
        sex="M",
        relation="self",
        occupation_class=1,
        sum_insured=D(300000),
        death_benefit=D(0),
        existing_death_benefit=D(0),
        health_answers=dict(CLEAN),
        premium=D("3000"),
    )
    if "answers" in changes:
        changes["health_answers"] = {**CLEAN, **changes.pop("answers")}
    return dataclasses.replace(base, **changes)


def decide(rules: dict[str, Any] | None = None, eligibility: dict[str, Any] | None = None, **changes: Any):
    return evaluate(
        RULES if rules is None else rules,
        ELIGIBILITY if eligibility is None else eligibility,
        facts(**changes),
    )


def codes(decision) -> list[str]:
    return [r.code for r in decision.reasons]


# --- health questions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "outcome", "reason", "loading", "exclusions"),
    [
        ({}, "accept", [], D(0), ()),
        ({"hospitalised": True}, "refer", ["health_refer"], D(0), ()),
        ({"chronic": True}, "accept_with_terms", ["health_loading"], D(30), ()),
        ({"abnormal_exam": True}, "accept_with_terms", ["health_exclusion"], D(0), ("甲状腺结节及其并发症",)),
        ({"cancer": True}, "decline", ["health_decline"], D(0), ()),  # not listed: knock-out
        ({"healthy": False}, "decline", ["health_decline"], D(0), ()),  # knock-out answer is "否"
        (
            {"chronic": True, "abnormal_exam": True},
            "accept_with_terms",
            ["health_loading", "health_exclusion"],
            D(30),
            ("甲状腺结节及其并发症",),
        ),
        ({"chronic": True, "hospitalised": True}, "refer", ["health_refer", "health_loading"], D(30), ()),
        ({"chronic": True, "cancer": True}, "decline", ["health_decline", "health_loading"], D(0), ()),
    ],
)
def test_health_answers(answers, outcome, reason, loading, exclusions) -> None:
    # when
    decision = decide(answers=answers)

    # then
    assert decision.outcome == outcome
    assert codes(decision) == reason
    assert decision.loading_percent == loading
    assert decision.exclusions == exclusions
    for r in decision.reasons:
        assert r.question in {q["code"] for q in QUESTIONS}
        assert "健康告知" in r.message


def test_health_messages_are_chinese_and_name_the_terms() -> None:
    decision = decide(answers={"chronic": True, "abnormal_exam": True})
    loading, exclusion = decision.reasons
    assert loading.message == "健康告知“是否患有慢性疾病？”回答为“是”，加费30%承保"
    assert exclusion.message == "健康告知“体检结果是否有异常？”回答为“是”，除外“甲状腺结节及其并发症”承保"
    refused = decide(answers={"cancer": True}).reasons[0]
    assert refused.message == "健康告知“是否患有恶性肿瘤？”回答为“是”，不符合本产品的承保条件"


def test_a_custom_reason_replaces_the_default_message() -> None:
    rules = {"questions": {"cancer": {"on_yes": "decline", "reason": "恶性肿瘤病史不予承保"}}}
    assert decide(rules, answers={"cancer": True}).reasons[0].message == "恶性肿瘤病史不予承保"


def test_loadings_add_up_and_too_much_loading_is_referred() -> None:
    rules = {
        "questions": {
            "hospitalised": {"on_yes": "loading", "loading_percent": "150"},
            "chronic": {"on_yes": "loading", "loading_percent": "100", "exclusion": "高血压及其并发症"},
            "abnormal_exam": {"on_yes": "loading", "loading_percent": "75"},
        }
    }
    two = decide(rules, answers={"hospitalised": True, "chronic": True})
    assert two.outcome == "accept_with_terms"
    assert two.loading_percent == D(250)
    assert two.exclusions == ("高血压及其并发症",)
    three = decide(rules, answers={"hospitalised": True, "chronic": True, "abnormal_exam": True})
    assert three.outcome == "refer"
    assert three.loading_percent == D(325)  # the suggestion for the underwriter
    assert codes(three)[0] == "loading_too_high"


def test_accept_means_the_adverse_answer_is_fine_for_this_product() -> None:
    rules = {"questions": {"cancer": {"on_yes": "accept"}}}
    decision = decide(rules, answers={"cancer": True})
    assert decision.outcome == "accept" and decision.reasons == ()


def test_a_missing_answer_is_refused_naming_the_question() -> None:
    answers = dict(CLEAN)
    del answers["chronic"]
    answers["cancer"] = "no"  # type: ignore[assignment]
    with pytest.raises(ValidationFailed) as exc:
        evaluate(RULES, ELIGIBILITY, facts(health_answers=answers))
    assert {e.field for e in exc.value.errors} == {"health_answers.chronic", "health_answers.cancer"}
    assert all(e.message.startswith("请回答健康告知") for e in exc.value.errors)


def test_a_question_for_women_is_not_required_of_a_man_and_is_of_a_woman() -> None:
    # given: the product also asks 目前是否怀孕, of women only
    eligibility = {
        **ELIGIBILITY,
        "health_questions": [*QUESTIONS, {"code": "pregnant", "text": "目前是否怀孕？", "sex": "F"}],
    }
    rules = {
        **RULES,
        "questions": {**RULES["questions"], "pregnant": {"on_yes": "exclusion", "exclusion": "妊娠"}},
    }
    # when / then: a man without the answer is decided on the other answers
    assert evaluate(rules, eligibility, facts(sex="M")).outcome == "accept"
    # and a woman without it is refused naming it; with 是 the exclusion applies
    with pytest.raises(ValidationFailed) as exc:
        evaluate(rules, eligibility, facts(sex="F"))
    assert [e.field for e in exc.value.errors] == ["health_answers.pregnant"]
    decision = evaluate(rules, eligibility, facts(sex="F", answers={"pregnant": True}))
    assert decision.exclusions == ("妊娠",)


# --- age, occupation, sums -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age_years", "age_days", "outcome", "reason"),
    [
        (0, 27, "decline", "age_below_minimum"),
        (0, 28, "accept", None),
        (55, 55 * 365 + 20, "accept", None),
        (56, 56 * 365 + 20, "refer", "refer_age"),
        (60, 60 * 365 + 20, "refer", "refer_age"),
        (61, 61 * 365 + 20, "decline", "age_above_maximum"),
    ],
)
def test_age(age_years, age_days, outcome, reason) -> None:
    decision = decide(age_years=age_years, age_days=age_days, sum_insured=D(100000))
    assert decision.outcome == outcome
    assert (codes(decision)[0] if decision.reasons else None) == reason


def test_rules_may_narrow_the_eligible_ages() -> None:
    rules = {"max_age": 50, "min_age_days": 365 * 18}
    assert codes(decide(rules, age_years=51, age_days=51 * 365)) == ["age_above_maximum"]
    young = decide(rules, age_years=17, age_days=17 * 365)
    assert codes(young) == ["age_below_minimum"]
    assert "18周岁" in young.reasons[0].message


def test_occupation_class_outside_the_product_declines() -> None:
    decision = decide(occupation_class=5)
    assert decision.outcome == "decline"
    assert decision.reasons[0].message == "被保险人职业类别为5类，本产品仅承保1–3类职业"
    assert decide(occupation_class=None).outcome == "accept"


@pytest.mark.parametrize(
    ("age", "sum_insured", "outcome", "reason"),
    [
        (17, D(500000), "accept", None),
        (17, D(500001), "decline", "sum_insured_limit"),
        (18, D(800000), "accept", None),
        (40, D(1000000), "accept", None),
        (40, D(1000001), "refer", "refer_sum_insured"),
    ],
)
def test_sum_insured_limits_and_financial_referral(age, sum_insured, outcome, reason) -> None:
    decision = decide(age_years=age, age_days=age * 365 + 3, sum_insured=sum_insured)
    assert decision.outcome == outcome
    assert (codes(decision)[0] if decision.reasons else None) == reason


def test_sum_insured_limit_message_and_refer_action() -> None:
    decision = decide(age_years=12, age_days=12 * 365, sum_insured=D(600000))
    assert (
        decision.reasons[0].message == "未成年人保额上限50万元（被保险人12周岁，保额60万元超过50万元的上限）"
    )
    rules = {"sum_insured_limits": [{"max_age": 17, "max_sum_insured": "500000", "action": "refer"}]}
    assert decide(rules, age_years=12, age_days=12 * 365, sum_insured=D(600000)).outcome == "refer"


@pytest.mark.parametrize(
    ("age", "existing", "this", "outcome"),
    [
        (5, D(0), D(200000), "accept"),
        (5, D(100000), D(100001), "decline"),
        (9, D(200000), D(0), "accept"),  # no death cover in this item: nothing is added
        (10, D(300000), D(200000), "accept"),
        (10, D(300000), D(200001), "decline"),
        (17, D(500000), D(1), "decline"),
        (18, D(5000000), D(1000000), "accept"),
    ],
)
def test_aggregate_death_limits_for_minors(age, existing, this, outcome) -> None:
    decision = decide(
        age_years=age,
        age_days=age * 365 + 1,
        sum_insured=this or D(100000),
        death_benefit=this,
        existing_death_benefit=existing,
    )
    assert decision.outcome == outcome
    if outcome == "decline":
        assert codes(decision) == ["aggregate_death_limit"]


def test_aggregate_limit_message_names_the_amounts() -> None:
    decision = decide(
        age_years=6,
        age_days=6 * 365,
        sum_insured=D(150000),
        death_benefit=D(150000),
        existing_death_benefit=D(100000),
    )
    assert decision.reasons[0].message == (
        "未满10周岁未成年人身故保险金总额不得超过20万元"
        "（已有身故保险金10万元，本单15万元，合计25万元，超过20万元的限额）"
    )


def test_premium_referral() -> None:
    rules = {"refer_premium_above": "20000"}
    assert decide(rules, premium=D("20000")).outcome == "accept"
    decision = decide(rules, premium=D("20000.01"))
    assert decision.outcome == "refer" and codes(decision) == ["refer_premium"]


def test_empty_rules_fall_back_to_the_eligibility() -> None:
    assert evaluate({}, ELIGIBILITY, facts()).outcome == "accept"
    assert evaluate({}, ELIGIBILITY, facts(answers={"chronic": True})).outcome == "decline"
    assert evaluate({}, {}, facts(health_answers={})).outcome == "accept"


def test_decision_as_json() -> None:
    decision = decide(answers={"chronic": True, "abnormal_exam": True})
    assert decision.as_json() == {
        "outcome": "accept_with_terms",
        "reasons": [
            {"code": "health_loading", "message": decision.reasons[0].message, "question": "chronic"},
            {"code": "health_exclusion", "message": decision.reasons[1].message, "question": "abnormal_exam"},
        ],
        "loading_percent": "30",
        "exclusions": ["甲状腺结节及其并发症"],
    }


# --- properties ------------------------------------------------------------------------------------

answer_sets = st.fixed_dictionaries({q["code"]: st.booleans() for q in QUESTIONS})


@given(answers=answer_sets, age=st.integers(0, 70), sum_insured=st.integers(1, 3_000_000))
def test_the_outcome_is_the_most_severe_reason_and_terms_only_for_terms(answers, age, sum_insured) -> None:
    decision = decide(
        health_answers=answers, age_years=age, age_days=age * 365 + 30, sum_insured=D(sum_insured)
    )
    assert decision.outcome == worst(c for c in _outcomes_of(decision))
    assert (decision.outcome == "accept") == (decision.reasons == ())
    if decision.outcome == "decline":
        assert decision.loading_percent == 0 and decision.exclusions == ()
    if decision.outcome == "accept_with_terms":
        assert decision.loading_percent > 0 or decision.exclusions


def _outcomes_of(decision) -> list[str]:
    mapping = {
        "health_decline": "decline",
        "age_below_minimum": "decline",
        "age_above_maximum": "decline",
        "occupation_not_accepted": "decline",
        "sum_insured_limit": "decline",
        "aggregate_death_limit": "decline",
        "health_refer": "refer",
        "refer_age": "refer",
        "refer_sum_insured": "refer",
        "refer_premium": "refer",
        "loading_too_high": "refer",
        "health_loading": "accept_with_terms",
        "health_exclusion": "accept_with_terms",
    }
    return [mapping[r.code] for r in decision.reasons]


@given(answers=answer_sets, extra=st.sampled_from([q["code"] for q in QUESTIONS]))
def test_one_more_adverse_answer_never_makes_the_outcome_better(answers, extra) -> None:
    before = decide(health_answers=answers)
    adverse = next(q["knock_out_answer"] for q in QUESTIONS if q["code"] == extra)
    after = decide(health_answers={**answers, extra: adverse})
    assert SEVERITY[after.outcome] >= SEVERITY[before.outcome]
    if after.outcome != "decline" and before.outcome != "decline":
        assert after.loading_percent >= before.loading_percent


@given(existing=st.integers(0, 1_000_000), this=st.integers(0, 1_000_000), age=st.integers(0, 17))
def test_a_minor_is_never_accepted_over_the_aggregate_limit(existing, this, age) -> None:
    decision = decide(
        age_years=age,
        age_days=age * 365 + 30,
        sum_insured=D(max(this, 1)),
        death_benefit=D(this),
        existing_death_benefit=D(existing),
    )
    limit = 200_000 if age <= 9 else 500_000
    if this > 0 and existing + this > limit:
        assert decision.outcome == "decline"
    elif decision.outcome == "decline":
        assert "aggregate_death_limit" not in codes(decision)


def test_worst() -> None:
    assert worst([]) == "accept"
    assert worst(["accept", "refer", "accept_with_terms"]) == "refer"
    assert worst(OUTCOMES) == "decline"


# --- death benefit -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name", "expected"),
    [
        ("accidental_death", "意外身故/伤残", True),
        ("death", "身故保险金", True),
        ("c0", "意外身故", True),
        ("traffic_extra", "交通意外额外身故/伤残", True),
        ("death_disability", "死亡伤残赔偿", False),  # 交强险: paid to third parties
        ("third_party", "第三者责任保险", False),
        ("critical", "重大疾病保险金", False),
        ("deathless", "其他", False),
    ],
)
def test_which_coverages_are_death_benefits(code, name, expected) -> None:
    assert is_death_coverage(code, name) is expected


def test_death_benefit_caps_each_cover_at_the_chosen_sum_and_adds_extras() -> None:
    coverages = [
        ("accidental_death", "意外身故/伤残", D(300000)),
        ("accident_medical", "意外医疗", D(30000)),
        ("traffic_extra", "交通意外额外身故/伤残", D(300000)),
        ("waiver", "豁免", D(0)),
    ]
    assert death_benefit(coverages, D(200000)) == D(400000)
    assert death_benefit(coverages, None) == D(600000)
    assert death_benefit([("critical", "重大疾病", D(500000))], D(500000)) == 0


# --- validation -----------------------------------------------------------------------------


def test_the_demo_style_rules_are_valid() -> None:
    assert validate_rules(RULES, eligibility=ELIGIBILITY) == []
    assert validate_rules({}) == []
    assert validate_rules(None) == []


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("strict", "underwriting"),
        ({"max_agee": 50}, "underwriting.max_agee"),
        ({"max_age": "60"}, "underwriting.max_age"),
        ({"min_age_days": -1}, "underwriting.min_age_days"),
        ({"refer_age_above": 200}, "underwriting.refer_age_above"),
        ({"refer_sum_insured_above": 1.5}, "underwriting.refer_sum_insured_above"),
        ({"refer_premium_above": "abc"}, "underwriting.refer_premium_above"),
        ({"questions": []}, "underwriting.questions"),
        ({"questions": {"chronic": {"on_yes": "maybe"}}}, "underwriting.questions.chronic.on_yes"),
        ({"questions": {"chronic": {"on_yes": "loading"}}}, "underwriting.questions.chronic.loading_percent"),
        (
            {"questions": {"chronic": {"on_yes": "loading", "loading_percent": "301"}}},
            "underwriting.questions.chronic.loading_percent",
        ),
        ({"questions": {"chronic": {"on_yes": "exclusion"}}}, "underwriting.questions.chronic.exclusion"),
        (
            {"questions": {"chronic": {"on_yes": "decline", "exclusion": "x"}}},
            "underwriting.questions.chronic",
        ),
        ({"questions": {"chronic": {"on_yes": "refer", "why": "x"}}}, "underwriting.questions.chronic.why"),
        ({"questions": {"smoker": {"on_yes": "refer"}}}, "underwriting.questions.smoker"),
        ({"sum_insured_limits": {}}, "underwriting.sum_insured_limits"),
        ({"sum_insured_limits": [{"max_age": 17}]}, "underwriting.sum_insured_limits[0].max_sum_insured"),
        (
            {"sum_insured_limits": [{"max_age": 17, "max_sum_insured": "0"}]},
            "underwriting.sum_insured_limits[0].max_sum_insured",
        ),
        (
            {"sum_insured_limits": [{"max_sum_insured": "1", "action": "loading"}]},
            "underwriting.sum_insured_limits[0].action",
        ),
        (
            {"aggregate_limits": [{"benefit": "illness", "limit": "1"}]},
            "underwriting.aggregate_limits[0].benefit",
        ),
        (
            {"aggregate_limits": [{"min_age": 10, "max_age": 9, "limit": "1"}]},
            "underwriting.aggregate_limits[0].min_age",
        ),
        ({"aggregate_limits": ["x"]}, "underwriting.aggregate_limits[0]"),
    ],
)
def test_bad_rules_are_named_by_field(raw, field) -> None:
    errors = validate_rules(raw, eligibility=ELIGIBILITY)
    assert field in {e.field for e in errors}, errors
    assert all(e.message for e in errors)


def test_yuan() -> None:
    assert yuan(D(200000)) == "20万元"
    assert yuan(D(1500)) == "1500元"
    assert yuan(D("12.50")) == "12.5元"
    assert yuan(D(1_250_000)) == "125万元"
