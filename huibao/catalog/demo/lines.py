"""Per-line builders of demo products: names, crowds, plans, coverages, eligibility, terms and a
pricing spec (see docs/rating.md) whose numbers make actuarial sense for the line.

Every builder takes a seeded `random.Random` and the insurer's price level, and returns the parts
of a product document (`huibao.catalog.io` format). Amounts are decimal strings; rates are built
with `Decimal` arithmetic and rounded to a stated number of places.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from huibao.catalog.demo.data import REGIONS, SERVICES

D = Decimal
ADULT_DAYS = 18 * 365
YEAR_DAYS = 365


def q(value: Decimal, places: str = "0.01") -> str:
    """A decimal string rounded half up to `places` (rates are built with Decimal, never float)."""
    return str(value.quantize(D(places), rounding=ROUND_HALF_UP))


def money(value: int | Decimal) -> str:
    return str(int(value))


def jitter(rng: random.Random, low: int = 90, high: int = 112) -> Decimal:
    """A price factor between low% and high%."""
    return D(rng.randint(low, high)) / 100


@dataclass
class Cov:
    code: str
    name: str
    sum_insured: int | Decimal
    description: str = ""
    deductible: int = 0
    ratio: str = "1"
    waiting: int = 0
    per_claim: int | None = None
    annual: int | None = None
    optional: bool = False

    def as_dict(self, index: int) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "description": self.description,
            "sort_order": index,
            "is_optional": self.optional,
            "sum_insured": money(self.sum_insured),
            "deductible": money(self.deductible),
            "reimbursement_ratio": self.ratio,
            "waiting_period_days": self.waiting,
            "per_claim_limit": None if self.per_claim is None else money(self.per_claim),
            "annual_limit": None if self.annual is None else money(self.annual),
        }


def plan(
    code: str,
    name: str,
    low: int,
    high: int,
    step: int,
    coverages: Sequence[Cov],
    *,
    recommended: bool = False,
    index: int = 0,
) -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "sort_order": index,
        "min_sum_insured": money(low),
        "max_sum_insured": money(high),
        "sum_insured_step": money(step),
        "is_recommended": recommended,
        "coverages": [c.as_dict(i) for i, c in enumerate(coverages)],
    }


@dataclass
class Built:
    """The line-specific parts of one product document."""

    name: str
    crowds: list[str]
    scenarios: list[str]
    tagline: str
    highlights: list[str]
    plans: list[dict[str, Any]]
    eligibility: dict[str, Any]
    term_options: list[dict[str, Any]]
    payment_modes: list[str]
    cooling_off_days: int
    renewal: dict[str, Any]
    services: list[str]
    pricing: dict[str, Any]
    waiting_days: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    application_rules: dict[str, Any] = field(default_factory=dict)
    underwriting: dict[str, Any] = field(default_factory=dict)
    # One document only (the terms, carrying the disclosure and exclusions as key clauses).
    simple: bool = False


def health_questions(rng: random.Random, line: str) -> list[dict[str, Any]]:
    pool = [
        ("hospitalised", "过去2年内是否曾住院或被医生建议住院治疗？"),
        ("abnormal_exam", "过去1年内体检结果是否有异常（如结节、肿块、指标异常）且未复查正常？"),
        ("chronic", "是否患有或曾患有高血压、糖尿病、冠心病、慢性肝炎、肾病等慢性疾病？"),
        ("cancer", "是否患有或曾患有恶性肿瘤、原位癌或交界性肿瘤？"),
        ("disability", "是否存在身体残疾或视力、听力、语言、咀嚼功能障碍？"),
        ("pregnant", "目前是否怀孕？"),
        ("medication", "过去半年内是否持续服药超过1个月？"),
        ("declined", "过去是否被保险公司拒保、延期或加费承保？"),
    ]
    count = 4 if line == "medical" else rng.randint(4, 6)
    picked = [pool[0], pool[3], *rng.sample(pool[1:3] + pool[4:], count - 2)]
    # 目前是否怀孕 is asked of women only (the form, the checks and underwriting skip it for men).
    return [
        {"code": code, "text": text, "knock_out_answer": True, **({"sex": "F"} if code == "pregnant" else {})}
        for code, text in picked
    ]


def services(rng: random.Random, pool: Sequence[str], count: int) -> list[str]:
    return sorted(rng.sample(list(pool), min(count, len(pool))))


def service_dicts(codes: Sequence[str]) -> list[dict[str, str]]:
    return [{"code": c, "name": SERVICES[c][0], "description": SERVICES[c][1]} for c in codes]


def occupation_table(classes: int) -> dict[str, Any]:
    factors = ["1", "1.15", "1.45", "2", "2.8", "3.8"]
    return {
        "label": "职业类别系数",
        "keys": ["occupation_class"],
        "values": {str(i + 1): factors[i] for i in range(classes)},
    }


def maybe_regions(rng: random.Random, chance: int) -> list[str]:
    if rng.randint(1, 100) > chance:
        return []
    return sorted(rng.sample(sorted(REGIONS), rng.randint(1, 3)))


# --- accident -----------------------------------------------------------------------------------

ACCIDENT_VARIANTS = (
    # series, suffix, crowds, scenarios, min_age_days, max_age, classes
    ("小蜜蜂", "综合意外险", ["adults"], ["commuting", "sports"], ADULT_DAYS, 65, 3),
    ("大护甲", "综合意外险", ["adults", "family"], ["commuting"], ADULT_DAYS, 65, 4),
    ("亿保", "成人意外险", ["adults"], ["commuting"], ADULT_DAYS, 60, 3),
    ("护身福", "职业意外险", ["adults", "business"], ["commuting"], 16 * YEAR_DAYS, 65, 6),
    ("小神童", "少儿意外险", ["children"], ["sports"], 28, 17, 3),
    ("孝心安", "老人意外险", ["elderly"], ["health"], 50 * YEAR_DAYS, 85, 3),
    ("畅行", "交通意外险", ["adults"], ["commuting", "driving"], ADULT_DAYS, 70, 4),
    ("运动达人", "运动意外险", ["adults"], ["sports"], 10 * YEAR_DAYS, 60, 3),
    ("安心乘", "网约车意外险", ["adults"], ["ride_hailing", "commuting"], ADULT_DAYS, 70, 4),
    ("团安保", "团体意外险", ["business"], ["commuting"], 16 * YEAR_DAYS, 65, 6),
)


def build_accident(rng: random.Random, brand: str, level: Decimal, n: int) -> Built:
    series, suffix, crowds, scenarios, min_days, max_age, classes = ACCIDENT_VARIANTS[
        n % len(ACCIDENT_VARIANTS)
    ]
    base = 100_000 if "少儿" in suffix or "老人" in suffix else 200_000
    tiers = [
        ("basic", "基础版", base, base),
        ("plus", "升级版", base * 2, base * 3),
        ("premium", "尊享版", base * 5, base * 10),
    ]
    tiers = tiers[: rng.randint(2, 3)]
    plans, rates = [], {}
    for i, (code, label, low, high) in enumerate(tiers):
        medical = min(high // 10, 50_000)
        covs = [
            Cov("accidental_death", "意外身故/伤残", high, "按伤残等级比例给付，身故给付全额"),
            Cov(
                "accident_medical",
                "意外医疗（含门急诊）",
                medical,
                "社保内外均可报销",
                deductible=100 if i else 0,
                ratio="1",
                per_claim=medical,
                annual=medical,
            ),
            Cov(
                "hospital_allowance",
                "意外住院津贴",
                100 * (i + 1) * 30,
                f"每天{100 * (i + 1)}元，最高180天",
                per_claim=100 * (i + 1),
            ),
        ]
        if i >= 1:
            covs.append(
                Cov("traffic_extra", "交通意外额外身故/伤残", high, "乘坐公共交通或驾乘私家车时额外给付")
            )
        if "老人" in suffix:
            covs.append(Cov("fracture", "意外骨折保险金", 20_000 * (i + 1), "按骨折等级给付"))
        step = 0 if low == high else 100_000 if "少儿" not in suffix else 50_000
        plans.append(plan(code, label, low, high, step, covs, recommended=i == 1, index=i))
        rates[code] = q(D(["13", "9.5", "7.2"][i]) * level * (D("1.6") if "老人" in suffix else 1), "0.0001")
    pricing = {
        "tables": {
            "rate": {"label": "每万元保额费率", "keys": ["plan"], "values": rates},
            "occupation": occupation_table(classes),
        },
        "constants": {"minimum": "9.9"},
        "steps": [
            {"name": "base", "label": "基础保费", "expr": "sum_insured / 10000 * table('rate')"},
            {"name": "occupation_factor", "label": "职业类别系数", "expr": "table('occupation')"},
            {"name": "premium", "label": "应缴保费", "expr": "max(base * occupation_factor, minimum)"},
        ],
        "result": "premium",
        "properties": {"non_decreasing_in": ["sum_insured"]},
    }
    gen = rng.randint(1, 6)
    return Built(
        name=f"{series}{gen}号{suffix}" if rng.random() < 0.6 else f"{brand}{series}{suffix}",
        crowds=list(crowds),
        scenarios=list(scenarios),
        tagline="意外身故伤残+意外医疗，社保内外都能报",
        highlights=["0免赔意外医疗", f"职业1–{classes}类可保", "猝死保障可选"],
        plans=plans,
        eligibility={
            "min_age_days": min_days,
            "max_age": max_age,
            "occupation_classes": list(range(1, classes + 1)),
            "regions": maybe_regions(rng, 8),
            "health_questions": [],
        },
        term_options=[{"code": "1y", "label": "1年", "years": 1}],
        payment_modes=["annual"],
        cooling_off_days=0,
        renewal={
            "renewable": True,
            "guaranteed_years": 0,
            "max_renewal_age": max_age + 5,
            "note": "到期需重新投保审核",
        },
        services=services(rng, ["rescue", "consultation", "legal_aid"], rng.randint(0, 2)),
        pricing=pricing,
    )


# --- travel -------------------------------------------------------------------------------------

TRAVEL_DAY_PRICES = (
    (1, 30),
    (4, 45),
    (8, 60),
    (11, 72),
    (16, 95),
    (21, 120),
    (31, 160),
    (46, 210),
    (61, 260),
    (91, 380),
    (121, 480),
    (151, 560),
)
ZONES = {
    "domestic": ("境内", D("0.3")),
    "asia": ("亚洲", D("0.8")),
    "schengen": ("申根/欧洲", D("1")),
    "world": ("全球（含美加）", D("1.35")),
}


def build_travel(rng: random.Random, brand: str, level: Decimal, n: int) -> Built:
    domestic = n % 4 == 0
    zones = ["domestic"] if domestic else ["asia", "schengen", "world"]
    tiers = [
        ("basic", "经济型", 300_000, D(1)),
        ("plus", "精英型", 500_000, D("1.5")),
        ("premium", "尊贵型", 1_000_000, D("2.2")),
    ]
    tiers = tiers[: rng.randint(2, 3)]
    plans, values = [], {}
    for i, (code, label, si, factor) in enumerate(tiers):
        covs = [
            Cov("accidental_death", "意外身故/伤残", si),
            Cov(
                "medical_abroad" if not domestic else "medical",
                "意外及突发疾病医疗",
                si // 2,
                "境外医疗费用直付",
                deductible=0 if i else 100,
                annual=si // 2,
            ),
            Cov("evacuation", "紧急医疗转运与送返", si // 2),
            Cov("baggage", "随身财产损失", 2000 * (i + 1), per_claim=500 * (i + 1)),
            Cov("trip_delay", "旅行延误", 600 * (i + 1), "每延误5小时赔付300元", per_claim=300),
        ]
        plans.append(plan(code, label, si, si, 0, covs, recommended=i == 1, index=i))
        for low, price in TRAVEL_DAY_PRICES:
            for zone in zones:
                values[f"{low}|{zone}|{code}"] = q(D(price) * ZONES[zone][1] * factor * level)
    pricing = {
        "inputs": {
            "trip_days": {"type": "integer", "label": "出行天数", "min": 1, "max": 180, "default": 7},
            "destination_zone": {
                "type": "choice",
                "label": "目的地",
                "choices": {z: ZONES[z][0] for z in zones},
                "default": zones[0],
            },
        },
        "tables": {
            "price": {
                "label": "按天数/目的地/方案的保费",
                "keys": ["trip_days", "destination_zone", "plan"],
                "bands": {"trip_days": [low for low, _ in TRAVEL_DAY_PRICES]},
                "values": values,
            }
        },
        "steps": [{"name": "premium", "label": "应缴保费", "expr": "table('price')"}],
        "result": "premium",
        "properties": {"non_decreasing_in": ["sum_insured", "trip_days"]},
    }
    series = rng.choice(["畅游", "环球行", "申根签证", "悦行", "乐游", "游学"])
    name = f"{brand}{series}{'境内' if domestic else '境外'}旅行险"
    return Built(
        name=name,
        crowds=["adults", "family"] + (["children"] if rng.random() < 0.4 else []),
        scenarios=["travel"] + (["study_abroad"] if series == "游学" else []),
        tagline="出行全程保障，紧急救援与医疗直付" if not domestic else "境内游玩，意外与医疗一起保",
        highlights=["满足申根签证要求" if not domestic else "自驾游可保", "按天计费，1–180天灵活选择"],
        plans=plans,
        eligibility={
            "min_age_days": 30,
            "max_age": 80,
            "occupation_classes": [1, 2, 3, 4],
            "regions": [],
            "health_questions": [],
        },
        term_options=[{"code": "trip", "label": "按行程（1–180天）", "days": 180}],
        payment_modes=["single"],
        cooling_off_days=0,
        renewal={"renewable": False, "guaranteed_years": 0, "max_renewal_age": None, "note": "按次投保"},
        services=services(
            rng, ["overseas_rescue", "consultation"] if not domestic else ["rescue", "consultation"], 1
        ),
        pricing=pricing,
    )


# --- medical ------------------------------------------------------------------------------------

MEDICAL_AGE_PREMIUM = (
    (0, 520),
    (5, 260),
    (11, 210),
    (16, 190),
    (21, 200),
    (26, 240),
    (31, 300),
    (36, 380),
    (41, 560),
    (46, 760),
    (51, 1060),
    (56, 1480),
    (61, 1980),
    (66, 2680),
)


def build_medical(rng: random.Random, brand: str, level: Decimal, n: int) -> Built:
    kind = n % 5  # 0,1 百万医疗; 2 长期医疗; 3 中高端; 4 老年/防癌医疗
    max_age = 80 if kind == 4 else rng.choice([60, 65, 70])
    if kind == 4:
        tiers = [("basic", "基础版", 1_000_000, D(1)), ("plus", "升级版", 2_000_000, D("1.3"))]
    elif kind == 3:
        tiers = [("standard", "标准版", 3_000_000, D("2.6")), ("vip", "尊享版", 6_000_000, D("3.8"))]
    else:
        tiers = [
            ("basic", "基础版", 2_000_000, D(1)),
            ("plus", "升级版", 4_000_000, D("1.35")),
            ("premium", "尊享版", 6_000_000, D("1.8")),
        ][: rng.randint(2, 3)]
    deductible = 0 if kind == 3 else 10_000
    plans, plan_factor = [], {}
    for i, (code, label, si, factor) in enumerate(tiers):
        covs = [
            Cov(
                "general_medical",
                "一般医疗保险金",
                si // 2,
                "住院、特殊门诊、门诊手术、住院前后7/30天门急诊；经社保结算后100%赔付，未经社保结算60%赔付",
                deductible=deductible,
                ratio="1",
                waiting=30,
                annual=si // 2,
            ),
            Cov(
                "critical_medical",
                "重大疾病医疗保险金",
                si,
                "确诊重疾后0免赔，100%赔付",
                ratio="1",
                waiting=30,
                annual=si,
            ),
        ]
        if i >= 1:
            covs.append(Cov("proton", "质子重离子医疗", si, "国内指定医疗机构，0免赔", waiting=30, annual=si))
            covs.append(
                Cov("special_drugs", "院外特定药品费用", si // 2, "指定药品清单内，0免赔", waiting=30)
            )
        if i >= 2 or kind == 3:
            covs.append(
                Cov(
                    "outpatient",
                    "门急诊医疗",
                    10_000,
                    "每次免赔0，赔付比例100%",
                    waiting=30,
                    annual=10_000,
                    per_claim=2_000,
                )
            )
        plans.append(plan(code, label, si, si, 0, covs, recommended=i == 1, index=i))
        plan_factor[code] = q(factor * level, "0.0001")
    age_values = {}
    for low, price in MEDICAL_AGE_PREMIUM:
        if low > max_age:
            break
        base = D(price) * (D("0.8") if kind == 4 else 1)
        age_values[f"{low}|yes"] = q(base)
        age_values[f"{low}|no"] = q(base * D("2.2"))
    pricing = {
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
                "bands": {"age": [low for low, _ in MEDICAL_AGE_PREMIUM if low <= max_age]},
                "values": age_values,
            },
            "plan_factor": {"label": "方案系数", "keys": ["plan"], "values": plan_factor},
        },
        "steps": [
            {"name": "base", "label": "基础保费", "expr": "table('base')"},
            {"name": "plan_factor", "label": "方案系数", "expr": "table('plan_factor')"},
            {"name": "premium", "label": "应缴保费", "expr": "base * plan_factor"},
        ],
        "result": "premium",
        "properties": {"non_decreasing_in": ["sum_insured"]},
    }
    series = rng.choice(
        [
            "尊享e生",
            "好医保",
            "e享护",
            "安欣保",
            "健康福",
            "蓝医保",
            "金医保",
            "超越保",
            "长相安",
            "倍享",
            "安康",
            "无忧",
        ]
    )
    year = rng.choice([2025, 2026])
    suffix = ["百万医疗险", "百万医疗险", "长期医疗险（20年保证续保）", "中高端医疗险", "老年防癌医疗险"][
        kind
    ]
    guaranteed = 20 if kind == 2 else rng.choice([0, 6]) if kind in (0, 1) else 0
    return Built(
        name=f"{brand}{series}{year}{suffix}",
        crowds=(
            ["elderly"] if kind == 4 else ["adults", "family"] + (["children"] if rng.random() < 0.5 else [])
        ),
        scenarios=["health"],
        tagline="一般医疗1万免赔额，重疾0免赔，社保内外都能报",
        highlights=[f"最高{tiers[-1][2] // 10_000}万保额", "重疾医疗0免赔", "住院垫付"],
        plans=plans,
        eligibility={
            "min_age_days": 28 if kind != 4 else 50 * YEAR_DAYS,
            "max_age": max_age,
            "occupation_classes": [1, 2, 3, 4],
            "regions": maybe_regions(rng, 10),
            "health_questions": health_questions(rng, "medical"),
        },
        term_options=[{"code": "1y", "label": "1年", "years": 1}],
        payment_modes=["annual", "monthly"],
        cooling_off_days=15 if kind == 2 else 0,
        renewal={
            "renewable": True,
            "guaranteed_years": guaranteed,
            "max_renewal_age": 100,
            "note": f"{guaranteed}年保证续保" if guaranteed else "非保证续保，产品停售时不再续保",
        },
        services=services(
            rng,
            ["green_channel", "advance_payment", "drug_delivery", "consultation", "second_opinion"],
            rng.randint(2, 4),
        ),
        pricing=pricing,
        waiting_days=30,
    )


# --- critical illness ---------------------------------------------------------------------------

CI_AGE_BANDS = (0, 1, 6, 11, 16, 21, 26, 31, 36, 41, 46, 51, 56)


def build_critical_illness(rng: random.Random, brand: str, level: Decimal, n: int) -> Built:
    series = rng.choice(
        [
            "达尔文",
            "超级玛丽",
            "守卫者",
            "康惠保",
            "青云卫",
            "阿基里斯",
            "芯爱",
            "光明",
            "妈咪保贝",
            "嘉和",
            "健康源",
            "重疾先锋",
        ]
    )
    gen = rng.randint(2, 12)
    children = series == "妈咪保贝" or n % 6 == 0
    max_age = 17 if children else rng.choice([50, 55])
    waiting = rng.choice([90, 180])
    tiers = [("basic", "基础版", D("0.8")), ("standard", "标准版", D(1)), ("full", "全面版", D("1.3"))][
        : rng.randint(2, 3)
    ]
    plans, plan_factor = [], {}
    for i, (code, label, factor) in enumerate(tiers):
        si = 500_000 if children else 1_000_000
        covs = [Cov("critical", "重大疾病保险金（110种）", si, "确诊即赔基本保额", waiting=waiting)]
        if i >= 1:
            covs.append(
                Cov(
                    "moderate",
                    "中症疾病保险金（25种）",
                    si * 6 // 10,
                    "赔付基本保额60%，限2次",
                    waiting=waiting,
                )
            )
            covs.append(
                Cov("mild", "轻症疾病保险金（40种）", si * 3 // 10, "赔付基本保额30%，限3次", waiting=waiting)
            )
        if i >= 2:
            covs.append(Cov("death", "身故保险金", si, "18岁后身故赔付基本保额", optional=True))
            covs.append(
                Cov(
                    "cancer_extra",
                    "恶性肿瘤额外赔付",
                    si,
                    "间隔3年可再次赔付",
                    waiting=waiting,
                    optional=True,
                )
            )
        covs.append(Cov("waiver", "被保险人豁免", 0, "确诊轻/中症后豁免后续保费"))
        plans.append(plan(code, label, 100_000, si, 50_000, covs, recommended=i == 1, index=i))
        plan_factor[code] = q(factor, "0.0001")
    values = {}
    for low in CI_AGE_BANDS:
        if low > max_age:
            break
        for sex, sex_factor in (("M", D(1)), ("F", D("0.93"))):
            for term, term_factor in (("to70", D("0.62")), ("life", D(1))):
                rate = D(14) * (D("0.05") * (D(low) - 30)).exp() * sex_factor * term_factor * level
                values[f"{low}|{sex}|{term}"] = q(rate, "0.0001")
    pricing = {
        "tables": {
            "rate": {
                "label": "每千元保额年费率（30年交）",
                "keys": ["age", "sex", "term"],
                "bands": {"age": [b for b in CI_AGE_BANDS if b <= max_age]},
                "values": values,
            },
            "plan_factor": {"label": "方案系数", "keys": ["plan"], "values": plan_factor},
        },
        "steps": [
            {"name": "base", "label": "基础保费", "expr": "table('rate') * sum_insured / 1000"},
            {"name": "premium", "label": "应缴保费", "expr": "base * table('plan_factor')"},
        ],
        "result": "premium",
        "properties": {"non_decreasing_in": ["sum_insured", "age"]},
    }
    return Built(
        name=f"{series}{gen}号{'少儿' if children else ''}重疾险",
        crowds=["children"] if children else ["adults", "women"] if rng.random() < 0.2 else ["adults"],
        scenarios=["health"],
        tagline="重疾、中症、轻症多次赔，确诊即赔",
        highlights=[f"等待期{waiting}天", "轻中症豁免保费", "可选身故责任"],
        plans=plans,
        eligibility={
            "min_age_days": 28,
            "max_age": max_age,
            "occupation_classes": [1, 2, 3, 4] if rng.random() < 0.7 else [1, 2, 3, 4, 5, 6],
            "regions": [],
            "health_questions": health_questions(rng, "critical_illness"),
        },
        term_options=[
            {"code": "to70", "label": "保至70岁", "to_age": 70},
            {"code": "life", "label": "保终身", "to_age": 105},
        ],
        payment_modes=["annual", "monthly"],
        cooling_off_days=rng.choice([15, 20]),
        renewal={
            "renewable": False,
            "guaranteed_years": 0,
            "max_renewal_age": None,
            "note": "长期合同，保证费率不变",
        },
        services=services(rng, ["green_channel", "second_opinion", "health_management"], rng.randint(1, 3)),
        pricing=pricing,
        waiting_days=waiting,
    )


# --- term life ----------------------------------------------------------------------------------

TERM_LIFE_BANDS = (18, 21, 26, 31, 36, 41, 46, 51, 56)
TERM_CODES = (
    ("10y", "10年", {"years": 10}),
    ("20y", "20年", {"years": 20}),
    ("30y", "30年", {"years": 30}),
    ("to60", "保至60岁", {"to_age": 60}),
    ("to70", "保至70岁", {"to_age": 70}),
)


def _term_years(term: str, age: int) -> int:
    if term.startswith("to"):
        return max(int(term[2:]) - age, 5)
    return int(term[:-1])


def _term_life_rate(age: int, years: int) -> Decimal:
    """Level annual rate per ¥1,000: the mean one-year death rate over the term, loaded 30%."""
    total = sum((D("0.085") * (D(age + t) - 25)).exp() for t in range(years))
    return D("0.4") * total / years * D("1.3")


# The term-life product (by its index in the line) whose premium steps up by policy year.
STEPPED_TERM_LIFE = 1
STEPPED_BANDS = tuple(range(18, 87, 5))  # attained ages: 18, 23, … 83 (and over)


def _stepped_term_life_pricing(level: Decimal, plan_factor: dict[str, str]) -> dict[str, Any]:
    """Natural premiums (自然费率): the one-year rate of the insured's age each policy year
    (`premium_steps: attained_age`), not a level rate over the term."""
    values = {}
    for low in STEPPED_BANDS:
        rate = D("0.4") * (D("0.085") * (D(low + 2) - 25)).exp() * D("1.3") * level
        values[f"{low}|M"] = q(rate, "0.0001")
        values[f"{low}|F"] = q(rate * D("0.6"), "0.0001")
    return {
        "tables": {
            "rate": {
                "label": "每千元保额年费率（按当年年龄）",
                "keys": ["age", "sex"],
                "bands": {"age": list(STEPPED_BANDS)},
                "values": values,
            },
            "plan_factor": {"label": "方案系数", "keys": ["plan"], "values": plan_factor},
        },
        "constants": {"minimum": "50"},
        "steps": [
            {"name": "base", "label": "基础保费", "expr": "table('rate') * sum_insured / 1000"},
            {"name": "premium", "label": "应缴保费", "expr": "max(base * table('plan_factor'), minimum)"},
        ],
        "result": "premium",
        "premium_steps": "attained_age",
        "properties": {"non_decreasing_in": ["sum_insured", "age"]},
    }


def build_term_life(rng: random.Random, brand: str, level: Decimal, n: int) -> Built:
    series = rng.choice(["大麦", "定海柱", "擎天柱", "臻爱", "华贵大麦", "祥瑞", "小青龙", "铁甲"])
    gen = rng.randint(2, 8)
    max_age = rng.choice([55, 60])
    tiers = [("standard", "标准版", D(1)), ("plus", "意外加倍版", D("1.08"))]
    if rng.random() < 0.3:
        tiers.append(("family", "夫妻互保版", D("1.12")))
    plans, plan_factor = [], {}
    for i, (code, label, factor) in enumerate(tiers):
        covs = [
            Cov("death", "身故保险金", 3_000_000, "身故赔付基本保额"),
            Cov("total_disability", "全残保险金", 3_000_000, "全残赔付基本保额"),
        ]
        if code != "standard":
            covs.append(Cov("accident_extra", "意外身故额外赔付", 3_000_000, "意外身故额外给付基本保额"))
        plans.append(plan(code, label, 500_000, 3_000_000, 10_000, covs, recommended=i == 0, index=i))
        plan_factor[code] = q(factor, "0.0001")
    values = {}
    for low in TERM_LIFE_BANDS:
        if low > max_age:
            break
        for term, _, _ in TERM_CODES:
            years = _term_years(term, low + 2)
            rate = _term_life_rate(low + 2, years) * level
            values[f"{low}|M|{term}"] = q(rate, "0.0001")
            values[f"{low}|F|{term}"] = q(rate * D("0.6"), "0.0001")
    pricing = {
        "tables": {
            "rate": {
                "label": "每千元保额年费率",
                "keys": ["age", "sex", "term"],
                "bands": {"age": [b for b in TERM_LIFE_BANDS if b <= max_age]},
                "values": values,
            },
            "plan_factor": {"label": "方案系数", "keys": ["plan"], "values": plan_factor},
        },
        "constants": {"minimum": "50"},
        "steps": [
            {"name": "base", "label": "基础保费", "expr": "table('rate') * sum_insured / 1000"},
            {"name": "premium", "label": "应缴保费", "expr": "max(base * table('plan_factor'), minimum)"},
        ],
        "result": "premium",
        "properties": {"non_decreasing_in": ["sum_insured", "age"]},
    }
    highlights = ["最高300万保额", "健康告知宽松", "可选保至60/70岁"]
    if n == STEPPED_TERM_LIFE:
        # the yearly renewable term (费率逐年递增): each policy year priced at the attained age
        pricing = _stepped_term_life_pricing(level, plan_factor)
        highlights = [*highlights, "自然费率，保费随年龄逐年递增"]
    return Built(
        name=f"{series}{gen}号定期寿险",
        crowds=["adults", "family"],
        scenarios=["health", "wealth"] if rng.random() < 0.2 else ["health"],
        tagline="家庭经济支柱的责任保障，身故/全残赔付",
        highlights=highlights,
        plans=plans,
        eligibility={
            "min_age_days": ADULT_DAYS,
            "max_age": max_age,
            "occupation_classes": [1, 2, 3, 4],
            "regions": [],
            "health_questions": health_questions(rng, "term_life"),
        },
        term_options=[{"code": c, "label": label, **extra} for c, label, extra in TERM_CODES],
        payment_modes=["annual", "monthly"],
        cooling_off_days=rng.choice([15, 20]),
        renewal={
            "renewable": False,
            "guaranteed_years": 0,
            "max_renewal_age": None,
            "note": "长期合同，费率锁定",
        },
        services=services(rng, ["health_management", "legal_aid"], 1),
        pricing=pricing,
    )


# --- whole life ---------------------------------------------------------------------------------

WHOLE_LIFE_BANDS = (0, 1, 6, 11, 16, 21, 26, 31, 36, 41, 46, 51, 56, 61, 66)
ANNUITY = {"1": D(1), "5": D("4.67"), "10": D("8.61"), "20": D("14.71")}  # due annuities at 3.5%


def build_whole_life(rng: random.Random, brand: str, level: Decimal, n: int) -> Built:
    series = rng.choice(["金满意足", "传家福", "鑫享", "臻享年年", "如意尊", "增额寿", "守护一生", "福满堂"])
    annuity_like = n % 3 == 0
    suffix = "养老年金保险" if annuity_like else "增额终身寿险"
    tiers = [("standard", "标准版", D(1)), ("waiver", "投保人豁免版", D("1.02"))]
    plans, plan_factor = [], {}
    for i, (code, label, factor) in enumerate(tiers):
        if annuity_like:
            covs = [
                Cov("annuity", "养老年金", 5_000_000, "60/65岁起每年领取基本保额的一定比例"),
                Cov("death", "身故保险金", 5_000_000, "身故给付已交保费与现金价值较大者"),
            ]
        else:
            covs = [
                Cov("death", "身故/全残保险金", 5_000_000, "有效保额按3.0%复利递增"),
                Cov("cash_value", "减保取现", 0, "保单第5年起可部分减保"),
            ]
        if code == "waiver":
            covs.append(Cov("payer_waiver", "投保人豁免", 0, "投保人身故/全残/重疾后豁免后续保费"))
        plans.append(plan(code, label, 10_000, 5_000_000, 1_000, covs, recommended=i == 0, index=i))
        plan_factor[code] = q(factor, "0.0001")
    values = {}
    for low in WHOLE_LIFE_BANDS:
        nsp = min(D("250") + D("9.5") * max(D(low) - 18, D(0)), D(900)) * level
        for sex, sf in (("M", D("1.06")), ("F", D(1))):
            for years, ann in ANNUITY.items():
                values[f"{low}|{sex}|{years}"] = q(nsp * sf * D("1.05") / ann, "0.0001")
    pricing = {
        "inputs": {
            "pay_years": {
                "type": "choice",
                "label": "交费期间",
                "choices": {"1": "趸交", "5": "5年交", "10": "10年交", "20": "20年交"},
                "default": "10",
            }
        },
        "tables": {
            "rate": {
                "label": "每千元基本保额年交保费",
                "keys": ["age", "sex", "pay_years"],
                "bands": {"age": list(WHOLE_LIFE_BANDS)},
                "values": values,
            },
            "plan_factor": {"label": "方案系数", "keys": ["plan"], "values": plan_factor},
        },
        "steps": [
            {"name": "base", "label": "基础保费", "expr": "table('rate') * sum_insured / 1000"},
            {"name": "premium", "label": "应缴保费", "expr": "base * table('plan_factor')"},
        ],
        "result": "premium",
        "properties": {"non_decreasing_in": ["sum_insured", "age"]},
    }
    return Built(
        name=f"{brand}{series}{suffix}",
        crowds=["adults", "family"] + (["elderly"] if annuity_like else []),
        scenarios=["retirement"] if annuity_like else ["wealth"],
        tagline="保额逐年复利递增，灵活减保" if not annuity_like else "活多久领多久，养老现金流有保障",
        highlights=["合同约定增长", "身故传承", "可减保取现"],
        plans=plans,
        eligibility={
            "min_age_days": 28,
            "max_age": 70,
            "occupation_classes": [1, 2, 3, 4, 5, 6],
            "regions": [],
            "health_questions": health_questions(rng, "whole_life")[:3],
        },
        term_options=[{"code": "life", "label": "终身", "to_age": 105}],
        payment_modes=["single", "annual"],
        cooling_off_days=rng.choice([15, 20]),
        renewal={"renewable": False, "guaranteed_years": 0, "max_renewal_age": None, "note": "终身合同"},
        services=services(rng, ["health_management", "consultation"], 1),
        pricing=pricing,
    )


# --- auto ---------------------------------------------------------------------------------------

VEHICLE_CLASSES = {
    "family_lt6": ("家庭自用汽车6座以下", 950),
    "family_6plus": ("家庭自用汽车6座及以上", 1100),
    "enterprise_lt6": ("企业非营业客车6座以下", 1000),
    "enterprise_6to10": ("企业非营业客车6–10座", 1130),
    "truck_lt2t": ("非营业货车2吨以下", 1200),
}
FLOATING = {
    "A1": ("上一年度无有责道路交通事故", "0.9"),
    "A2": ("上两个年度无有责道路交通事故", "0.8"),
    "A3": ("上三个及以上年度无有责道路交通事故", "0.7"),
    "A4": ("上一年度发生一次有责不涉及死亡的事故", "1"),
    "A5": ("上一年度发生两次及以上有责不涉及死亡的事故", "1.1"),
    "A6": ("上一年度发生有责道路交通死亡事故", "1.3"),
}


def build_auto_compulsory(rng: random.Random, brand: str, level: Decimal, n: int) -> Built:
    covs = [
        Cov("death_disability", "死亡伤残赔偿", 180_000, "有责限额18万元，无责1.8万元"),
        Cov("medical", "医疗费用赔偿", 18_000, "有责限额1.8万元，无责1800元"),
        Cov("property", "财产损失赔偿", 2_000, "有责限额2000元，无责100元"),
    ]
    plans = [
        plan("standard", "交强险", 200_000, 200_000, 0, covs, recommended=True, index=0),
        plan(
            "plus",
            "交强险+驾乘意外",
            200_000,
            200_000,
            0,
            [*covs, Cov("passenger_accident", "驾乘人员意外", 100_000, "每座10万元", optional=True)],
            index=1,
        ),
    ]
    pricing = {
        "inputs": {
            "vehicle_class": {
                "type": "choice",
                "label": "车辆种类",
                "choices": {k: v[0] for k, v in VEHICLE_CLASSES.items()},
                "default": "family_lt6",
            },
            "floating_level": {
                "type": "choice",
                "label": "交通事故浮动",
                "choices": {k: v[0] for k, v in FLOATING.items()},
                "default": "A4",
            },
        },
        "tables": {
            "base": {
                "label": "交强险基础保费",
                "keys": ["vehicle_class"],
                "values": {k: str(v[1]) for k, v in VEHICLE_CLASSES.items()},
            },
            "floating": {
                "label": "浮动系数",
                "keys": ["floating_level"],
                "values": {k: v[1] for k, v in FLOATING.items()},
            },
            "addon": {
                "label": "附加驾乘意外保费",
                "keys": ["plan"],
                "values": {"standard": "0", "plus": "30"},
            },
        },
        "steps": [
            {"name": "base", "label": "基础保费", "expr": "table('base')"},
            {"name": "floating", "label": "浮动系数", "expr": "table('floating')"},
            {"name": "premium", "label": "应缴保费", "expr": "base * floating + table('addon')"},
        ],
        "result": "premium",
        "properties": {"non_decreasing_in": ["sum_insured"]},
    }
    return Built(
        name=f"{brand}机动车交通事故责任强制保险",
        crowds=["adults", "business"] if n % 3 == 0 else ["adults"],
        scenarios=["driving"],
        tagline="国家法定强制保险，上路必备",
        highlights=["电子保单即时生效", "基础保费按国家标准"],
        plans=plans,
        # The vehicle is insured, priced by its class and record: no age or sex asked of anyone.
        eligibility={
            "occupation_classes": [],
            "regions": maybe_regions(rng, 30),
            "health_questions": [],
        },
        term_options=[{"code": "1y", "label": "1年", "years": 1}],
        payment_modes=["annual"],
        cooling_off_days=0,
        renewal={
            "renewable": True,
            "guaranteed_years": 0,
            "max_renewal_age": None,
            "note": "到期前90天可续保",
        },
        services=["rescue"],
        pricing=pricing,
    )


NCD = {
    "n4": ("连续4年及以上无赔款", "0.5"),
    "n3": ("连续3年无赔款", "0.6"),
    "n2": ("连续2年无赔款", "0.7"),
    "n1": ("上年无赔款", "0.85"),
    "new": ("新车/首年投保", "1"),
    "c1": ("上年1次赔款", "1"),
    "c2": ("上年2次赔款", "1.25"),
    "c3": ("上年3次赔款", "1.5"),
    "c4": ("上年4次及以上赔款", "2"),
}


def build_auto_commercial(rng: random.Random, brand: str, level: Decimal, n: int) -> Built:
    tiers = [("basic", "基础版", 1_000_000), ("full", "全面版", 2_000_000), ("premium", "尊享版", 3_000_000)]
    tiers = tiers[: rng.randint(2, 3)]
    plans, tpl, seats = [], {}, {}
    for i, (code, label, si) in enumerate(tiers):
        covs = [
            Cov("vehicle_damage", "机动车损失保险", 0, "按新车购置价减折旧确定保额，不计免赔"),
            Cov("third_party", f"第三者责任保险（{si // 10_000}万）", si, "每次事故赔偿限额", per_claim=si),
        ]
        if i >= 1:
            covs.append(Cov("driver", "车上人员责任（司机）", 100_000, per_claim=100_000))
            covs.append(Cov("passenger", "车上人员责任（乘客）", 40_000, "每座1万元"))
        if i >= 2:
            covs.append(Cov("outside_medical", "医保外医疗费用责任", 20_000, optional=True))
        plans.append(plan(code, label, si, si, 0, covs, recommended=i == 1, index=i))
        seats[code] = ["0", "90", "130"][i]
        for vc, (_, base) in VEHICLE_CLASSES.items():
            tpl[f"{vc}|{code}"] = q(D(base) * D(["0.95", "1.15", "1.3"][i]) * level)
    damage_base = {vc: q(D(base) * D("0.55") * level) for vc, (_, base) in VEHICLE_CLASSES.items()}
    damage_rate = {
        vc: q(D("0.0115") * level * (D("1.1") if vc.startswith("truck") else 1), "0.000001")
        for vc in VEHICLE_CLASSES
    }
    pricing = {
        "inputs": {
            "vehicle_class": {
                "type": "choice",
                "label": "车辆种类",
                "choices": {k: v[0] for k, v in VEHICLE_CLASSES.items()},
                "default": "family_lt6",
            },
            "vehicle_value": {
                "type": "decimal",
                "label": "新车购置价（元）",
                "min": 30000,
                "max": 2000000,
                "default": "150000",
            },
            "ncd_level": {
                "type": "choice",
                "label": "无赔款优待",
                "choices": {k: v[0] for k, v in NCD.items()},
                "default": "new",
            },
            "driving_score": {
                "type": "integer",
                "label": "驾驶行为评分",
                "min": 0,
                "max": 100,
                "required": False,
                "default": 60,
            },
        },
        "tables": {
            "damage_base": {"label": "车损险基础保费", "keys": ["vehicle_class"], "values": damage_base},
            "damage_rate": {"label": "车损险费率", "keys": ["vehicle_class"], "values": damage_rate},
            "third_party": {"label": "三者险保费", "keys": ["vehicle_class", "plan"], "values": tpl},
            "seats": {"label": "车上人员保费", "keys": ["plan"], "values": seats},
            "ncd": {
                "label": "无赔款优待系数",
                "keys": ["ncd_level"],
                "values": {k: v[1] for k, v in NCD.items()},
            },
        },
        "constants": {"channel_factor": q(D(rng.randint(75, 95)) / 100)},
        "steps": [
            {
                "name": "damage",
                "label": "车损险",
                "expr": "table('damage_base') + vehicle_value * table('damage_rate')",
            },
            {"name": "liability", "label": "三者及车上人员", "expr": "table('third_party') + table('seats')"},
            {"name": "ncd_factor", "label": "无赔款优待系数", "expr": "table('ncd')"},
            {
                "name": "driving_factor",
                "label": "驾驶行为系数",
                "expr": "clamp(1.15 - driving_score * 0.003, 0.85, 1.15)",
            },
            {
                "name": "premium",
                "label": "应缴保费",
                "expr": "(damage + liability) * ncd_factor * driving_factor * channel_factor",
            },
        ],
        "result": "premium",
        "properties": {"non_decreasing_in": ["sum_insured", "vehicle_value"]},
    }
    series = rng.choice(["安心车险", "好车主", "驾无忧", "UBI智驾", "车无忧", "优驾"])
    return Built(
        name=f"{brand}{series}商业车险",
        crowds=["adults", "family"] if n % 4 else ["business"],
        scenarios=["driving"],
        tagline="车损+三者+车上人员，驾驶习惯好保费更低",
        highlights=["UBI驾驶评分优惠", "7×24小时道路救援", "小额案件极速理赔"],
        plans=plans,
        eligibility={
            "min_age_days": ADULT_DAYS,
            "max_age": 80,
            "occupation_classes": [],
            "regions": maybe_regions(rng, 30),
            "health_questions": [],
        },
        term_options=[{"code": "1y", "label": "1年", "years": 1}],
        payment_modes=["annual"],
        cooling_off_days=0,
        renewal={
            "renewable": True,
            "guaranteed_years": 0,
            "max_renewal_age": None,
            "note": "到期前90天可续保",
        },
        services=services(rng, ["rescue", "legal_aid"], 2),
        pricing=pricing,
    )


# --- home ---------------------------------------------------------------------------------------

AREA_BANDS = ((0, "0.9"), (60, "1"), (90, "1.1"), (120, "1.25"), (180, "1.4"), (300, "1.6"))


def build_home_property(rng: random.Random, brand: str, level: Decimal, n: int) -> Built:
    tiers = [
        ("basic", "基础版", 300_000, 1_000_000, "2.2"),
        ("standard", "标准版", 1_000_000, 3_000_000, "1.8"),
        ("premium", "尊享版", 3_000_000, 5_000_000, "1.5"),
    ][: rng.randint(2, 3)]
    plans, rates = [], {}
    for i, (code, label, low, high, rate) in enumerate(tiers):
        covs = [
            Cov("structure", "房屋主体", high, "火灾、爆炸、台风、暴雨等导致的损失"),
            Cov(
                "contents",
                "室内财产",
                high // 10,
                "家用电器、家具、衣物",
                deductible=200,
                per_claim=high // 10,
            ),
            Cov("water_leak", "管道破裂及水渍", 20_000 * (i + 1), deductible=200, per_claim=20_000 * (i + 1)),
            Cov("liability", "家庭第三者责任", 100_000 * (i + 1)),
        ]
        if i >= 1:
            covs.append(Cov("theft", "盗抢损失", 10_000 * (i + 1), deductible=100))
        plans.append(plan(code, label, low, high, 100_000, covs, recommended=i == 1, index=i))
        rates[code] = q(D(rate) * level, "0.0001")
    pricing = {
        "inputs": {
            "home_area_sqm": {
                "type": "integer",
                "label": "房屋面积（平方米）",
                "min": 20,
                "max": 1000,
                "default": 90,
            }
        },
        "tables": {
            "rate": {"label": "每万元保额费率", "keys": ["plan"], "values": rates},
            "area": {
                "label": "面积系数",
                "keys": ["home_area_sqm"],
                "bands": {"home_area_sqm": [b for b, _ in AREA_BANDS]},
                "values": {str(b): f for b, f in AREA_BANDS},
            },
        },
        "constants": {"minimum": "30"},
        "steps": [
            {"name": "base", "label": "基础保费", "expr": "sum_insured / 10000 * table('rate')"},
            {"name": "premium", "label": "应缴保费", "expr": "max(base * table('area'), minimum)"},
        ],
        "result": "premium",
        "properties": {"non_decreasing_in": ["sum_insured", "home_area_sqm"]},
    }
    series = rng.choice(["安居", "家无忧", "家财宝", "居家保", "暖家", "宅安心"])
    return Built(
        name=f"{brand}{series}家庭财产保险",
        crowds=["family"],
        scenarios=["home"],
        tagline="房屋+室内财产+水渍+家庭责任，一张保单保全家",
        highlights=["水管爆裂也能赔", "租客可保室内财产"],
        plans=plans,
        eligibility={
            "min_age_days": ADULT_DAYS,
            "max_age": 80,
            "occupation_classes": [],
            "regions": maybe_regions(rng, 25),
            "health_questions": [],
        },
        term_options=[{"code": "1y", "label": "1年", "years": 1}],
        payment_modes=["annual"],
        cooling_off_days=0,
        renewal={
            "renewable": True,
            "guaranteed_years": 0,
            "max_renewal_age": None,
            "note": "到期自动提醒续保",
        },
        services=services(rng, ["repair_pickup", "legal_aid"], 1),
        pricing=pricing,
    )


# --- scenario products --------------------------------------------------------------------------

ORDER_BANDS = ((0, "0.35"), (50, "0.55"), (100, "0.8"), (300, "1.2"), (1000, "1.8"), (5000, "2.6"))
RETURN_RISK = ((0, "0.6"), (5, "0.8"), (10, "1"), (20, "1.4"), (35, "2"), (50, "3"))


def _short(*, min_age: int = 18, max_age: int = 80) -> dict[str, Any]:
    return {
        "min_age_days": min_age * YEAR_DAYS,
        "max_age": max_age,
        "occupation_classes": [],
        "regions": [],
        "health_questions": [],
    }


def build_return_shipping(rng: random.Random, brand: str, level: Decimal, n: int) -> Built:
    tiers = [("standard", "标准版", 10, "1"), ("plus", "加强版", 15, "1.4"), ("premium", "尊享版", 25, "2.1")]
    tiers = tiers[: rng.randint(2, 3)]
    plans = [
        plan(
            code,
            label,
            si,
            si,
            0,
            [Cov("return_freight", "退货运费补偿", si, f"退货签收后自动赔付{si}元")],
            recommended=i == 0,
            index=i,
        )
        for i, (code, label, si, _) in enumerate(tiers)
    ]
    pricing = {
        "inputs": {
            "order_amount": {
                "type": "decimal",
                "label": "订单金额（元）",
                "min": 1,
                "max": 50000,
                "default": "99",
            },
            "return_rate_pct": {
                "type": "integer",
                "label": "历史退货率（%）",
                "min": 0,
                "max": 100,
                "default": 10,
            },
        },
        "tables": {
            "order": {
                "label": "订单金额档",
                "keys": ["order_amount"],
                "bands": {"order_amount": [b for b, _ in ORDER_BANDS]},
                "values": {str(b): q(D(v) * level) for b, v in ORDER_BANDS},
            },
            "risk": {
                "label": "退货率风险系数",
                "keys": ["return_rate_pct"],
                "bands": {"return_rate_pct": [b for b, _ in RETURN_RISK]},
                "values": {str(b): v for b, v in RETURN_RISK},
            },
            "plan_factor": {"label": "方案系数", "keys": ["plan"], "values": {c: f for c, _, _, f in tiers}},
        },
        "constants": {"minimum": "0.2"},
        "steps": [
            {"name": "base", "label": "基础保费", "expr": "table('order') * table('plan_factor')"},
            {"name": "premium", "label": "应缴保费", "expr": "max(base * table('risk'), minimum)"},
        ],
        "result": "premium",
        "properties": {"non_decreasing_in": ["sum_insured", "order_amount", "return_rate_pct"]},
    }
    return Built(
        name=f"{brand}{rng.choice(['退货无忧', '运费宝', '买家退货', '网购退换'])}运费险",
        crowds=["adults"],
        scenarios=["online_shopping"],
        tagline="退货签收后自动理赔，运费秒到账",
        highlights=["按单投保", "自动理赔"],
        plans=plans,
        eligibility=_short(),
        term_options=[{"code": "order", "label": "单笔订单（签收后15天内）", "days": 15}],
        payment_modes=["single"],
        cooling_off_days=0,
        renewal={"renewable": False, "guaranteed_years": 0, "max_renewal_age": None, "note": "按订单投保"},
        services=[],
        pricing=pricing,
    )


PHONE_BANDS = (
    (0, "39"),
    (1000, "59"),
    (2000, "79"),
    (3000, "99"),
    (4500, "129"),
    (6000, "169"),
    (8000, "219"),
    (10000, "299"),
)


def build_phone_screen(rng: random.Random, brand: str, level: Decimal, n: int) -> Built:
    tiers = [
        ("screen", "碎屏版", 3000, "1"),
        ("screen_back", "屏幕+后盖版", 5000, "1.35"),
        ("full", "全面意外版", 10000, "1.9"),
    ][: rng.randint(2, 3)]
    plans, values = [], {}
    for i, (code, label, si, factor) in enumerate(tiers):
        covs = [Cov("screen", "屏幕意外破碎", si, "官方授权维修，限1次", per_claim=si, annual=si)]
        if i >= 1:
            covs.append(Cov("back_cover", "后盖破碎", si // 3, per_claim=si // 3))
        if i >= 2:
            covs.append(Cov("accidental_damage", "意外跌落/进水损坏", si, deductible=100))
        plans.append(plan(code, label, si, si, 0, covs, recommended=i == 0, index=i))
        for b, v in PHONE_BANDS:
            values[f"{b}|{code}"] = q(D(v) * D(factor) * level)
    pricing = {
        "inputs": {
            "phone_price": {
                "type": "decimal",
                "label": "手机购买价（元）",
                "min": 300,
                "max": 30000,
                "default": "3000",
            }
        },
        "tables": {
            "price": {
                "label": "按机价的保费",
                "keys": ["phone_price", "plan"],
                "bands": {"phone_price": [b for b, _ in PHONE_BANDS]},
                "values": values,
            }
        },
        "steps": [{"name": "premium", "label": "应缴保费", "expr": "table('price')"}],
        "result": "premium",
        "properties": {"non_decreasing_in": ["sum_insured", "phone_price"]},
    }
    return Built(
        name=f"{brand}{rng.choice(['屏安心', '碎屏无忧', '手机保', '屏幕卫士'])}手机碎屏险",
        crowds=["adults"],
        scenarios=["online_shopping"],
        tagline="屏幕碎了免费换，上门取送修",
        highlights=["官方授权维修", "上门取送"],
        plans=plans,
        eligibility=_short(min_age=16),
        term_options=[{"code": "1y", "label": "1年", "years": 1}],
        payment_modes=["single"],
        cooling_off_days=0,
        renewal={
            "renewable": False,
            "guaranteed_years": 0,
            "max_renewal_age": None,
            "note": "新机购买30天内投保",
        },
        services=["repair_pickup"],
        pricing=pricing,
    )


PET_SIZES = {"small": ("小型犬/猫", D(1)), "medium": ("中型犬", D("1.25")), "large": ("大型犬", D("1.6"))}
PET_AGE = ((0, "1"), (1, "1"), (4, "1.2"), (7, "1.6"), (9, "2.1"))


def build_pet(rng: random.Random, brand: str, level: Decimal, n: int) -> Built:
    tiers = [
        ("basic", "基础版", 5000, D(1)),
        ("standard", "标准版", 10000, D("1.6")),
        ("premium", "尊享版", 20000, D("2.5")),
    ][: rng.randint(2, 3)]
    plans, values, plan_factor = [], {}, {}
    for i, (code, label, si, factor) in enumerate(tiers):
        covs = [
            Cov(
                "pet_medical",
                "宠物医疗费用",
                si,
                "门诊、住院、手术",
                deductible=[200, 100, 0][i],
                ratio="0.7" if i == 0 else "0.8",
                waiting=30,
                annual=si,
            ),
            Cov(
                "pet_liability",
                "宠物第三者责任",
                20_000 * (i + 1),
                "宠物咬伤他人或损坏他人财产",
                deductible=200,
            ),
        ]
        plans.append(plan(code, label, si, si, 0, covs, recommended=i == 1, index=i))
        plan_factor[code] = q(factor, "0.0001")
    base = D(rng.randint(280, 360)) * level
    for size, (_, sf) in PET_SIZES.items():
        for b, af in PET_AGE:
            values[f"{size}|{b}"] = q(base * sf * D(af))
    pricing = {
        "inputs": {
            "pet_breed_size": {
                "type": "choice",
                "label": "体型",
                "choices": {k: v[0] for k, v in PET_SIZES.items()},
                "default": "small",
            },
            "pet_age": {"type": "integer", "label": "宠物年龄（岁）", "min": 0, "max": 10, "default": 2},
        },
        "tables": {
            "base": {
                "label": "体型×年龄基础保费",
                "keys": ["pet_breed_size", "pet_age"],
                "bands": {"pet_age": [b for b, _ in PET_AGE]},
                "values": values,
            },
            "plan_factor": {"label": "方案系数", "keys": ["plan"], "values": plan_factor},
        },
        "steps": [{"name": "premium", "label": "应缴保费", "expr": "table('base') * table('plan_factor')"}],
        "result": "premium",
        "properties": {"non_decreasing_in": ["sum_insured", "pet_age"]},
    }
    return Built(
        name=f"{brand}{rng.choice(['萌宠', '毛孩子', '宠爱', '汪喵'])}宠物医疗险",
        crowds=["adults", "family"],
        scenarios=["pets"],
        tagline="猫狗看病能报销，宠物医院直付",
        highlights=["2月龄–10岁可保", "合作宠物医院直付"],
        plans=plans,
        eligibility=_short(max_age=70),
        term_options=[{"code": "1y", "label": "1年", "years": 1}],
        payment_modes=["annual", "monthly"],
        cooling_off_days=0,
        renewal={
            "renewable": True,
            "guaranteed_years": 0,
            "max_renewal_age": None,
            "note": "宠物满11岁不再续保",
        },
        services=["pet_vet"],
        pricing=pricing,
        waiting_days=30,
    )


def build_flight_delay(rng: random.Random, brand: str, level: Decimal, n: int) -> Built:
    tiers = [
        ("basic", "基础版", 200, "3小时", "20"),
        ("plus", "升级版", 400, "2小时", "30"),
        ("premium", "尊享版", 600, "1小时", "40"),
    ][: rng.randint(2, 3)]
    plans = [
        plan(
            code,
            label,
            si,
            si,
            0,
            [
                Cov("delay", f"航班延误{hours}及以上", si, "按航班实际到达时间自动理赔"),
                Cov("cancel", "航班取消", si // 2, "起飞前取消自动赔付"),
            ],
            recommended=i == 0,
            index=i,
        )
        for i, (code, label, si, hours, _) in enumerate(tiers)
    ]
    pricing = {
        "tables": {
            "price": {
                "label": "每航段保费",
                "keys": ["plan"],
                "values": {c: q(D(p) * level) for c, _, _, _, p in tiers},
            }
        },
        "steps": [{"name": "premium", "label": "应缴保费", "expr": "table('price')"}],
        "result": "premium",
        "properties": {"non_decreasing_in": ["sum_insured"]},
    }
    return Built(
        name=f"{brand}{rng.choice(['飞无忧', '航延宝', '准点保', '延误赔'])}航班延误险",
        crowds=["adults"],
        scenarios=["flight", "travel"],
        tagline="航班延误自动赔，无需申请",
        highlights=["自动理赔", "按航段投保"],
        plans=plans,
        eligibility=_short(min_age=2),
        term_options=[{"code": "flight", "label": "单个航段", "days": 1}],
        payment_modes=["single"],
        cooling_off_days=0,
        renewal={"renewable": False, "guaranteed_years": 0, "max_renewal_age": None, "note": "按航段投保"},
        services=["flight_notice"],
        pricing=pricing,
    )


def build_account_security(rng: random.Random, brand: str, level: Decimal, n: int) -> Built:
    tiers = [("card", "银行卡版", 50_000, 200_000, "1.2"), ("full", "全账户版", 50_000, 1_000_000, "1.6")]
    plans, rates = [], {}
    for i, (code, label, low, high, rate) in enumerate(tiers):
        covs = [Cov("card_theft", "银行卡盗刷", high, "借记卡/信用卡被盗刷损失", per_claim=high)]
        if code == "full":
            covs.append(Cov("payment_account", "支付账户被盗", high, "支付宝/微信等支付账户", per_claim=high))
            covs.append(Cov("social_account", "社交账户被盗导致的资金损失", high // 10))
        plans.append(plan(code, label, low, high, 10_000, covs, recommended=i == 1, index=i))
        rates[code] = q(D(rate) * level, "0.0001")
    pricing = {
        "tables": {"rate": {"label": "每万元保额费率", "keys": ["plan"], "values": rates}},
        "constants": {"minimum": "3"},
        "steps": [
            {
                "name": "premium",
                "label": "应缴保费",
                "expr": "max(sum_insured / 10000 * table('rate'), minimum)",
            }
        ],
        "result": "premium",
        "properties": {"non_decreasing_in": ["sum_insured"]},
    }
    return Built(
        name=f"{brand}{rng.choice(['账户安全险', '盗刷险', '资金安全险', '支付安全险'])}",
        crowds=["adults", "elderly"] if rng.random() < 0.3 else ["adults"],
        scenarios=["digital_account", "online_shopping"],
        tagline="银行卡、支付账户被盗刷全额赔",
        highlights=["盗刷预警", "全额赔付"],
        plans=plans,
        eligibility=_short(min_age=16, max_age=80),
        term_options=[{"code": "1y", "label": "1年", "years": 1}],
        payment_modes=["annual", "monthly"],
        cooling_off_days=0,
        renewal={
            "renewable": True,
            "guaranteed_years": 0,
            "max_renewal_age": None,
            "note": "到期自动续保可取消",
        },
        services=["fraud_alert"],
        pricing=pricing,
    )


Builder = Callable[[random.Random, str, Decimal, int], Built]

BUILDERS: dict[str, Builder] = {
    "accident": build_accident,
    "travel": build_travel,
    "medical": build_medical,
    "critical_illness": build_critical_illness,
    "term_life": build_term_life,
    "whole_life": build_whole_life,
    "auto_compulsory": build_auto_compulsory,
    "auto_commercial": build_auto_commercial,
    "home_property": build_home_property,
    "return_shipping": build_return_shipping,
    "phone_screen": build_phone_screen,
    "pet": build_pet,
    "flight_delay": build_flight_delay,
    "account_security": build_account_security,
}

# Share of the market per line (sums to 1,000 for the default load).
LINE_WEIGHTS: dict[str, int] = {
    "accident": 150,
    "travel": 80,
    "medical": 130,
    "critical_illness": 100,
    "term_life": 70,
    "whole_life": 60,
    "auto_compulsory": 35,
    "auto_commercial": 55,
    "home_property": 60,
    "return_shipping": 60,
    "phone_screen": 50,
    "pet": 50,
    "flight_delay": 50,
    "account_security": 50,
}

# Which insurer kinds sell each line.
LINE_INSURER_KINDS: dict[str, tuple[str, ...]] = {
    "accident": ("property", "life", "health"),
    "travel": ("property",),
    "medical": ("health", "property", "life"),
    "critical_illness": ("life", "health"),
    "term_life": ("life",),
    "whole_life": ("life",),
    "auto_compulsory": ("property",),
    "auto_commercial": ("property",),
    "home_property": ("property",),
    "return_shipping": ("property",),
    "phone_screen": ("property",),
    "pet": ("property",),
    "flight_delay": ("property",),
    "account_security": ("property",),
}


# --- application and underwriting rules ------------------------------------------------------------
#
# How each line is applied for (`application_rules`, docs/application.md) and underwritten
# (`underwriting`, docs/underwriting.md). Derived from the built product and its position `n` only
# (no random draws), so adding rules does not move the rest of the seeded market.

ALL_RELATIONS = ["self", "spouse", "child", "parent"]
# The accident products at these positions are special (see `special_accident`).
SIMPLE_ACCIDENT_N = 1
AUTO_BUNDLE_ACCIDENT_N = 2
PLATE_PATTERN = "^[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}$"
VIN_PATTERN = "^[A-HJ-NPR-Z0-9]{17}$"
PLATE_FIELD = {
    "code": "plate_number",
    "label": "车牌号",
    "pattern": PLATE_PATTERN,
    "required": True,
    "hint": "如 京A12345 或新能源 粤B123456",
}
VEHICLE_FIELDS = [
    PLATE_FIELD,
    {
        "code": "vin",
        "label": "车架号（VIN）",
        "pattern": VIN_PATTERN,
        "required": True,
        "hint": "17位，不含字母I、O、Q",
    },
    {
        "code": "vehicle_owner",
        "label": "行驶证车主姓名",
        "pattern": "",
        "required": False,
        "hint": "与投保人不同时填写",
    },
]
# 未成年人身故保险金额限额 (人身保险，父母为未成年子女投保): under 10 → ¥200,000; 10–17 → ¥500,000.
MINOR_DEATH_LIMITS: list[dict[str, Any]] = [
    {
        "benefit": "death",
        "max_age": 9,
        "limit": "200000",
        "reason": "未满10周岁的未成年人，各保险合同身故保险金额总和不得超过20万元",
    },
    {
        "benefit": "death",
        "min_age": 10,
        "max_age": 17,
        "limit": "500000",
        "reason": "已满10周岁未满18周岁的未成年人，各保险合同身故保险金额总和不得超过50万元",
    },
]
# What the adverse answer to each pooled health question does, for health and life lines.
HEALTH_QUESTION_RULES: dict[str, dict[str, str]] = {
    "hospitalised": {"on_yes": "refer", "reason": "近2年有住院史，需人工核保了解住院原因与治疗结果"},
    "abnormal_exam": {"on_yes": "exclusion", "exclusion": "甲状腺结节及其并发症"},
    "chronic": {"on_yes": "loading", "loading_percent": "30"},
    "cancer": {
        "on_yes": "decline",
        "reason": "患有或曾患恶性肿瘤、原位癌或交界性肿瘤，不符合本产品的承保条件",
    },
    "disability": {"on_yes": "refer"},
    "pregnant": {"on_yes": "exclusion", "exclusion": "妊娠、分娩（含难产）、流产及其并发症"},
    "medication": {"on_yes": "refer"},
    "declined": {"on_yes": "refer", "reason": "曾被拒保、延期或加费承保，需人工核保"},
}


def application_rules(
    *,
    relations: Sequence[str] = ("self",),
    max_insured: int = 1,
    beneficiary: str = "legal",
    signature: str = "handwritten",
    consent: str = "none",
    face_premium_at_least: str | None = None,
    effective: str = "next_day",
    subject: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    rules: dict[str, Any] = {
        "insured_relations": list(relations),
        "max_insured": max_insured,
        "applicant_min_age": 18,
        "beneficiary": beneficiary,
        "signature": signature,
        "insured_consent": consent,
        "effective": {"rule": effective},
    }
    if face_premium_at_least is not None:
        rules["face_check"] = {"always": False, "premium_at_least": face_premium_at_least}
    if subject:
        rules["subject"] = [dict(f) for f in subject]
    return rules


def question_rules(eligibility: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The rules of the product's own health questions (others are not its business)."""
    codes = [q["code"] for q in eligibility.get("health_questions", [])]
    return {code: dict(HEALTH_QUESTION_RULES[code]) for code in codes if code in HEALTH_QUESTION_RULES}


