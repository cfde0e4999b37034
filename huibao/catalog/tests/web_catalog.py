"""A small, realistic on-sale catalog for the page tests and the browser test.

Three medical products of different insurers (plans with a choosable sum insured, different
deductibles, waiting periods and renewal), one accident product and one travel product, with
crowds, scenarios, documents with key clauses and pricing specs the rating engine can price.
Built on `factories.py` (which it reuses, never replaces).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone

from huibao.catalog.models import (
    Coverage,
    Document,
    DocumentKind,
    InsurerKind,
    LineOfBusiness,
    Plan,
    Product,
    ProductStatus,
    ProductVersion,
    VersionStatus,
)
from huibao.catalog.tests.factories import CrowdFactory, InsurerFactory, ScenarioFactory, bump_revision


def _medical_pricing(rates: tuple[str, str, str, str]) -> dict[str, Any]:
    return {
        "inputs": {},
        "tables": {
            "base_rate": {
                "label": "每万元保额年费率",
                "keys": ["age"],
                "bands": {"age": [0, 18, 41, 61]},
                "values": {"0": rates[0], "18": rates[1], "41": rates[2], "61": rates[3]},
            },
            "sex_factor": {"label": "性别系数", "keys": ["sex"], "values": {"M": "1.05", "F": "1"}},
        },
        "constants": {"minimum": "30"},
        "steps": [
            {"name": "base", "label": "基础保费", "expr": "table('base_rate') * sum_insured / 10000"},
            {"name": "sex_adj", "label": "性别系数", "expr": "table('sex_factor')"},
            {"name": "premium", "label": "应缴保费", "expr": "max(base * sex_adj, minimum)"},
        ],
        "result": "premium",
        "properties": {"non_decreasing_in": ["sum_insured"]},
    }


FLAT_PRICING = {
    "inputs": {"trip_days": {"type": "integer", "label": "出行天数", "min": 1, "max": 90, "default": 7}},
    "tables": {},
    "constants": {"daily": "6"},
    "steps": [{"name": "premium", "label": "应缴保费", "expr": "daily * trip_days"}],
    "result": "premium",
}

ACCIDENT_PRICING = {
    "inputs": {},
    "tables": {
        "occupation": {
            "label": "职业类别系数",
            "keys": ["occupation_class"],
            "values": {"1": "1", "2": "1.3", "3": "1.8"},
        }
    },
    "constants": {"rate": "0.0008"},
    "steps": [
        {"name": "base", "label": "基础保费", "expr": "sum_insured * rate"},
        {"name": "premium", "label": "应缴保费", "expr": "base * table('occupation')"},
    ],
    "result": "premium",
}


def _product(
    *,
    code: str,
    name: str,
    insurer: Any,
    line: str,
    tagline: str,
    highlights: list[str],
    eligibility: dict[str, Any],
    pricing: dict[str, Any],
    plans: list[dict[str, Any]],
    crowds: list[Any],
    scenarios: list[Any],
    premium_from: Decimal,
    sales: int,
    rating: str,
    renewal: dict[str, Any],
    services: list[dict[str, str]],
    cooling_off: int = 15,
    terms: list[dict[str, Any]] | None = None,
    payment_modes: list[str] | None = None,
) -> Product:
    product = Product.objects.create(
        code=code,
        insurer=insurer,
        name=name,
        line=line,
        status=ProductStatus.ON_SALE,
        premium_from=premium_from,
        sales_count=sales,
        rating_avg=Decimal(rating),
        rating_count=120,
    )
    version = ProductVersion.objects.create(
        product=product,
        number=1,
        status=VersionStatus.PUBLISHED,
        published_at=timezone.now(),
        tagline=tagline,
        highlights=highlights,
        eligibility=eligibility,
        term_options=terms or [{"code": "1y", "label": "1年", "years": 1}],
        payment_modes=payment_modes or ["single"],
        cooling_off_days=cooling_off,
        renewal=renewal,
        value_added_services=services,
        pricing=pricing,
    )
    for order, spec in enumerate(plans):
        plan = Plan.objects.create(
            version=version,
            code=spec["code"],
            name=spec["name"],
            sort_order=order,
            min_sum_insured=Decimal(spec["min"]),
            max_sum_insured=Decimal(spec["max"]),
            sum_insured_step=Decimal(spec.get("step", "0")),
            is_recommended=spec.get("recommended", False),
        )
        for c_order, (c_code, c_name, c_sum, deductible, ratio, waiting) in enumerate(spec["coverages"]):
            Coverage.objects.create(
                plan=plan,
                code=c_code,
                name=c_name,
                sort_order=c_order,
                sum_insured=Decimal(c_sum),
                deductible=Decimal(deductible),
                reimbursement_ratio=Decimal(ratio),
                waiting_period_days=waiting,
            )
    Document.objects.create(
        version=version,
        kind=DocumentKind.TERMS,
        title=f"{name}保险条款",
        body=(
            "第一条 保险责任\n在保险期间内，被保险人因意外伤害或疾病住院治疗的，保险人按约定赔付。\n\n"
            "第二条 责任免除\n因被保险人酒后驾驶、无有效驾驶证驾驶造成的损失，保险人不承担赔偿责任。\n\n"
            "第三条 等待期\n自合同生效之日起30日内因疾病发生的医疗费用，保险人不承担赔偿责任。"
        ),
        key_clauses=[
            {
                "code": "exclusion-drunk",
                "kind": "exclusion",
                "title": "酒驾不赔",
                "text": "因被保险人酒后驾驶、无有效驾驶证驾驶造成的损失，保险人不承担赔偿责任。",
            },
            {
                "code": "waiting",
                "kind": "waiting_period",
                "title": "30天等待期",
                "text": "自合同生效之日起30日内因疾病发生的医疗费用，保险人不承担赔偿责任。",
            },
        ],
    )
    Document.objects.create(
        version=version,
        kind=DocumentKind.DISCLOSURE,
        title="投保须知",
        body="请如实告知被保险人的健康状况。",
        sort_order=1,
    )
    product.crowds.set(crowds)
    product.scenarios.set(scenarios)
    product.current_version = version
    product.save(update_fields=["current_version", "updated_at"])
    return product


def build_catalog() -> dict[str, Product]:
    """Creates the catalog and returns its products by code."""
    pingan = InsurerFactory(
        code="pingan-health", name="平安健康保险股份有限公司", short_name="平安健康", kind=InsurerKind.HEALTH
    )
    zhongan = InsurerFactory(code="zhongan", name="众安在线财产保险股份有限公司", short_name="众安保险")
    cpic = InsurerFactory(code="cpic", name="中国太平洋财产保险股份有限公司", short_name="太平洋产险")
    adults = CrowdFactory(code="adults", name="成年人", sort_order=1)
    elders = CrowdFactory(code="elderly", name="老年人", sort_order=2)
    kids = CrowdFactory(code="children", name="少儿", sort_order=3)
    health = ScenarioFactory(code="health", name="健康保障", sort_order=1)
    travel = ScenarioFactory(code="travel", name="出行旅游", sort_order=2)

    adult_elig = {"min_age_days": 28, "max_age": 65, "occupation_classes": [1, 2, 3]}
    medical_cov = [
        ("general", "一般医疗保险金", "2000000", "10000", "1", 30),
        ("critical", "重大疾病医疗保险金", "4000000", "0", "1", 90),
    ]
    products = [
        _product(
            code="pingan-e-sheng-bao",
            name="平安e生保百万医疗",
            insurer=pingan,
            line=LineOfBusiness.MEDICAL,
            tagline="一般医疗200万，重疾医疗400万，0免赔",
            highlights=["重疾0免赔", "100%赔付", "6年保证续保"],
            eligibility=adult_elig,
            pricing=_medical_pricing(("1.2", "1.5", "3.1", "6.8")),
            plans=[
                {
                    "code": "basic",
                    "name": "基础版",
                    "min": "1000000",
                    "max": "3000000",
                    "step": "1000000",
                    "recommended": True,
                    "coverages": medical_cov,
                },
                {
                    "code": "plus",
                    "name": "升级版",
                    "min": "2000000",
                    "max": "6000000",
                    "step": "1000000",
                    "coverages": [*medical_cov, ("proton", "质子重离子医疗保险金", "1000000", "0", "1", 90)],
                },
            ],
            crowds=[adults, elders],
            scenarios=[health],
            premium_from=Decimal("136.00"),
            sales=52000,
            rating="4.8",
            renewal={"renewable": True, "guaranteed_years": 6, "note": "6年内产品停售也可续保"},
            services=[{"code": "green", "name": "住院绿通", "description": "三甲医院住院安排"}],
        ),
        _product(
            code="zhongan-zun-xiang-e-sheng",
            name="众安尊享e生医疗险",
            insurer=zhongan,
            line=LineOfBusiness.MEDICAL,
            tagline="年度免赔额1万，不限社保用药",
            highlights=["不限社保", "外购药报销"],
            eligibility={"min_age_days": 30, "max_age": 60, "occupation_classes": [1, 2, 3]},
            pricing=_medical_pricing(("1.0", "1.3", "2.9", "6.0")),
            plans=[
                {
                    "code": "std",
                    "name": "标准版",
                    "min": "1000000",
                    "max": "3000000",
                    "step": "1000000",
                    "recommended": True,
                    "coverages": [
                        ("general", "一般医疗保险金", "3000000", "10000", "1", 30),
                        ("critical", "重大疾病医疗保险金", "6000000", "0", "1", 30),
                    ],
                }
            ],
            crowds=[adults],
            scenarios=[health],
            premium_from=Decimal("118.00"),
            sales=87000,
            rating="4.6",
            renewal={"renewable": True, "guaranteed_years": 0, "note": ""},
            services=[],
        ),
        _product(
            code="cpic-lan-yi-bao",
            name="太平洋蓝医保长期医疗",
            insurer=cpic,
            line=LineOfBusiness.MEDICAL,
            tagline="20年保证续保，0免赔版可选",
            highlights=["20年保证续保"],
            eligibility={"min_age_days": 30, "max_age": 70, "occupation_classes": [1, 2, 3, 4]},
            pricing=_medical_pricing(("1.4", "1.8", "3.6", "7.5")),
            plans=[
                {
                    "code": "zero",
                    "name": "0免赔版",
                    "min": "2000000",
                    "max": "2000000",
                    "recommended": True,
                    "coverages": [
                        ("general", "一般医疗保险金", "2000000", "0", "0.8", 30),
                        ("critical", "重大疾病医疗保险金", "2000000", "0", "1", 30),
                    ],
                }
            ],
            crowds=[adults, elders],
            scenarios=[health],
            premium_from=Decimal("298.00"),
            sales=31000,
            rating="4.7",
            renewal={"renewable": True, "guaranteed_years": 20, "note": ""},
            services=[{"code": "doctor", "name": "在线问诊", "description": "7×24小时图文问诊"}],
            payment_modes=["annual", "monthly"],
        ),
        _product(
            code="zhongan-accident",
            name="众安综合意外险",
            insurer=zhongan,
            line=LineOfBusiness.ACCIDENT,
            tagline="意外身故伤残最高100万",
            highlights=["猝死保障", "意外医疗0免赔"],
            eligibility={"min_age_days": 6570, "max_age": 65, "occupation_classes": [1, 2, 3]},
            pricing=ACCIDENT_PRICING,
            plans=[
                {
                    "code": "a",
                    "name": "计划一",
                    "min": "100000",
                    "max": "1000000",
                    "step": "100000",
                    "recommended": True,
                    "coverages": [
                        ("death", "意外身故/伤残", "500000", "0", "1", 0),
                        ("med", "意外医疗", "50000", "0", "1", 0),
                    ],
                }
            ],
            crowds=[adults],
            scenarios=[travel],
            premium_from=Decimal("80.00"),
            sales=120000,
            rating="4.5",
            renewal={"renewable": False},
            services=[],
        ),
        _product(
            code="pingan-kids-travel",
            name="平安境外旅行险",
            insurer=pingan,
            line=LineOfBusiness.TRAVEL,
            tagline="申根签证认可，全球救援",
            highlights=["申根签证", "全球救援"],
            eligibility={"min_age_days": 30, "max_age": 80, "occupation_classes": []},
            pricing=FLAT_PRICING,
            plans=[
                {
                    "code": "global",
                    "name": "全球计划",
                    "min": "300000",
                    "max": "300000",
                    "recommended": True,
                    "coverages": [("overseas-med", "境外医疗", "300000", "0", "1", 0)],
                }
            ],
            crowds=[adults, kids],
            scenarios=[travel],
            premium_from=Decimal("42.00"),
            sales=9000,
            rating="4.4",
            renewal={"renewable": False},
            services=[{"code": "rescue", "name": "全球紧急救援", "description": ""}],
            cooling_off=0,
        ),
    ]
    bump_revision()
    return {p.code: p for p in products}
