"""The reasons a customer reads: the rule that fired, in plain words, and the underwriter's note."""

from __future__ import annotations

from decimal import Decimal

from huibao.underwriting.rules import UnderwritingFacts, customer_reasons, evaluate

QUESTION = {"code": "hospitalised", "text": "过去2年内是否曾住院？", "knock_out_answer": True}


def facts(**over: object) -> UnderwritingFacts:
    base: dict[str, object] = {
        "product_code": "med",
        "line": "medical",
        "age_days": 35 * 365,
        "age_years": 35,
        "sex": "M",
        "relation": "self",
        "occupation_class": 1,
        "sum_insured": Decimal("3000000"),
        "death_benefit": Decimal(0),
        "existing_death_benefit": Decimal(0),
        "health_answers": {"hospitalised": False},
        "premium": Decimal("400"),
    }
    return UnderwritingFacts(**{**base, **over})  # type: ignore[arg-type]


def test_a_referral_for_the_sum_insured_says_so_not_the_health_answers() -> None:
    decision = evaluate({"refer_sum_insured_above": "1000000"}, {"health_questions": [QUESTION]}, facts())
    assert decision.outcome == "refer"
    why = customer_reasons([r.as_json() for r in decision.reasons])
    assert [(r.kind, r.text) for r in why] == [("rule", "保额300万元超过100万元，需由核保人员人工审核。")]
    assert "健康告知" not in why[0].text and "财务核保" not in why[0].text


def test_a_health_referral_names_the_question_answered() -> None:
    decision = evaluate(
        {"questions": {"hospitalised": {"on_yes": "refer"}}},
        {"health_questions": [QUESTION]},
        facts(sum_insured=Decimal("100000"), health_answers={"hospitalised": True}),
    )
    [why] = customer_reasons([r.as_json() for r in decision.reasons])
    assert why.text == "健康告知“过去2年内是否曾住院？”回答为“是”，需由核保人员人工审核。"


def test_the_underwriters_note_comes_first_then_the_rules() -> None:
    recorded = [
        {
            "code": "underwriter_accept_with_terms",
            "message": "人工核保：加费/除外承保。年收入证明不足，加费25%",
            "question": "",
        },
        {
            "code": "refer_sum_insured",
            "message": "保额300万元超过100万元，需人工核保（财务核保）",
            "question": "",
        },
    ]
    why = customer_reasons(recorded)
    assert [(r.kind, r.text) for r in why] == [
        ("underwriter", "年收入证明不足，加费25%"),
        ("rule", "保额300万元超过100万元，需由核保人员人工审核。"),
    ]


def test_no_rule_no_reason() -> None:
    assert customer_reasons([]) == []
    assert (
        customer_reasons(
            [{"code": "underwriter_accept", "message": "人工核保：标准体承保。", "question": ""}]
        )
        == []
    )