def minor_sum_limit(amount: int, what: str) -> list[dict[str, Any]]:
    return [
        {
            "max_age": 17,
            "max_sum_insured": money(amount),
            "reason": f"未成年人{what}保额不超过{amount // 10_000}万元",
        }
    ]


# The demo's scenario products sold inside partners' checkouts (huibao.embedded): the highest
# premium of one policy sold that way, per line (above every demo price of the line but the
# riskiest orders' of return shipping).
EMBEDDED_MAX_PREMIUM = {"return_shipping": "10.00", "flight_delay": "50.00", "phone_screen": "700.00"}


def embedded(rules: dict[str, Any], line: str) -> dict[str, Any]:
    """`rules` allowing embedded sale (`application_rules.embedded_sale`) at the line's maximum."""
    return {**rules, "embedded_sale": {"allowed": True, "max_premium": EMBEDDED_MAX_PREMIUM[line]}}


def rules_for(line: str, built: Built, n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(application_rules, underwriting) of a built product of `line`."""
    eligibility = built.eligibility
    # A vehicle's lines (交强险) ask no age: their rules below use none.
    max_age = int(eligibility.get("max_age", 0))
    if line == "accident":
        simple = n == SIMPLE_ACCIDENT_N
        return (
            application_rules(
                relations=ALL_RELATIONS,
                signature="confirmation" if simple else "handwritten",
                consent="death_cover_other_adult",
                subject=[PLATE_FIELD] if n == AUTO_BUNDLE_ACCIDENT_N else (),
            ),
            {
                "aggregate_limits": MINOR_DEATH_LIMITS,
                **({"refer_age_above": 80} if max_age > 80 else {}),
            },
        )
    if line == "travel":
        return (
            application_rules(relations=ALL_RELATIONS, max_insured=5, consent="death_cover_other_adult"),
            # No aggregate death limit here: a family trip insures children too, and travel
            # terms pay a minor's death benefit within the statutory limit (not modelled).
            {"refer_age_above": 75},
        )
    if line == "medical":
        elderly = int(eligibility["min_age_days"]) >= 50 * YEAR_DAYS
        return (
            application_rules(relations=ALL_RELATIONS),
            {
                "questions": question_rules(eligibility),
                "refer_age_above": max_age - 5 if elderly else min(max_age - 5, 55),
                "sum_insured_limits": minor_sum_limit(4_000_000, "医疗保险"),
            },
        )
    if line == "critical_illness":
        return (
            application_rules(
                relations=ALL_RELATIONS, consent="death_cover_other_adult", face_premium_at_least="5000"
            ),
            {
                "questions": question_rules(eligibility),
                "refer_age_above": max_age - 10 if max_age > 17 else 17,
                "sum_insured_limits": minor_sum_limit(500_000, "重大疾病保险"),
                "aggregate_limits": MINOR_DEATH_LIMITS,
                "refer_sum_insured_above": "800000",
            },
        )
    if line == "term_life":
        return (
            application_rules(
                relations=["self", "spouse"],
                beneficiary="named_allowed",
                consent="death_cover_other_adult",
                face_premium_at_least="5000",
            ),
            {
                "questions": question_rules(eligibility),
                "refer_age_above": 50,
                "aggregate_limits": MINOR_DEATH_LIMITS,
                "refer_sum_insured_above": "1500000",
                "sum_insured_limits": [
                    {"min_age": 46, "max_sum_insured": "1500000", "reason": "46周岁及以上保额不超过150万元"}
                ],
            },
        )
    if line == "whole_life":
        return (
            application_rules(
                relations=ALL_RELATIONS,
                beneficiary="named_allowed",
                consent="death_cover_other_adult",
                face_premium_at_least="5000",
            ),
            {
                "questions": question_rules(eligibility),
                "refer_age_above": 60,
                "sum_insured_limits": minor_sum_limit(500_000, "终身寿险"),
                "aggregate_limits": MINOR_DEATH_LIMITS,
                "refer_sum_insured_above": "2000000",
            },
        )
    if line in ("auto_compulsory", "auto_commercial"):
        return (
            application_rules(subject=VEHICLE_FIELDS),
            {"refer_premium_above": "30000"} if line == "auto_commercial" else {},
        )
    if line == "home_property":
        address = {
            "code": "property_address",
            "label": "保险标的地址",
            "pattern": "^.{6,100}$",
            "required": True,
        }
        return application_rules(subject=[address]), {}
    if line == "pet":
        subject = [
            {"code": "pet_name", "label": "宠物名字", "pattern": "^.{1,20}$", "required": True},
            {
                "code": "pet_chip",
                "label": "宠物芯片号",
                "pattern": "^[0-9]{15}$",
                "required": False,
                "hint": "15位数字，已植入芯片的请填写",
            },
        ]
        return application_rules(subject=subject), {}
    if line == "phone_screen":
        imei = {
            "code": "imei",
            "label": "手机IMEI号",
            "pattern": "^[0-9]{15}$",
            "required": True,
            "hint": "拨号*#06#查看",
        }
        return embedded(application_rules(signature="confirmation", subject=[imei]), line), {}
    if line == "return_shipping":
        order = {
            "code": "order_number",
            "label": "订单号",
            "pattern": "^[0-9A-Za-z-]{6,32}$",
            "required": True,
        }
        rules = application_rules(signature="confirmation", effective="same_day", subject=[order])
        return embedded(rules, line), {}
    if line == "flight_delay":
        flight = {
            "code": "flight_number",
            "label": "航班号",
            "pattern": "^[A-Z0-9]{2}[0-9]{1,4}$",
            "required": True,
            "hint": "如 MU5101",
        }
        return (
            embedded(
                application_rules(
                    relations=ALL_RELATIONS, signature="confirmation", effective="same_day", subject=[flight]
                ),
                line,
            ),
            {},
        )
    if line == "account_security":
        return application_rules(signature="confirmation"), {}
    raise ValueError(f"no rules for line {line}")


def special_accident(built: Built, brand: str, n: int) -> Built:
    """Two accident products the demo relies on, made from the regular ones at fixed positions:

    - `SIMPLE_ACCIDENT_N`: the simplest product to buy (极简投保): no health questions, one document
      (the terms) and a confirmation instead of a handwritten signature;
    - `AUTO_BUNDLE_ACCIDENT_N`: a driver-and-passenger accident product (驾乘意外险), sold together
      with the same insurer's compulsory and commercial motor insurance.
    """
    if n == SIMPLE_ACCIDENT_N:
        built.name = f"{brand}极简综合意外险"
        built.tagline = "一页条款，勾选确认即可投保，次日生效"
        built.highlights = ["无需健康告知", "勾选确认即可投保", *built.highlights[:1]]
        built.simple = True
    elif n == AUTO_BUNDLE_ACCIDENT_N:
        built.name = f"{brand}驾乘意外险"
        built.scenarios = ["driving", "commuting"]
        built.tagline = "驾驶或乘坐私家车时的意外身故伤残与医疗，与车险一起投保"
        built.highlights = ["与交强险、商业险一起投保", "司机乘客均可保障", *built.highlights[:1]]
        for p in built.plans:
            for c in p["coverages"]:
                if c["code"] == "accidental_death":
                    c["name"] = "驾乘意外身故/伤残"
                    c["description"] = "驾驶或乘坐被保险机动车期间遭受意外伤害导致身故或伤残"
    return built
