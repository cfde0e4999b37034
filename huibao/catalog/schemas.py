"""Pydantic schemas of the catalog API and the functions that fill them.

Money is a string with two decimals ("136.00"), rates a plain decimal string ("0.9"), never a
float. The builders read only attributes already loaded by the endpoint (select_related /
prefetch_related), so the number of queries does not depend on how many rows are returned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from ninja import Field, Schema
from pydantic import BaseModel

from huibao.catalog.models import (
    Document,
    Insurer,
    InsurerKind,
    LineOfBusiness,
    PaymentMode,
    Plan,
    Product,
    ProductVersion,
)
from huibao.catalog.search import SORTS
from huibao.catalog.servicing import servicing_rules
from huibao.core.money import to_fen

MAX_PAGE = 100


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(to_fen(value))


def rate(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


# --- Query parameters -------------------------------------------------------------------------


class OutModel(BaseModel):
    """Response models are built explicitly from domain objects, so they skip ninja's
    attribute-resolving `Schema` wrapper (it costs more than the search itself on list pages)."""


class ProductQuery(Schema):
    q: str = Field(
        "", max_length=100, description="搜索词，中文分词匹配产品名、保障责任、保险公司、险种/人群/场景"
    )
    line: str | None = Field(
        None, description=f"险种代码，例如 medical；取值：{', '.join(LineOfBusiness.values)}"
    )
    crowd: str | None = Field(None, description="人群代码（见 /catalog/crowds）")
    scenario: str | None = Field(None, description="场景代码（见 /catalog/scenarios）")
    insurer: str | None = Field(None, description="保险公司代码（见 /insurers）")
    age: int | None = Field(None, ge=0, le=120, description="被保险人年龄（周岁）：只返回可投保该年龄的产品")
    max_premium: Decimal | None = Field(None, ge=0, description="起售保费上限（元），premium_from ≤ 该值")
    min_rating: Decimal | None = Field(None, ge=0, le=5, description="最低用户评分（0–5）")
    sort: str = Field("relevance", description=f"排序：{', '.join(SORTS)}；无搜索词时 relevance 按销量")
    offset: int = Field(0, ge=0, description="跳过的条数")
    limit: int = Field(20, ge=1, le=MAX_PAGE, description=f"每页条数（1–{MAX_PAGE}）")


# --- Output -----------------------------------------------------------------------------------


class LabelOut(OutModel):
    code: str = Field(description="代码")
    label: str = Field(description="中文名称")


class CountedLabelOut(LabelOut):
    count: int = Field(description="在售产品数")


class InsurerRefOut(OutModel):
    code: str
    name: str = Field(description="公司全称")
    short_name: str = Field(description="简称")


class ProductSummaryOut(OutModel):
    code: str = Field(description="产品代码，用于 /products/{code} 和报价")
    name: str
    insurer: InsurerRefOut
    line: LabelOut = Field(description="险种")
    status: str = Field(description="on_sale / off_sale / draft")
    version: int | None = Field(description="当前版本号")
    tagline: str = Field(description="一句话卖点")
    highlights: list[str] = Field(description="亮点")
    premium_from: str | None = Field(description="起售保费（元），最便宜方案、最低年龄；未知时为 null")
    sales_count: int
    rating_avg: str = Field(description="平均评分（0–5）")
    rating_count: int
    crowds: list[LabelOut]
    scenarios: list[LabelOut]


class ProductListOut(OutModel):
    total: int = Field(description="符合条件的产品总数")
    items: list[ProductSummaryOut]
    facets: dict[str, list[CountedLabelOut]] = Field(
        description="分面计数：line / insurer / crowd / scenario；每一项按除自身以外的条件计数"
    )


class CoverageOut(OutModel):
    code: str
    name: str = Field(description="保障责任")
    description: str
    is_optional: bool = Field(description="可选责任")
    sum_insured: str = Field(description="保额（元）")
    deductible: str = Field(description="免赔额（元）")
    reimbursement_ratio: str = Field(description="赔付比例，0–1")
    waiting_period_days: int = Field(description="等待期（天）")
    per_claim_limit: str | None = Field(description="每次赔偿限额（元）")
    annual_limit: str | None = Field(description="年度赔偿限额（元）")


class PlanOut(OutModel):
    code: str = Field(description="方案代码，报价时作为 plan")
    name: str
    is_recommended: bool
    min_sum_insured: str
    max_sum_insured: str
    sum_insured_step: str = Field(description="可选保额步长；0 表示固定保额或任意")
    coverages: list[CoverageOut]


class KeyClauseOut(OutModel):
    code: str
    kind: str = Field(description="exclusion / waiting_period / cooling_off / surrender_loss / other")
    title: str
    text: str


class DocumentOut(OutModel):
    kind: LabelOut
    title: str
    min_read_seconds: int = Field(description="投保前须阅读的最短秒数")
    content_sha256: str = Field(description="文本摘要，投保记录引用它以便回溯")
    key_clauses: list[KeyClauseOut] = Field(description="须逐条提示并确认的重要条款")
    body: str | None = Field(None, description="全文；仅当 include=documents 时返回")


class HealthQuestionOut(OutModel):
    code: str
    text: str
    sex: str | None = Field(default=None, description="仅问此性别的被保险人（F 女 / M 男）；空表示均须回答")


class EligibilityOut(OutModel):
    min_age_days: int | None = Field(description="最小投保年龄（出生天数）")
    max_age: int | None = Field(description="最大投保年龄（周岁）")
    occupation_classes: list[int] = Field(description="可承保职业类别；空表示不限")
    regions: list[str] = Field(description="可投保省份代码；空表示全国")
    health_questions: list[HealthQuestionOut] = Field(description="健康告知问题")


class TermOptionOut(OutModel):
    code: str
    label: str
    days: int | None = None
    months: int | None = None
    years: int | None = None
    to_age: int | None = None


class RenewalOut(OutModel):
    renewable: bool = Field(description="可续保")
    guaranteed_years: int | None = Field(description="保证续保年数")
    max_renewal_age: int | None = Field(description="最高续保年龄")
    note: str


class ServicingOut(OutModel):
    endorsements: list[str] = Field(
        description="可在线办理的保全变更：contact / beneficiaries / insured_correction / plan / sum_insured"
    )
    refund_method: str = Field(
        description="犹豫期后退保的退费方式：pro_rata / short_rate / cash_value / none"
    )
    refund_fee_rate: str = Field(description="按日退费时扣除的未满期保费比例")
    grace_days: int = Field(description="宽限期（天）")
    reinstatement_years: int = Field(description="复效期（年）")
    auto_renewal: bool = Field(description="可开通自动续保")


class ServiceOut(OutModel):
    code: str
    name: str
    description: str


class ChoiceOut(OutModel):
    value: str
    label: str


class QuoteInputOut(OutModel):
    name: str = Field(description="报价请求 inputs 中的键")
    label: str
    type: str = Field(description="integer / decimal / choice / string")
    required: bool
    choices: list[ChoiceOut] = Field(description="可选值；空表示不限")
    min: str | None = None
    max: str | None = None
    default: str | None = None


class ProductDetailOut(ProductSummaryOut):
    description: str
    published_at: str | None = Field(description="当前版本发布时间（ISO 8601）")
    eligibility: EligibilityOut
    term_options: list[TermOptionOut] = Field(description="保险期间选项")
    payment_modes: list[LabelOut] = Field(description="缴费方式")
    cooling_off_days: int = Field(description="犹豫期（天）")
    renewal: RenewalOut
    servicing: ServicingOut
    value_added_services: list[ServiceOut] = Field(description="增值服务")
    plans: list[PlanOut]
    documents: list[DocumentOut]
    quote_inputs: list[QuoteInputOut] = Field(description="报价所需输入（由定价规格推导），用于 POST 报价")


class InsurerOut(OutModel):
    code: str
    name: str
    short_name: str
    kind: LabelOut
    founded_year: int | None
    registered_capital_yi: str | None = Field(description="注册资本（亿元）")
    solvency_ratio: int | None = Field(description="综合偿付能力充足率（%）")
    service_rating: str = Field(description="监管服务评价")
    hotline: str
    headquarters: str
    product_count: int = Field(description="在售产品数")


class InsurerDetailOut(InsurerOut):
    description: str
    products: list[ProductSummaryOut] = Field(description="在售产品（按销量，最多 100 个）")


# --- Builders ---------------------------------------------------------------------------------


_CHOICE_LABELS: dict[type[Any], dict[str, str]] = {}


def _label(choices: type[Any], code: str) -> LabelOut:
    labels = _CHOICE_LABELS.get(choices)
    if labels is None:
        labels = _CHOICE_LABELS[choices] = {str(k): str(v) for k, v in choices.choices}
    return LabelOut(code=code, label=labels.get(code, code))


def _labels(product: Product, kind: str) -> list[tuple[str, str]]:
    """(code, label) pairs: attached by the search index when the product came from a search,
    else read from the many-to-many relation."""
    attached = getattr(product, f"{kind}_labels", None)
    if attached is not None:
        return list(attached)
    related = product.crowds.all() if kind == "crowd" else product.scenarios.all()
    return [(item.code, item.name) for item in related]


def product_summary(product: Product) -> ProductSummaryOut:
    """Needs insurer, current_version, crowds and scenarios loaded."""
    version = product.current_version
    highlights = version.highlights if version is not None else []
    return ProductSummaryOut(
        code=product.code,
        name=product.name,
        insurer=InsurerRefOut(
            code=product.insurer.code, name=product.insurer.name, short_name=product.insurer.short_name
        ),
        line=_label(LineOfBusiness, product.line),
        status=product.status,
        version=version.number if version is not None else None,
        tagline=version.tagline if version is not None else "",
        highlights=[str(h) for h in highlights] if isinstance(highlights, list) else [],
        premium_from=money(product.premium_from),
        sales_count=product.sales_count,
        rating_avg=str(product.rating_avg),
        rating_count=product.rating_count,
        crowds=[LabelOut(code=code, label=label) for code, label in _labels(product, "crowd")],
        scenarios=[LabelOut(code=code, label=label) for code, label in _labels(product, "scenario")],
    )


def _plan(plan: Plan) -> PlanOut:
    return PlanOut(
        code=plan.code,
        name=plan.name,
        is_recommended=plan.is_recommended,
        min_sum_insured=str(to_fen(plan.min_sum_insured)),
        max_sum_insured=str(to_fen(plan.max_sum_insured)),
        sum_insured_step=str(to_fen(plan.sum_insured_step)),
        coverages=[
            CoverageOut(
                code=c.code,
                name=c.name,
                description=c.description,
                is_optional=c.is_optional,
                sum_insured=str(to_fen(c.sum_insured)),
                deductible=str(to_fen(c.deductible)),
                reimbursement_ratio=rate(c.reimbursement_ratio),
                waiting_period_days=c.waiting_period_days,
                per_claim_limit=money(c.per_claim_limit),
                annual_limit=money(c.annual_limit),
            )
            for c in plan.coverages.all()
        ],
    )


def _document(document: Document, *, with_body: bool) -> DocumentOut:
    from huibao.catalog.models import DocumentKind

    clauses = document.key_clauses if isinstance(document.key_clauses, list) else []
    return DocumentOut(
        kind=_label(DocumentKind, document.kind),
        title=document.title,
        min_read_seconds=document.min_read_seconds,
        content_sha256=document.content_sha256,
        key_clauses=[
            KeyClauseOut(
                code=str(c.get("code", "")),
                kind=str(c.get("kind", "other")),
                title=str(c.get("title", "")),
                text=str(c.get("text", "")),
            )
            for c in clauses
            if isinstance(c, Mapping)
        ],
        body=document.body if with_body else None,
    )


def _int_or_none(value: object) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


def _eligibility(data: Mapping[str, Any]) -> EligibilityOut:
    questions = data.get("health_questions") or []
    return EligibilityOut(
        min_age_days=_int_or_none(data.get("min_age_days")),
        max_age=_int_or_none(data.get("max_age")),
        occupation_classes=[int(c) for c in data.get("occupation_classes") or []],
        regions=[str(r) for r in data.get("regions") or []],
        # The knock-out answer stays on the server: showing it would coach the answer.
        health_questions=[
            HealthQuestionOut(
                code=str(q.get("code", "")), text=str(q.get("text", "")), sex=q.get("sex") or None
            )
            for q in questions
            if isinstance(q, Mapping)
        ],
    )


def _renewal(data: Mapping[str, Any]) -> RenewalOut:
    return RenewalOut(
        renewable=bool(data.get("renewable", False)),
        guaranteed_years=_int_or_none(data.get("guaranteed_years")),
        max_renewal_age=_int_or_none(data.get("max_renewal_age")),
        note=str(data.get("note", "")),
    )


def _servicing(data: Mapping[str, Any]) -> ServicingOut:
    rules = servicing_rules(data)
    return ServicingOut(
        endorsements=sorted(rules.endorsements.allowed),
        refund_method=str(rules.cancellation.method),
        refund_fee_rate=str(rules.cancellation.fee_rate),
        grace_days=rules.grace_days,
        reinstatement_years=rules.reinstatement.years,
        auto_renewal=rules.auto_renewal,
    )


def _term(option: Mapping[str, Any]) -> TermOptionOut:
    return TermOptionOut(
        code=str(option.get("code", "")),
        label=str(option.get("label", option.get("code", ""))),
        days=_int_or_none(option.get("days")),
        months=_int_or_none(option.get("months")),
        years=_int_or_none(option.get("years")),
        to_age=_int_or_none(option.get("to_age")),
    )


UNIVERSAL_LABELS = {
    "plan": "方案",
    "age": "被保险人年龄",
    "sex": "性别",
    "sum_insured": "保额",
    "occupation_class": "职业类别",
    "region": "投保地区",
    "term": "保险期间",
    "payment_mode": "缴费方式",
}


def referenced_names(pricing: Mapping[str, Any]) -> set[str]:
    """Names the pricing spec uses: table keys and identifiers in step expressions."""
    names: set[str] = set()
    tables = pricing.get("tables") or {}
    if isinstance(tables, Mapping):
        for table in tables.values():
            if isinstance(table, Mapping):
                names.update(str(k) for k in table.get("keys") or [])
    for step in pricing.get("steps") or []:
        if isinstance(step, Mapping):
            # Drop string literals ('base_rate' in table('base_rate')) before taking identifiers.
            expr = re.sub(r"'[^']*'|\"[^\"]*\"", "", str(step.get("expr", "")))
            names.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expr))
    return names


def _choices(values: Iterable[tuple[str, str]]) -> list[ChoiceOut]:
    return [ChoiceOut(value=v, label=label) for v, label in values]


def quote_inputs(version: ProductVersion, plans: Sequence[Plan]) -> list[QuoteInputOut]:
    """The inputs a quote request for this version needs, derived from its data and pricing spec
    (docs/rating.md): the universal inputs the spec or the eligibility rules use, then the spec's
    own inputs."""
    pricing: Mapping[str, Any] = version.pricing if isinstance(version.pricing, Mapping) else {}
    eligibility: Mapping[str, Any] = version.eligibility if isinstance(version.eligibility, Mapping) else {}
    used = referenced_names(pricing)
    out = [
        QuoteInputOut(
            name="plan",
            label=UNIVERSAL_LABELS["plan"],
            type="choice",
            required=True,
            choices=_choices((p.code, p.name) for p in plans),
            default=next((p.code for p in plans if p.is_recommended), None),
        )
    ]
    min_days = _int_or_none(eligibility.get("min_age_days"))
    max_age = _int_or_none(eligibility.get("max_age"))
    if "age" in used or min_days is not None or max_age is not None:
        out.append(
            QuoteInputOut(
                name="age",
                label=UNIVERSAL_LABELS["age"],
                type="integer",
                required=True,
                choices=[],
                min=str(min_days // 365) if min_days is not None else None,
                max=str(max_age) if max_age is not None else None,
            )
        )
    if "sex" in used:
        out.append(
            QuoteInputOut(
                name="sex",
                label=UNIVERSAL_LABELS["sex"],
                type="choice",
                required=True,
                choices=_choices([("M", "男"), ("F", "女")]),
            )
        )
    if "sum_insured" in used and plans:
        fixed = all(p.min_sum_insured == p.max_sum_insured for p in plans)
        out.append(
            QuoteInputOut(
                name="sum_insured",
                label=UNIVERSAL_LABELS["sum_insured"],
                type="decimal",
                required=not fixed,
                choices=[],
                min=str(to_fen(min(p.min_sum_insured for p in plans))),
                max=str(to_fen(max(p.max_sum_insured for p in plans))),
            )
        )
    classes = [str(c) for c in eligibility.get("occupation_classes") or []]
    if "occupation_class" in used or classes:
        out.append(
            QuoteInputOut(
                name="occupation_class",
                label=UNIVERSAL_LABELS["occupation_class"],
                type="integer",
                required=True,
                choices=_choices((c, f"{c}类") for c in classes),
                min="1",
                max="6",
            )
        )
    regions = [str(r) for r in eligibility.get("regions") or []]
    if "region" in used or regions:
        out.append(
            QuoteInputOut(
                name="region",
                label=UNIVERSAL_LABELS["region"],
                type="string",
                required=True,
                choices=_choices((r, r) for r in regions),
            )
        )
    terms = [t for t in version.term_options or [] if isinstance(t, Mapping)]
    if terms:
        out.append(
            QuoteInputOut(
                name="term",
                label=UNIVERSAL_LABELS["term"],
                type="choice",
                required=len(terms) > 1,
                choices=_choices((str(t.get("code")), str(t.get("label", t.get("code")))) for t in terms),
                default=str(terms[0].get("code")) if len(terms) == 1 else None,
            )
        )
    modes = [str(m) for m in version.payment_modes or []]
    if modes:
        mode_labels = dict(PaymentMode.choices)
        out.append(
            QuoteInputOut(
                name="payment_mode",
                label=UNIVERSAL_LABELS["payment_mode"],
                type="choice",
                required=len(modes) > 1,
                choices=_choices((m, str(mode_labels.get(m, m))) for m in modes),
                default=modes[0] if len(modes) == 1 else None,
            )
        )
    spec_inputs = pricing.get("inputs") or {}
    if isinstance(spec_inputs, Mapping):
        for name, spec in spec_inputs.items():
            if not isinstance(spec, Mapping):
                continue
            raw_choices = spec.get("choices") or []
            if isinstance(raw_choices, Mapping):
                choices = _choices((str(k), str(v)) for k, v in raw_choices.items())
            else:
                choices = _choices((str(c), str(c)) for c in raw_choices)
            default = spec.get("default")
            out.append(
                QuoteInputOut(
                    name=str(name),
                    label=str(spec.get("label", name)),
                    type=str(spec.get("type", "decimal")),
                    required=bool(spec.get("required", True)) and default is None,
                    choices=choices,
                    min=None if spec.get("min") is None else str(spec["min"]),
                    max=None if spec.get("max") is None else str(spec["max"]),
                    default=None if default is None else str(default),
                )
            )
    return out


def product_detail(product: Product, *, with_document_bodies: bool) -> ProductDetailOut:
    """Needs insurer, current_version (with plans → coverages and documents prefetched), crowds
    and scenarios loaded."""
    version = product.current_version
    assert version is not None  # the endpoint only serves products with a current version
    plans = list(version.plans.all())
    summary = product_summary(product)
    mode_labels = dict(PaymentMode.choices)
    services = [s for s in version.value_added_services or [] if isinstance(s, Mapping)]
    return ProductDetailOut(
        **summary.model_dump(),
        description=version.description,
        published_at=version.published_at.isoformat() if version.published_at else None,
        eligibility=_eligibility(version.eligibility if isinstance(version.eligibility, Mapping) else {}),
        term_options=[_term(t) for t in version.term_options or [] if isinstance(t, Mapping)],
        payment_modes=[
            LabelOut(code=str(m), label=str(mode_labels.get(m, m))) for m in version.payment_modes or []
        ],
        cooling_off_days=version.cooling_off_days,
        renewal=_renewal(version.renewal if isinstance(version.renewal, Mapping) else {}),
        servicing=_servicing(version.servicing if isinstance(version.servicing, Mapping) else {}),
        value_added_services=[
            ServiceOut(
                code=str(s.get("code", "")),
                name=str(s.get("name", "")),
                description=str(s.get("description", "")),
            )
            for s in services
        ],
        plans=[_plan(p) for p in plans],
        documents=[_document(d, with_body=with_document_bodies) for d in version.documents.all()],
        quote_inputs=quote_inputs(version, plans),
    )


def insurer_out(insurer: Insurer, product_count: int) -> InsurerOut:
    return InsurerOut(
        code=insurer.code,
        name=insurer.name,
        short_name=insurer.short_name,
        kind=_label(InsurerKind, insurer.kind),
        founded_year=insurer.founded_year,
        registered_capital_yi=money(insurer.registered_capital_yi),
        solvency_ratio=insurer.solvency_ratio,
        service_rating=insurer.service_rating,
        hotline=insurer.hotline,
        headquarters=insurer.headquarters,
        product_count=product_count,
    )
