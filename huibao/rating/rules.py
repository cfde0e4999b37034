"""The rating engine: pure functions and frozen dataclasses, no ORM and no I/O.

`compile_spec` turns a version's pricing spec (`docs/rating.md`) into a `CompiledSpec` once;
`price` validates a quote's inputs against the version (collecting every problem), then evaluates
the steps and rounds the premium once with `to_fen`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from huibao.core.errors import FieldError
from huibao.core.money import to_fen
from huibao.core.premium import per_period
from huibao.rating.errors import MissingFactor, QuoteRejected, RatingError, SpecError
from huibao.rating.formula import CompiledFormula, Scope, Table, Type, compile_formula

ENGINE_VERSION = "1.0"

# Inputs every product understands, checked against the version before any formula runs.
UNIVERSAL_INPUTS: dict[str, Type] = {
    "plan": Type.STR,
    "age": Type.NUM,
    "sex": Type.STR,
    "sum_insured": Type.NUM,
    "occupation_class": Type.NUM,
    "region": Type.STR,
    "term": Type.STR,
    "payment_mode": Type.STR,
}
PAYMENT_MODES = ("single", "annual", "monthly")
# `pricing.premium_steps`: level premiums (""), or each policy year priced at the insured's
# attained age (`premiums_by_year`).
ATTAINED_AGE = "attained_age"
PREMIUM_STEPS = ("", ATTAINED_AGE)
SEXES = {"M": "男", "F": "女"}
ADULT_AGE = 18
FEN_ZERO = Decimal("0.00")


# --- Spec -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InputSpec:
    name: str
    kind: str  # integer | decimal | choice
    label: str
    required: bool = True
    default: Any = None  # already normalised (int, Decimal or str)
    min: Decimal | None = None
    max: Decimal | None = None
    choices: tuple[Any, ...] = ()  # normalised values
    choice_labels: tuple[str, ...] = ()

    @property
    def type(self) -> Type:
        return Type.STR if self.kind == "choice" else Type.NUM


@dataclass(frozen=True, slots=True)
class CompiledStep:
    name: str
    label: str
    expr: str
    formula: CompiledFormula


@dataclass(frozen=True)
class CompiledSpec:
    inputs: tuple[InputSpec, ...]
    tables: Mapping[str, Table]
    constants: Mapping[str, Decimal]
    steps: tuple[CompiledStep, ...]
    result: str
    non_decreasing_in: tuple[str, ...]
    referenced: frozenset[str]  # every input name any step reads
    # How the premium moves over the policy years of a multi-year premium term: "" level (every
    # year the first's), "attained_age" stepped (each year priced at the insured's age that year).
    premium_steps: str = ""


def _spec_number(value: object, what: str, where: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise SpecError(f"{what} 必须是数字，实际是 {value!r}", step=where) from exc
    if not number.is_finite():
        raise SpecError(f"{what} 必须是有限数", step=where)
    return number


def _compile_input(name: str, raw: Mapping[str, Any]) -> InputSpec:
    if not isinstance(raw, Mapping):
        raise SpecError(f"输入 {name!r} 的定义必须是对象", step=name)
    kind = raw.get("type")
    if kind not in ("integer", "decimal", "choice"):
        raise SpecError(f"输入 {name!r} 的 type 必须是 integer、decimal 或 choice", step=name)
    label = str(raw.get("label") or name)
    raw_choices = raw.get("choices")
    choices: tuple[Any, ...] = ()
    labels: tuple[str, ...] = ()
    if raw_choices is not None:
        if isinstance(raw_choices, Mapping):
            keys, labels = tuple(raw_choices.keys()), tuple(str(v) for v in raw_choices.values())
        elif isinstance(raw_choices, list):
            keys = tuple(raw_choices)
            labels = tuple(str(v) for v in raw_choices)
        else:
            raise SpecError(f"输入 {name!r} 的 choices 必须是列表或对象", step=name)
        if not keys:
            raise SpecError(f"输入 {name!r} 的 choices 不能为空", step=name)
        if kind == "choice":
            choices = tuple(str(k) for k in keys)
        else:
            choices = tuple(_spec_number(k, f"输入 {name!r} 的选项", name) for k in keys)
            if kind == "integer":
                choices = tuple(int(c) for c in choices)
    elif kind == "choice":
        raise SpecError(f"choice 类型的输入 {name!r} 必须给出 choices", step=name)
    lo = _spec_number(raw["min"], f"输入 {name!r} 的 min", name) if raw.get("min") is not None else None
    hi = _spec_number(raw["max"], f"输入 {name!r} 的 max", name) if raw.get("max") is not None else None
    spec = InputSpec(name, kind, label, bool(raw.get("required", True)), None, lo, hi, choices, labels)
    if raw.get("default") is not None:
        errors: list[FieldError] = []
        default = _parse_spec_input(spec, raw["default"], errors)
        if errors:
            raise SpecError(f"输入 {name!r} 的默认值无效：{errors[0].message}", step=name)
        spec = InputSpec(name, kind, label, spec.required, default, lo, hi, choices, labels)
    return spec


def compile_spec(pricing: Mapping[str, Any]) -> CompiledSpec:
    """Checks and compiles a pricing spec; raises `SpecError` naming the step and column."""
    if not isinstance(pricing, Mapping) or not pricing:
        raise SpecError("定价规则（pricing）不能为空")
    raw_inputs = pricing.get("inputs") or {}
    inputs: list[InputSpec] = []
    names: dict[str, Type] = dict(UNIVERSAL_INPUTS)
    for name, raw in raw_inputs.items():
        if not name.isidentifier():
            raise SpecError(f"输入名称 {name!r} 不合法", step=name)
        if name in UNIVERSAL_INPUTS or name in ("birth_date", "start_date"):
            raise SpecError(f"输入 {name!r} 是通用输入，不能在 spec.inputs 中重新定义", step=name)
        spec = _compile_input(name, raw)
        inputs.append(spec)
        names[name] = spec.type
    constants: dict[str, Decimal] = {}
    for name, value in (pricing.get("constants") or {}).items():
        if name in names:
            raise SpecError(f"常量 {name!r} 与输入重名", step=name)
        constants[name] = _spec_number(value, f"常量 {name!r}", name)
    tables = {name: Table.from_spec(name, raw) for name, raw in (pricing.get("tables") or {}).items()}
    raw_steps = pricing.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise SpecError("定价规则必须至少有一个步骤（steps）")
    steps: list[CompiledStep] = []
    referenced: set[str] = set()
    step_names: set[str] = set()
    for index, raw_step in enumerate(raw_steps, start=1):
        if not isinstance(raw_step, Mapping):
            raise SpecError(f"第 {index} 个步骤必须是对象")
        name = raw_step.get("name")
        if not isinstance(name, str) or not name.isidentifier():
            raise SpecError(f"第 {index} 个步骤的名称 {name!r} 不合法")
        if name in names or name in constants:
            raise SpecError(f"步骤 {name!r} 与输入、常量或前面的步骤重名", step=name)
        expr = raw_step.get("expr")
        if not isinstance(expr, str):
            raise SpecError(f"步骤 {name!r} 缺少公式 expr", step=name)
        scope = Scope(names, tables, constants)
        formula = compile_formula(expr, scope, step=name)
        referenced |= {n for n in formula.names if n not in step_names}
        steps.append(CompiledStep(name, str(raw_step.get("label") or name), expr, formula))
        names[name] = formula.type
        step_names.add(name)
    result = pricing.get("result") or steps[-1].name
    if result not in step_names:
        raise SpecError(f"result 指向的步骤 {result!r} 不存在")
    if names[result] is not Type.NUM:
        raise SpecError(f"result 步骤 {result!r} 必须是数字", step=result)
    monotone = tuple((pricing.get("properties") or {}).get("non_decreasing_in") or ())
    for name in monotone:
        if name not in UNIVERSAL_INPUTS and name not in raw_inputs:
            raise SpecError(f"non_decreasing_in 中的 {name!r} 不是输入")
    premium_steps = str(pricing.get("premium_steps") or "")
    if premium_steps not in PREMIUM_STEPS:
        raise SpecError(
            f"premium_steps 只能是 {'、'.join(repr(k) for k in PREMIUM_STEPS if k)}（或不填：均衡保费）"
        )
    if premium_steps == ATTAINED_AGE and "age" not in referenced:
        raise SpecError("premium_steps 为 attained_age 时，须有步骤按年龄（age）计算保费")
    return CompiledSpec(
        tuple(inputs),
        tables,
        constants,
        tuple(steps),
        result,
        monotone,
        frozenset(referenced),
        premium_steps,
    )


# --- Product --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanTerms:
    code: str
    name: str
    min_sum_insured: Decimal
    max_sum_insured: Decimal
    sum_insured_step: Decimal = Decimal(0)
    plan_id: int | None = None  # the catalog row, for the quote's foreign key

    @property
    def is_fixed(self) -> bool:
        return self.min_sum_insured == self.max_sum_insured


@dataclass(frozen=True, slots=True)
class TermOption:
    code: str
    label: str


@dataclass(frozen=True, slots=True)
class Eligibility:
    min_age_days: int = 0
    max_age: int | None = None
    occupation_classes: tuple[int, ...] = ()
    regions: tuple[str, ...] = ()

    @property
    def min_age_years(self) -> int:
        """The lowest whole age at which someone can be `min_age_days` old (age N spans N*365 to
        N*365+364 days)."""
        return max(0, math.ceil((self.min_age_days - 364) / 365))

    def age_range_text(self) -> str:
        low = f"出生满{self.min_age_days}天" if self.min_age_days < 365 else f"{self.min_age_years}周岁"
        high = f"{self.max_age}周岁" if self.max_age is not None else "不限"
        return f"{low}至{high}"

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> Eligibility:
        raw = raw or {}
        max_age = raw.get("max_age")
        return cls(
            int(raw.get("min_age_days") or 0),
            int(max_age) if max_age is not None else None,
            tuple(int(c) for c in raw.get("occupation_classes") or ()),
            tuple(str(r) for r in raw.get("regions") or ()),
        )


@dataclass(frozen=True)
class RatingProduct:
    version_id: int
    product_code: str
    eligibility: Eligibility
    term_options: tuple[TermOption, ...]
    payment_modes: tuple[str, ...]
    plans: tuple[PlanTerms, ...]
    spec: CompiledSpec
    plans_by_code: Mapping[str, PlanTerms] = field(default_factory=dict, compare=False)
    version_number: int = 0

    def plan(self, code: str) -> PlanTerms | None:
        return self.plans_by_code.get(code)


def make_rating_product(
    *,
    version_id: int,
    product_code: str,
    pricing: Mapping[str, Any],
    eligibility: Mapping[str, Any] | None,
    term_options: Iterable[Mapping[str, Any]],
    payment_modes: Iterable[str],
    plans: Iterable[PlanTerms],
    version_number: int = 0,
) -> RatingProduct:
    """Compiles the spec and checks it against the version's own data."""
    spec = compile_spec(pricing)
    terms = tuple(TermOption(str(t["code"]), str(t.get("label") or t["code"])) for t in term_options)
    modes = tuple(payment_modes)
    for mode in modes:
        if mode not in PAYMENT_MODES:
            raise SpecError(f"不支持的缴费方式 {mode!r}")
    plan_tuple = tuple(plans)
    if not plan_tuple:
        raise SpecError("产品版本至少要有一个方案")
    if "term" in spec.referenced and not terms:
        raise SpecError("定价规则用到了 term，但产品版本没有保障期间选项（term_options）")
    return RatingProduct(
        version_id,
        product_code,
        Eligibility.from_json(eligibility),
        terms,
        modes,
        plan_tuple,
        spec,
        {p.code: p for p in plan_tuple},
        version_number,
    )


