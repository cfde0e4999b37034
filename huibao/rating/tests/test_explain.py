"""The customer's explanation of a quote: plain words and money to the fen, no trace."""

from __future__ import annotations

from decimal import Decimal

from huibao.rating.rules import PlanTerms, explain, make_rating_product, price
from huibao.rating.tests import specs

MEDICAL = {
    "inputs": {
        "social_insurance": {
            "type": "choice",
            "label": "有无社保",
            "choices": {"yes": "有社保", "no": "无社保"},
            "default": "yes",
        }
    },
    "tables": {
        "base": {
            "label": "年龄段基础保费",
            "keys": ["age", "social_insurance"],
            "bands": {"age": [0, 31, 41]},
            "values": {
                "0|yes": "200",
                "0|no": "440",
                "31|yes": "300",
                "31|no": "660",
                "41|yes": "500",
                "41|no": "1100",
            },
        },
        "plan_factor": {"label": "计划系数", "keys": ["plan"], "values": {"basic": "1", "plus": "1.539"}},
    },
    "steps": [
        {"name": "base", "label": "基础保费", "expr": "table('base')"},
        {"name": "plan_factor", "label": "计划系数", "expr": "table('plan_factor')"},
        {"name": "premium", "label": "应缴保费", "expr": "base * plan_factor"},
    ],
    "result": "premium",
}


def medical():
    return make_rating_product(
        version_id=1,
        product_code="med",
        pricing=MEDICAL,
        eligibility={"min_age_days": 30, "max_age": 65},
        term_options=[],
        payment_modes=["annual", "monthly"],
        plans=[
            PlanTerms("basic", "基础版", Decimal(1000000), Decimal(1000000), Decimal(0), 1),
            PlanTerms("plus", "升级版", Decimal(3000000), Decimal(3000000), Decimal(0), 2),
        ],
    )


def test_the_explanation_is_in_words_and_money_to_the_fen() -> None:
    product = medical()
    result = price(product, "plus", {"age": 33, "social_insurance": "yes"})
    lines = explain(product, "plus", result.inputs, result.steps_as_dicts())
    assert [(s.label, s.basis, s.value, s.formula) for s in lines] == [
        ("基础保费", "33岁，有社保", "¥300.00", ""),
        ("计划系数", "升级版", "1.539", ""),
        ("应缴保费", "", "¥461.70", "¥300.00 × 1.539"),
    ]
    assert lines[-1].is_result and not lines[0].is_result
    # none of the developer's trace: table keys, full precision, step names
    text = repr(lines)
    assert (
        "[" not in text.replace("[ExplainedStep", "")
        and "461.700000" not in text
        and "plan_factor" not in text
    )


def test_a_formula_with_a_function_shows_the_value_alone() -> None:
    product = make_rating_product(
        version_id=2,
        product_code="life",
        pricing=specs.term_life_spec(),
        eligibility={"min_age_days": 6570, "max_age": 60},
        term_options=[{"code": "20y", "label": "20年"}],
        payment_modes=["annual", "monthly"],
        plans=[PlanTerms("standard", "标准版", Decimal(100000), Decimal(1000000), Decimal(100000), 1)],
    )
    inputs = {"age": 35, "sex": "F", "sum_insured": 500000, "term": "20y", "payment_mode": "monthly"}
    result = price(product, "standard", inputs)
    lines = {s.label: s for s in explain(product, "standard", result.inputs, result.steps_as_dicts())}
    assert lines["基础保费"].basis == "35岁，女，20年，保额¥500,000"
    assert lines["基础保费"].value.startswith("¥") and lines["基础保费"].value.endswith(tuple("0123456789"))
    assert lines["缴费方式系数"].value == "1.02" and lines["缴费方式系数"].basis == "按月缴费"
    assert lines["应缴保费"].formula == "" and lines["应缴保费"].value == f"¥{result.premium:,.2f}"
