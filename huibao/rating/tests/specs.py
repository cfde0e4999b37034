"""Small pricing specs for the tests and the benchmark, written by hand per docs/rating.md."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from huibao.rating.rules import PlanTerms, RatingProduct, make_rating_product

AGE_BANDS = [0, 18, 31, 41, 51, 61]
# Yearly rate per 1,000 CNY of sum insured by age band, sex and term.
_TERM_LIFE_BASE = {"10y": Decimal("0.40"), "20y": Decimal("0.55"), "to70": Decimal("0.80")}
_BAND_FACTOR = [Decimal(x) for x in ("0.5", "0.8", "1", "1.7", "3.1", "5.6")]


def term_life_spec() -> dict[str, Any]:
    values = {}
    for term, base in _TERM_LIFE_BASE.items():
        for band, factor in zip(AGE_BANDS, _BAND_FACTOR, strict=True):
            for sex, sex_factor in (("M", Decimal("1")), ("F", Decimal("0.8"))):
                values[f"{band}|{sex}|{term}"] = str(base * factor * sex_factor)
    return {
        "tables": {
            "base_rate": {
                "label": "每千元保额年费率",
                "keys": ["age", "sex", "term"],
                "bands": {"age": AGE_BANDS},
                "values": values,
            },
        },
        "steps": [
            {"name": "base", "label": "基础保费", "expr": "table('base_rate') * sum_insured / 1000"},
            {
                "name": "mode_loading",
                "label": "缴费方式系数",
                "expr": "if(payment_mode == 'monthly', 1.02, 1)",
            },
            {"name": "premium", "label": "应缴保费", "expr": "max(base * mode_loading, minimum)"},
        ],
        "result": "premium",
        "constants": {"minimum": "50"},
        "properties": {"non_decreasing_in": ["sum_insured"]},
    }


def auto_spec() -> dict[str, Any]:
    return {
        "inputs": {
            "vehicle_class": {
                "type": "choice",
                "label": "车辆类型",
                "choices": {"sedan": "家用轿车", "suv": "SUV", "truck": "货车"},
            },
            "no_claim_years": {
                "type": "integer",
                "label": "连续无赔款年数",
                "min": 0,
                "max": 10,
                "default": 0,
            },
            "driving_score": {
                "type": "integer",
                "label": "驾驶行为评分",
                "min": 0,
                "max": 100,
                "required": False,
                "default": 80,
            },
        },
        "tables": {
            "vehicle_base": {
                "label": "车型基准保费",
                "keys": ["vehicle_class"],
                "values": {"sedan": "950", "suv": "1180", "truck": "2100"},
            },
            "ncd": {
                "label": "无赔款优待系数",
                "keys": ["no_claim_years"],
                "bands": {"no_claim_years": [0, 1, 2, 3, 4]},
                "values": {"0": "1", "1": "0.9", "2": "0.8", "3": "0.7", "4": "0.6"},
            },
            "driving": {
                "label": "驾驶行为系数",
                "keys": ["driving_score"],
                "bands": {"driving_score": [0, 60, 80, 90]},
                "values": {"0": "1.15", "60": "1", "80": "0.95", "90": "0.85"},
            },
        },
        "steps": [
            {"name": "base", "label": "基准保费", "expr": "table('vehicle_base')"},
            {"name": "ncd_factor", "label": "无赔款优待系数", "expr": "table('ncd')"},
            {"name": "driving_factor", "label": "驾驶行为系数", "expr": "table('driving')"},
            {
                "name": "cover",
                "label": "车损保额附加",
                "expr": "sum_insured * 0.012",
            },
            {
                "name": "premium",
                "label": "应缴保费",
                "expr": "clamp((base + cover) * ncd_factor * driving_factor, 300, 20000)",
            },
        ],
        "result": "premium",
        "properties": {"non_decreasing_in": ["sum_insured"]},
    }


def travel_spec() -> dict[str, Any]:
    return {
        "inputs": {
            "trip_days": {"type": "integer", "label": "出行天数", "min": 1, "max": 180, "default": 7},
            "destination_zone": {
                "type": "choice",
                "label": "目的地",
                "choices": {"asia": "亚洲", "europe": "欧洲", "world": "全球"},
            },
        },
        "tables": {
            "daily": {
                "label": "日费率",
                "keys": ["trip_days", "destination_zone"],
                "bands": {"trip_days": [1, 8, 31]},
                "values": {
                    "1|asia": "6",
                    "8|asia": "5",
                    "31|asia": "4",
                    "1|europe": "10",
                    "8|europe": "8.5",
                    "31|europe": "7",
                    "1|world": "14",
                    "8|world": "12",
                    "31|world": "10",
                },
            },
        },
        "steps": [
            {"name": "per_day", "label": "日保费", "expr": "table('daily') * sum_insured / 500000"},
            {"name": "premium", "label": "应缴保费", "expr": "ceil(per_day * trip_days * 10) / 10"},
        ],
        "properties": {"non_decreasing_in": ["sum_insured", "trip_days"]},
    }


def accident_spec() -> dict[str, Any]:
    return {
        "tables": {
            "occupation": {
                "label": "职业类别系数",
                "keys": ["occupation_class"],
                "values": {"1": "1", "2": "1.2", "3": "1.5", "4": "2.2"},
            },
            "age_factor": {
                "label": "年龄系数",
                "keys": ["age"],
                "bands": {"age": [0, 18, 51, 66]},
                "values": {"0": "0.8", "18": "1", "51": "1.3", "66": "1.8"},
            },
        },
        "steps": [
            {"name": "base", "label": "基础保费", "expr": "sum_insured * rate"},
            {"name": "occupation_factor", "label": "职业系数", "expr": "table('occupation')"},
            {"name": "age_loading", "label": "年龄系数", "expr": "lookup('age_factor', age)"},
            {
                "name": "premium",
                "label": "应缴保费",
                "expr": "max(base * occupation_factor * age_loading, minimum)",
            },
        ],
        "constants": {"rate": "0.0009", "minimum": "20"},
        "properties": {"non_decreasing_in": ["sum_insured", "occupation_class"]},
    }


def _plans(*rows: tuple[str, str, str, str, str]) -> list[PlanTerms]:
    return [
        PlanTerms(code, name, Decimal(lo), Decimal(hi), Decimal(step)) for code, name, lo, hi, step in rows
    ]


def term_life_product(version_id: int = 1) -> RatingProduct:
    return make_rating_product(
        version_id=version_id,
        product_code="term-life",
        pricing=term_life_spec(),
        eligibility={"min_age_days": 6570, "max_age": 60, "occupation_classes": [1, 2, 3, 4]},
        term_options=[
            {"code": "10y", "label": "10年", "years": 10},
            {"code": "20y", "label": "20年", "years": 20},
            {"code": "to70", "label": "至70岁", "to_age": 70},
        ],
        payment_modes=["annual", "monthly"],
        plans=_plans(("standard", "标准版", "100000", "3000000", "100000")),
    )


def auto_product(version_id: int = 2) -> RatingProduct:
    return make_rating_product(
        version_id=version_id,
        product_code="auto",
        pricing=auto_spec(),
        eligibility={"min_age_days": 6570, "max_age": 75, "regions": ["310000", "110000", "440000"]},
        term_options=[{"code": "1y", "label": "1年", "years": 1}],
        payment_modes=["annual"],
        plans=_plans(
            ("basic", "基础版", "50000", "500000", "10000"), ("full", "全面版", "100000", "1000000", "0")
        ),
    )


def travel_product(version_id: int = 3) -> RatingProduct:
    return make_rating_product(
        version_id=version_id,
        product_code="travel",
        pricing=travel_spec(),
        eligibility={"min_age_days": 28, "max_age": 80},
        term_options=[],
        payment_modes=["single"],
        plans=_plans(
            ("basic", "基础版", "300000", "300000", "0"), ("plus", "升级版", "500000", "500000", "0")
        ),
    )


def accident_product(version_id: int = 4) -> RatingProduct:
    return make_rating_product(
        version_id=version_id,
        product_code="accident",
        pricing=accident_spec(),
        eligibility={"min_age_days": 28, "max_age": 65, "occupation_classes": [1, 2, 3]},
        term_options=[{"code": "1y", "label": "1年", "years": 1}],
        payment_modes=["single"],
        plans=_plans(("basic", "基础版", "100000", "1000000", "100000")),
    )