# --- Quote ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lookup:
    table: str
    key: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    label: str
    expr: str
    value: Decimal | str | bool
    lookups: tuple[Lookup, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        value = self.value
        return {
            "name": self.name,
            "label": self.label,
            "expr": self.expr,
            "value": ("true" if value else "false") if isinstance(value, bool) else str(value),
            "lookups": [{"table": lk.table, "key": lk.key, "value": str(lk.value)} for lk in self.lookups],
        }


@dataclass(frozen=True, slots=True)
class QuoteRequest:
    product_code: str
    plan_code: str
    inputs: Mapping[str, object]


@dataclass(frozen=True)
class QuoteResult:
    premium: Decimal  # the premium of the policy (per year for annual/monthly payment), to the fen
    annual_premium: Decimal | None  # equal to `premium` when paid yearly or monthly; None for single
    instalment: Decimal | None  # the monthly payment, for monthly payment mode
    inputs: dict[str, Any]  # normalised inputs (JSON-safe), defaults applied
    steps: list[Step]
    version_id: int = 0
    plan_code: str = ""
    engine_version: str = ENGINE_VERSION

    def steps_as_dicts(self) -> list[dict[str, Any]]:
        return [s.as_dict() for s in self.steps]


def instalment_for(premium: Decimal, payment_mode: str) -> Decimal | None:
    """The monthly payment: the rounded yearly premium over 12, rounded once more — the first
    instalment billing collects (`huibao.core.premium.per_period`, the one owner of it)."""
    return per_period(premium, payment_mode) if payment_mode == "monthly" else None


def _field(name: str) -> str:
    return f"inputs.{name}"


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    number = _as_decimal(value)
    if number is None or number != number.to_integral_value():
        return None
    return int(number)


def _as_decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        return Decimal(value)
    elif isinstance(value, float):
        # A JSON number: its shortest repr is exactly what the client wrote.
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


def _range_text(lo: Decimal | None, hi: Decimal | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo}至{hi}"
    return f"不小于{lo}" if lo is not None else f"不大于{hi}"


def _parse_spec_input(spec: InputSpec, raw: object, errors: list[FieldError]) -> Any:
    name = _field(spec.name)
    if spec.kind == "choice":
        if not isinstance(raw, str | int) or isinstance(raw, bool) or str(raw) not in spec.choices:
            options = "、".join(
                f"{c}（{lbl}）" for c, lbl in zip(spec.choices, spec.choice_labels, strict=True)
            )
            errors.append(FieldError(name, "invalid_choice", f"{spec.label}只能选择：{options}"))
            return None
        return str(raw)
    value: int | Decimal | None = _as_int(raw) if spec.kind == "integer" else _as_decimal(raw)
    if value is None:
        kind = "整数" if spec.kind == "integer" else "数字"
        errors.append(FieldError(name, "invalid", f"{spec.label}必须是{kind}"))
        return None
    if spec.choices and value not in spec.choices:
        errors.append(
            FieldError(name, "invalid_choice", f"{spec.label}只能选择：{'、'.join(spec.choice_labels)}")
        )
        return None
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        errors.append(
            FieldError(
                name, "out_of_range", f"{spec.label}须在{_range_text(spec.min, spec.max)}之间，当前为{value}"
            )
        )
        return None
    return value


def _age_from_birth_date(raw_birth: object, raw_start: object, on: date | None) -> tuple[int, int, str, str]:
    """(age in completed years, age in days, birth date, start date) or raises ValueError."""
    birth = date.fromisoformat(str(raw_birth))
    start = date.fromisoformat(str(raw_start)) if raw_start else (on or date.today())
    if birth > start:
        raise ValueError("birth date after start date")
    years = start.year - birth.year - ((start.month, start.day) < (birth.month, birth.day))
    return years, (start - birth).days, birth.isoformat(), start.isoformat()


def price(
    product: RatingProduct,
    plan_code: str,
    inputs: Mapping[str, object],
    *,
    on: date | None = None,
    attained: bool = False,
) -> QuoteResult:
    """Prices a quote. Validates every input first and raises `QuoteRejected` with all problems;
    `on` is the start date used to derive the age from `birth_date` (default: today).
    `attained`: the price of a later policy year of a cover already sold, at the age the insured
    has reached — the entry age's ceiling (`Eligibility.max_age`) does not apply to it."""
    errors: list[FieldError] = []
    spec = product.spec
    referenced = spec.referenced
    elig = product.eligibility
    env: dict[str, Any] = {"plan": plan_code}
    normalized: dict[str, Any] = {}

    plan = product.plans_by_code.get(plan_code)
    if plan is None:
        options = "、".join(p.code for p in product.plans)
        errors.append(
            FieldError("plan_code", "unknown_plan", f"方案“{plan_code}”不存在，可选方案：{options}")
        )

    # age (or birth_date)
    raw_age = inputs.get("age")
    age: int | None = None
    if raw_age is None and inputs.get("birth_date"):
        try:
            age, days, birth, start = _age_from_birth_date(inputs["birth_date"], inputs.get("start_date"), on)
        except ValueError:
            errors.append(
                FieldError(_field("birth_date"), "invalid", "出生日期格式应为 YYYY-MM-DD，且不晚于起保日期")
            )
        else:
            normalized["birth_date"], normalized["start_date"] = birth, start
            if days < elig.min_age_days or (not attained and elig.max_age is not None and age > elig.max_age):
                errors.append(
                    FieldError(
                        _field("birth_date"),
                        "age_out_of_range",
                        f"被保险人年龄须在{elig.age_range_text()}之间，当前为{age}周岁（{days}天）",
                    )
                )
                age = None
    elif raw_age is not None:
        age = _as_int(raw_age)
        if age is None or age < 0:
            errors.append(FieldError(_field("age"), "invalid", "年龄必须是非负整数（周岁）"))
            age = None
        elif age < elig.min_age_years or (not attained and elig.max_age is not None and age > elig.max_age):
            errors.append(
                FieldError(
                    _field("age"),
                    "age_out_of_range",
                    f"被保险人年龄须在{elig.age_range_text()}之间，当前为{age}周岁",
                )
            )
            age = None
    elif "age" in referenced:
        errors.append(FieldError(_field("age"), "required", "请填写被保险人年龄"))
    if age is not None:
        env["age"] = Decimal(age)
        normalized["age"] = age

    # sex
    raw_sex = inputs.get("sex")
    if raw_sex is not None:
        if raw_sex in SEXES:
            env["sex"] = normalized["sex"] = raw_sex
        else:
            errors.append(FieldError(_field("sex"), "invalid_choice", "性别只能是 M（男）或 F（女）"))
    elif "sex" in referenced:
        errors.append(FieldError(_field("sex"), "required", "请选择被保险人性别"))

    # sum insured, within the plan's limits and on its step
    raw_si = inputs.get("sum_insured")
    if plan is not None:
        if raw_si is None:
            if plan.is_fixed:
                env["sum_insured"] = plan.max_sum_insured
                normalized["sum_insured"] = str(plan.max_sum_insured)
            else:
                errors.append(
                    FieldError(
                        _field("sum_insured"),
                        "required",
                        f"请填写保额（{plan.min_sum_insured}至{plan.max_sum_insured}元）",
                    )
                )
        else:
            si = _as_decimal(raw_si)
            if si is None:
                errors.append(FieldError(_field("sum_insured"), "invalid", "保额必须是数字（元）"))
            elif si > plan.max_sum_insured:
                errors.append(
                    FieldError(
                        _field("sum_insured"),
                        "sum_insured_above_limit",
                        f"方案“{plan.name}”的保额最高为{plan.max_sum_insured}元，当前为{si}元",
                    )
                )
            elif si < plan.min_sum_insured:
                errors.append(
                    FieldError(
                        _field("sum_insured"),
                        "sum_insured_below_minimum",
                        f"方案“{plan.name}”的保额最低为{plan.min_sum_insured}元，当前为{si}元",
                    )
                )
            elif plan.sum_insured_step and (si - plan.min_sum_insured) % plan.sum_insured_step:
                errors.append(
                    FieldError(
                        _field("sum_insured"),
                        "sum_insured_off_step",
                        f"保额须为{plan.min_sum_insured}元起、以{plan.sum_insured_step}元递增，当前为{si}元",
                    )
                )
            else:
                env["sum_insured"] = si
                normalized["sum_insured"] = str(si)

    # occupation class
    raw_occ = inputs.get("occupation_class")
    if raw_occ is not None:
        occ = _as_int(raw_occ)
        if occ is None or not 1 <= occ <= 6:
            errors.append(FieldError(_field("occupation_class"), "invalid", "职业类别必须是 1 至 6 的整数"))
        elif elig.occupation_classes and occ not in elig.occupation_classes:
            accepted = "、".join(str(c) for c in elig.occupation_classes)
            errors.append(
                FieldError(
                    _field("occupation_class"),
                    "occupation_not_accepted",
                    f"本产品只承保 {accepted} 类职业，当前为 {occ} 类",
                )
            )
        else:
            env["occupation_class"] = Decimal(occ)
            normalized["occupation_class"] = occ
    elif "occupation_class" in referenced:
        errors.append(FieldError(_field("occupation_class"), "required", "请选择职业类别"))

    # region: a province code, or a city/district code inside an accepted province
    raw_region = inputs.get("region")
    if raw_region is not None:
        region = str(raw_region)
        if len(region) != 6 or not region.isdigit():
            errors.append(FieldError(_field("region"), "invalid", "地区必须是 6 位行政区划代码，如 310000"))
        elif elig.regions and region not in elig.regions and region[:2] + "0000" not in elig.regions:
            errors.append(
                FieldError(_field("region"), "region_not_accepted", f"本产品暂不在地区 {region} 销售")
            )
        else:
            env["region"] = normalized["region"] = region
    elif "region" in referenced:
        errors.append(FieldError(_field("region"), "required", "请选择所在地区"))

    # term: one of the version's options, the first by default
    raw_term = inputs.get("term")
    terms = product.term_options
    if raw_term is not None:
        if any(t.code == raw_term for t in terms):
            env["term"] = normalized["term"] = raw_term
        else:
            options = "、".join(f"{t.code}（{t.label}）" for t in terms) or "无"
            errors.append(
                FieldError(_field("term"), "unknown_term", f"保障期间“{raw_term}”不可选，可选：{options}")
            )
    elif terms:
        env["term"] = normalized["term"] = terms[0].code

    # payment mode: one of the version's modes, the first by default
    raw_mode = inputs.get("payment_mode")
    modes = product.payment_modes or ("single",)
    if raw_mode is not None:
        if raw_mode in modes:
            env["payment_mode"] = normalized["payment_mode"] = raw_mode
        else:
            errors.append(
                FieldError(
                    _field("payment_mode"),
                    "unknown_payment_mode",
                    f"缴费方式“{raw_mode}”不可选，可选：{'、'.join(modes)}",
                )
            )
    else:
        env["payment_mode"] = normalized["payment_mode"] = modes[0]

    # inputs declared by the spec
    for ispec in spec.inputs:
        raw = inputs.get(ispec.name)
        if raw is None:
            if ispec.default is not None:
                value = ispec.default
            elif ispec.required or ispec.name in referenced:
                errors.append(FieldError(_field(ispec.name), "required", f"请填写{ispec.label}"))
                continue
            else:
                continue
        else:
            value = _parse_spec_input(ispec, raw, errors)
            if value is None:
                continue
        env[ispec.name] = Decimal(value) if isinstance(value, int) else value
        normalized[ispec.name] = str(value) if isinstance(value, Decimal) else value

    if errors:
        raise QuoteRejected(errors)
    assert plan is not None  # an unknown plan is an error above

    steps: list[Step] = []
    for step in spec.steps:
        log: list[tuple[str, str, Decimal]] = []
        try:
            value = step.formula.fn(env, log)
        except MissingFactor as exc:
            raise QuoteRejected([exc.field_error()]) from None
        except (ArithmeticError, KeyError) as exc:
            raise RatingError(
                f"计算步骤“{step.label}”（{step.name}）出错：{exc.__class__.__name__}",
                errors=[FieldError("inputs", "rating_error", f"计算步骤“{step.label}”无法完成，请联系客服")],
            ) from exc
        env[step.name] = value
        steps.append(Step(step.name, step.label, step.expr, value, tuple(Lookup(*entry) for entry in log)))

    result = env[spec.result]
    if result < 0:
        raise RatingError(f"计算结果为负数（{result}），定价规则有误", code="rating_error")
    premium = to_fen(result)
    mode = env["payment_mode"]
    return QuoteResult(
        premium=premium,
        annual_premium=premium if mode != "single" else None,
        instalment=instalment_for(premium, mode),
        inputs=normalized,
        steps=steps,
        version_id=product.version_id,
        plan_code=plan_code,
    )


# --- Marketplace figures --------------------------------------------------------------------


def _anniversary(start: date, years: int) -> date:
    """`start` moved `years` years on (29 Feb → 28 Feb in a common year)."""
    year = start.year + years
    day = min(start.day, 28) if (start.month, start.day) == (2, 29) else start.day
    try:
        return start.replace(year=year)
    except ValueError:
        return start.replace(year=year, day=day)


def premiums_by_year(
    product: RatingProduct, plan_code: str, inputs: Mapping[str, object], *, years: int, start: date
) -> list[Decimal]:
    """The premium of each policy year 1…`years` of a cover starting on `start`, as the version
    prices it: level (`premium_steps` ""), every year the first year's; stepped
    (`"attained_age"`), each year priced on the same inputs at the insured's age on that year's
    first day — from the birth date when the quote has one, else the quoted age plus the years
    gone by (the entry age's ceiling does not apply: `price(attained=True)`). Raises
    `QuoteRejected` / `MissingFactor` when a year cannot be priced (its age beyond the tables)."""
    if years < 1:
        raise ValueError("a premium term has at least one year")
    first = price(product, plan_code, inputs).premium
    if product.spec.premium_steps != ATTAINED_AGE:
        return [first] * years
    out = [first]
    for n in range(2, years + 1):
        year_inputs = dict(inputs)
        if inputs.get("birth_date"):
            year_inputs.pop("age", None)
            year_inputs["start_date"] = _anniversary(start, n - 1).isoformat()
        else:
            age = _as_int(inputs.get("age"))
            if age is None:
                raise QuoteRejected([FieldError(_field("age"), "required", "请填写被保险人年龄")])
            year_inputs["age"] = age + n - 1
        out.append(price(product, plan_code, year_inputs, attained=True).premium)
    return out


def fill_profile(product: RatingProduct, plan: PlanTerms, profile: Mapping[str, object]) -> dict[str, object]:
    """Completes a profile with the cheapest-looking values for what it leaves open."""
    filled: dict[str, object] = dict(profile)
    elig = product.eligibility
    referenced = product.spec.referenced
    if "age" not in filled and "birth_date" not in filled:
        age = max(elig.min_age_years, ADULT_AGE)
        if elig.max_age is not None and age > elig.max_age:
            age = elig.min_age_years
        filled["age"] = age
    if "occupation_class" not in filled and "occupation_class" in referenced:
        filled["occupation_class"] = min(elig.occupation_classes) if elig.occupation_classes else 1
    if "region" not in filled and "region" in referenced:
        filled["region"] = elig.regions[0] if elig.regions else "110000"
    if "sum_insured" not in filled:
        filled["sum_insured"] = plan.min_sum_insured
    for ispec in product.spec.inputs:
        if ispec.name in filled or ispec.default is not None:
            continue
        if ispec.choices:
            filled[ispec.name] = ispec.choices[0]
        elif ispec.min is not None:
            filled[ispec.name] = ispec.min
    return filled


def premium_for_profile(product: RatingProduct, profile: Mapping[str, object]) -> Decimal | None:
    """The lowest premium over plans (and, where the profile leaves them open, sexes and terms) for
    a profile such as {"age": 30, "sex": "F"}; None when the profile is not eligible."""
    referenced = product.spec.referenced
    sexes: tuple[object, ...] = (
        (profile["sex"],) if "sex" in profile else ("M", "F") if "sex" in referenced else (None,)
    )
    terms: tuple[object, ...] = (
        (profile["term"],) if "term" in profile else tuple(t.code for t in product.term_options) or (None,)
    )
    best: Decimal | None = None
    for plan in product.plans:
        base = fill_profile(product, plan, profile)
        for sex in sexes:
            for term in terms:
                inputs = dict(base)
                if sex is not None:
                    inputs["sex"] = sex
                if term is not None:
                    inputs["term"] = term
                try:
                    premium = price(product, plan.code, inputs).premium
                except (QuoteRejected, RatingError):
                    continue
                if best is None or premium < best:
                    best = premium
    return best


def cheapest_premium(product: RatingProduct) -> Decimal | None:
    """The "from ¥x" price: the lowest premium over plans for the youngest eligible adult with the
    minimum sum insured; None if no plan can be priced that way."""
    return premium_for_profile(product, {})


# --- The customer's explanation of a quote ---------------------------------------------------

# Steps whose value is a factor or a rate (shown as a plain number), by name or label; every
# other step is an amount of money (shown in yuan to the fen).
_FACTOR_NAME = re.compile(r"(factor|loading|rate|discount|ratio|coefficient|ncd)", re.IGNORECASE)
_FACTOR_LABEL = ("系数", "费率", "折扣", "优待", "比例", "倍数")
_PAYMENT_MODE_LABELS = {"single": "趸缴", "annual": "按年缴费", "monthly": "按月缴费"}
_IDENT = re.compile(
    r"table\('([A-Za-z_][A-Za-z0-9_]*)'\)|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|\*\*|[-+*/()]|\s+"
)


@dataclass(frozen=True, slots=True)
class ExplainedStep:
    """One line of the customer's explanation: 基础保费（31岁，有社保） ¥300.00, or for a step
    computed from others, its formula in their values (¥300.00 × 1.5 = ¥450.00)."""

    label: str
    basis: str  # what the step depends on, in words ("31岁，有社保"); "" when nothing
    value: str  # ¥300.00 or 1.5
    formula: str  # "¥300.00 × 1.5" for a step made of others; "" otherwise
    is_result: bool = False


def _plain_number(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


def _is_factor(name: str, label: str) -> bool:
    return bool(_FACTOR_NAME.search(name)) or any(word in label for word in _FACTOR_LABEL)


def _step_value(name: str, label: str, raw: object, *, result: bool) -> str:
    if isinstance(raw, bool) or raw in ("true", "false"):
        return "是" if raw in (True, "true") else "否"
    try:
        number = Decimal(str(raw))
    except InvalidOperation:
        return str(raw)
    if not number.is_finite():
        return str(raw)
    if result or not _is_factor(name, label):
        return f"¥{to_fen(number):,.2f}"
    return _plain_number(number)


def _input_words(product: RatingProduct, plan_code: str, name: str, value: object) -> str | None:
    """One input in words: 31岁, 女, 有社保, 保额¥100,000.00…; None when not worth saying."""
    if value is None or value == "":
        return None
    if name == "age":
        return f"{value}岁"
    if name == "birth_date":
        return None
    if name == "sex":
        return SEXES.get(str(value), str(value))
    if name == "plan":
        plan = product.plan(plan_code)
        return plan.name if plan else str(value)
    if name == "sum_insured":
        amount = _as_decimal(value)
        return f"保额¥{amount:,.0f}" if amount is not None else None
    if name == "occupation_class":
        return f"{value}类职业"
    if name == "payment_mode":
        return _PAYMENT_MODE_LABELS.get(str(value), str(value))
    if name == "term":
        term = next((t for t in product.term_options if t.code == str(value)), None)
        return term.label if term else str(value)
    spec = next((i for i in product.spec.inputs if i.name == name), None)
    if spec is None:
        return None
    if spec.choices:
        for choice, label in zip(spec.choices, spec.choice_labels, strict=False):
            if str(choice) == str(value):
                return label
    return f"{spec.label}{value}"


def explain(
    product: RatingProduct, plan_code: str, inputs: Mapping[str, Any], steps: Iterable[Mapping[str, Any]]
) -> list[ExplainedStep]:
    """A recorded calculation (a quote's `steps`) in the customer's words: each step's label, the
    answers it depends on, its value in money to the fen (factors as plain numbers), and for a
    step computed from earlier ones its formula in their values. The full trace (formulas,
    tables, keys, full precision) stays in the quote for staff."""
    env: dict[str, Any] = {"plan": plan_code, **dict(inputs)}
    spec = product.spec
    shown: dict[str, str] = {}
    lines: list[ExplainedStep] = []
    step_list = [s for s in steps if isinstance(s, Mapping)]
    for step in step_list:
        name, label = str(step.get("name", "")), str(step.get("label") or step.get("name", ""))
        expr = str(step.get("expr", ""))
        result = name == spec.result
        value = _step_value(name, label, step.get("value"), result=result)
        words: list[str] = []
        names: list[str] = []
        for lookup in step.get("lookups") or []:
            table = spec.tables.get(str(lookup.get("table")))
            names.extend(table.keys if table else ())
        formula_parts: list[str] = []
        plain = True
        for match in _IDENT.finditer(expr):
            token = match.group(0)
            if token.isspace():
                continue
            if match.group(1):  # table('x')
                table = spec.tables.get(match.group(1))
                names.extend(table.keys if table else ())
                plain = False
            elif token in shown:
                formula_parts.append(shown[token])
            elif token in spec.constants:
                formula_parts.append(_plain_number(spec.constants[token]))
            elif token in env or token in UNIVERSAL_INPUTS:
                names.append(token)
                amount = _as_decimal(env.get(token))
                formula_parts.append(f"{amount:,.0f}" if amount is not None else str(env.get(token, token)))
            elif token in ("*", "/", "+", "-", "(", ")"):
                formula_parts.append({"*": "×", "/": "÷"}.get(token, token))
            elif token.replace(".", "", 1).isdigit():
                formula_parts.append(token)
            else:  # a function (max, if…) or a comparison: no plain formula
                plain = False
        for input_name in dict.fromkeys(names):
            text = _input_words(product, plan_code, input_name, env.get(input_name))
            if text and text not in words:
                words.append(text)
        made_of_steps = any(token in shown for token in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expr))
        formula = " ".join(formula_parts) if plain and made_of_steps and len(formula_parts) > 1 else ""
        lines.append(
            ExplainedStep(label, "" if formula else "，".join(words), value, formula, is_result=result)
        )
        shown[name] = value
    return lines
