"""Endorsements (批改/保全): what a change of each kind may contain, and its premium delta.

Pure: no Django, no I/O. `check_change(kind, raw, facts)` checks what a customer asked for
against the policy as it stands (`PolicyFacts`) and the product version's servicing rules, and
returns the normalised change (JSON-ready: strings, ints, lists) or raises `ValidationFailed`
with every problem, each naming its field. The checks of names, ID numbers, phones and
beneficiaries are the application's (`check_beneficiaries` and the share and order parsers
live here, below both, and `application.rules` uses them), so a beneficiary the application
refuses is refused here too, with the same message.

The premium delta of a re-rated change::

    delta = (new annual premium − old annual premium) × remaining days / days of the period

rounded to the fen once (half up); positive: the customer pays it, negative: it is refunded.
The period is the policy's term for a policy of a year or less, else the current policy year.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from huibao.catalog.servicing import EndorsementKind, EndorsementRules
from huibao.core.errors import FieldError, ValidationFailed
from huibao.core.masking import mask_email, mask_id_number, mask_phone
from huibao.core.money import format_cny, to_fen
from huibao.core.validators import (
    ResidentId,
    normalise_person_name,
    person_name_problem,
    text_problem,
    validate_mobile,
    validate_resident_id,
)
from huibao.policy.states import BeneficiaryMode, Relation

MAX_BENEFICIARIES = 5  # per insured person
MAX_BENEFICIARY_ORDER = 5  # 受益顺位 1 … 5
EMAIL_MAX = 254
ADDRESS_MAX = 200

_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")
_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PLAIN_INTEGER = re.compile(r"([+-]?)([0-9]+)")
_PLAIN_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_HUGE = 10**9  # stands for an integer of more than nine digits: out of every range here

KIND_LABELS: dict[str, str] = {
    EndorsementKind.CONTACT: "联系方式变更",
    EndorsementKind.BENEFICIARIES: "受益人变更",
    EndorsementKind.INSURED_CORRECTION: "被保险人资料更正",
    EndorsementKind.PLAN: "保障方案变更",
    EndorsementKind.SUM_INSURED: "保额变更",
}
# Kinds whose change is priced again with the policy's product version.
RERATED_KINDS = frozenset(
    {EndorsementKind.INSURED_CORRECTION, EndorsementKind.PLAN, EndorsementKind.SUM_INSURED}
)


# --- shared with the application: shares, orders, e-mail, beneficiaries -------------------------


def parse_share(value: object) -> Decimal | None:
    """A beneficiary's share as entered, exactly (`50.005` stays `50.005`); None if it is no
    number. A JSON number arrives as its shortest decimal form (what was typed, up to 15 digits)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, str) and _PLAIN_DECIMAL.fullmatch(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def parse_integer(value: object) -> int | None:
    """An order (顺位) or occupation class as an integer, from the API's integer or the form's
    text; None if it is no integer (True is none, nor is "1.0"). More than nine digits come back
    as ±`_HUGE`, never parsed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        m = _PLAIN_INTEGER.fullmatch(value.strip())
        if m is not None:
            if len(m.group(2)) > 9:
                return -_HUGE if m.group(1) == "-" else _HUGE
            return int(m.group(0))
    return None


def email_is_valid(email: str) -> bool:
    return (
        len(email) <= EMAIL_MAX
        and _EMAIL_SHAPE.fullmatch(email) is not None
        and text_problem(email, max_length=EMAIL_MAX) is None
    )


class BeneficiaryLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def id_number(self) -> str: ...
    @property
    def relation(self) -> str: ...
    @property
    def share_percent(self) -> Any: ...
    @property
    def order(self) -> Any: ...


def person_name(value: str, field_name: str, errors: list[FieldError]) -> str:
    name = normalise_person_name(value)
    problem = person_name_problem(name)
    if problem is not None:
        errors.append(FieldError(field_name, *problem))
    return name


def resident(value: str, field_name: str, errors: list[FieldError]) -> ResidentId | None:
    try:
        return validate_resident_id(value, field=field_name)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
        return None


def check_beneficiaries(
    rows_in: Sequence[BeneficiaryLike], prefix: str, insured_id: str, errors: list[FieldError]
) -> list[dict[str, Any]]:
    """Named beneficiaries of one insured person: names, ID numbers, relations, orders 1–5 and
    shares exactly as entered (two decimals at most, never rounded), adding up to exactly 100 in
    each order. Appends every problem to `errors`; returns the rows that could be read
    (`id` is the `ResidentId` or None)."""
    rows = list(rows_in)
    if not rows:
        errors.append(FieldError(f"{prefix}.beneficiaries", "required", "指定受益人时请至少填写一位受益人"))
    if len(rows) > MAX_BENEFICIARIES:
        errors.append(
            FieldError(
                f"{prefix}.beneficiaries", "too_many", f"每位被保险人最多指定{MAX_BENEFICIARIES}位受益人"
            )
        )
        rows = rows[:MAX_BENEFICIARIES]
    totals: dict[int, Decimal] = {}
    out: list[dict[str, Any]] = []
    for index, b in enumerate(rows):
        bp = f"{prefix}.beneficiaries[{index}]"
        name = person_name(b.name, f"{bp}.name", errors)
        found = resident(b.id_number, f"{bp}.id_number", errors)
        if b.relation not in Relation.values or b.relation == Relation.SELF:
            errors.append(
                FieldError(f"{bp}.relation", "invalid_choice", "受益人与被保险人的关系须为配偶、子女或父母")
            )
        if found is not None and insured_id and found.number == insured_id:
            errors.append(
                FieldError(f"{bp}.id_number", "beneficiary_is_insured", "身故受益人不能是被保险人本人")
            )
        order = parse_integer(b.order)
        if order is None:
            errors.append(FieldError(f"{bp}.order", "invalid", "受益顺位须为整数"))
        elif not 1 <= order <= MAX_BENEFICIARY_ORDER:
            errors.append(
                FieldError(f"{bp}.order", "out_of_range", f"受益顺位须为第1至第{MAX_BENEFICIARY_ORDER}顺位")
            )
            order = None
        share = parse_share(b.share_percent)
        if share is None:
            errors.append(FieldError(f"{bp}.share_percent", "invalid", "受益比例须为数字"))
        elif not Decimal(0) < share <= _HUNDRED:
            errors.append(FieldError(f"{bp}.share_percent", "out_of_range", "受益比例须大于0且不超过100%"))
        elif share != share.quantize(_CENT):
            # checked as entered: 50.005 is refused, never rounded to 50.01 (or 50.00)
            errors.append(FieldError(f"{bp}.share_percent", "too_many_decimals", "受益比例最多保留两位小数"))
        if share is None or order is None or not Decimal(0) < share <= _HUNDRED:
            continue
        totals[order] = totals.get(order, Decimal(0)) + share
        # exact: a share with more than two decimals was refused above, so nothing rounds here
        out.append(
            {
                "name": name,
                "id": found,
                "relation": b.relation,
                "order": order,
                "share": share.quantize(_CENT),
            }
        )
    for order, total in sorted(totals.items()):
        if total != _HUNDRED:
            errors.append(
                FieldError(
                    f"{prefix}.beneficiaries",
                    "shares_not_100",
                    f"第{order}顺位受益人的受益比例合计须为100%，当前为{total.normalize():f}%",
                )
            )
    return out


# --- the policy as it stands ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanOption:
    code: str
    name: str
    min_sum_insured: Decimal
    max_sum_insured: Decimal
    sum_insured_step: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class PolicyFacts:
    """What the checks need of the policy's current data (its latest version)."""

    rules: EndorsementRules
    holder_phone: str
    holder_email: str
    holder_address: str
    insured_name: str
    insured_id_number: str
    insured_birth_date: datetime.date | None
    insured_sex: str
    plan_code: str
    sum_insured: Decimal | None
    plans: tuple[PlanOption, ...] = ()
    beneficiary_mode: str = BeneficiaryMode.LEGAL
    beneficiaries: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class BeneficiaryRow:
    name: str
    id_number: str
    relation: str
    share_percent: Any
    order: Any = 1


def _str(raw: Mapping[str, object], key: str) -> str:
    value = raw.get(key)
    return value.strip() if isinstance(value, str) else ""


def _refuse(errors: list[FieldError]) -> ValidationFailed:
    first = errors[0].message if errors else "批改内容有误"
    return ValidationFailed(first, errors=errors)


def _check_contact(raw: Mapping[str, object], facts: PolicyFacts, errors: list[FieldError]) -> dict[str, Any]:
    phone = _str(raw, "phone")
    email = _str(raw, "email")
    address = _str(raw, "address")
    if phone:
        try:
            phone = validate_mobile(phone, field="phone")
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    else:
        errors.append(FieldError("phone", "required", "请填写投保人手机号"))
    if email and not email_is_valid(email):
        errors.append(FieldError("email", "invalid", "电子邮箱格式不正确"))
    if address:
        problem = text_problem(address, max_length=ADDRESS_MAX)
        if problem is not None:
            errors.append(FieldError("address", problem[0], "联系地址" + problem[1]))
    changed = (phone, email, address) != (facts.holder_phone, facts.holder_email, facts.holder_address)
    if not errors and not changed:
        errors.append(FieldError("phone", "unchanged", "联系方式与当前保单记录相同，无需变更"))
    return {"phone": phone, "email": email, "address": address}


def _check_beneficiaries(
    raw: Mapping[str, object], facts: PolicyFacts, errors: list[FieldError]
) -> dict[str, Any]:
    mode = _str(raw, "mode")
    if mode not in BeneficiaryMode.values:
        errors.append(FieldError("mode", "invalid_choice", "受益人类型须为法定受益人或指定受益人"))
        return {}
    if mode == BeneficiaryMode.LEGAL:
        if facts.beneficiary_mode == BeneficiaryMode.LEGAL:
            errors.append(FieldError("mode", "unchanged", "本保单的身故受益人已是法定受益人，无需变更"))
        return {"mode": mode, "beneficiaries": []}
    entered = raw.get("beneficiaries")
    rows: list[BeneficiaryRow] = []
    if isinstance(entered, Sequence) and not isinstance(entered, str):
        for item in entered:
            r: Mapping[str, object] = item if isinstance(item, Mapping) else {}
            rows.append(
                BeneficiaryRow(
                    name=_str(r, "name"),
                    id_number=_str(r, "id_number"),
                    relation=_str(r, "relation"),
                    share_percent=r.get("share_percent"),
                    order=r.get("order", 1),
                )
            )
    checked = check_beneficiaries(rows, "insured", facts.insured_id_number, errors)
    # fields are `insured.beneficiaries[0].name`…: shown to the customer as `beneficiaries[0].name`
    for i, e in enumerate(errors):
        if e.field.startswith("insured."):
            errors[i] = FieldError(e.field.removeprefix("insured."), e.code, e.message)
    out = [
        {
            "name": b["name"],
            "id_number": b["id"].number if b["id"] is not None else "",
            "relation": b["relation"],
            "order": b["order"],
            "share_percent": str(b["share"]),
        }
        for b in checked
    ]
    out.sort(key=lambda b: (b["order"], -Decimal(b["share_percent"])))
    if not errors and facts.beneficiary_mode == mode and _same_beneficiaries(out, facts.beneficiaries):
        errors.append(FieldError("beneficiaries", "unchanged", "受益人与当前保单记录相同，无需变更"))
    return {"mode": mode, "beneficiaries": out}


def _same_beneficiaries(new: list[dict[str, Any]], current: Sequence[Mapping[str, Any]]) -> bool:
    def key(b: Mapping[str, Any]) -> tuple[str, str, str, int, Decimal]:
        return (b["name"], b["id_number"], b["relation"], int(b["order"]), Decimal(str(b["share_percent"])))

    return sorted(map(key, new)) == sorted(map(key, current))


def _check_insured(raw: Mapping[str, object], facts: PolicyFacts, errors: list[FieldError]) -> dict[str, Any]:
    name = person_name(_str(raw, "name") or facts.insured_name, "name", errors)
    id_text = _str(raw, "id_number") or facts.insured_id_number
    found = resident(id_text, "id_number", errors)
    if errors or found is None:
        return {}
    if (name, found.number) == (facts.insured_name, facts.insured_id_number):
        errors.append(FieldError("name", "unchanged", "被保险人资料与当前保单记录相同，无需更正"))
        return {}
    return {
        "name": name,
        "id_number": found.number,
        "birth_date": found.birth_date.isoformat(),
        "sex": found.sex,
    }


def _plan(facts: PolicyFacts, code: str) -> PlanOption | None:
    return next((p for p in facts.plans if p.code == code), None)


def _check_plan(raw: Mapping[str, object], facts: PolicyFacts, errors: list[FieldError]) -> dict[str, Any]:
    code = _str(raw, "plan_code")
    plan = _plan(facts, code)
    if not code:
        errors.append(FieldError("plan_code", "required", "请选择新的保障方案"))
    elif plan is None:
        options = "、".join(p.name for p in facts.plans) or "无"
        errors.append(
            FieldError("plan_code", "unknown_plan", f"方案“{code}”不属于本产品，可选方案：{options}")
        )
    elif code == facts.plan_code:
        errors.append(FieldError("plan_code", "unchanged", "所选方案与当前方案相同，无需变更"))
    if errors or plan is None:
        return {}
    out: dict[str, Any] = {"plan_code": plan.code, "plan_name": plan.name}
    if facts.sum_insured is not None:
        # the sum insured is kept where the new plan allows it, else brought to its nearest bound
        kept = min(max(facts.sum_insured, plan.min_sum_insured), plan.max_sum_insured)
        out["sum_insured"] = str(kept)
    return out


def _check_sum_insured(
    raw: Mapping[str, object], facts: PolicyFacts, errors: list[FieldError]
) -> dict[str, Any]:
    plan = _plan(facts, facts.plan_code)
    value = parse_share(raw.get("sum_insured"))  # a plain decimal as entered
    if value is None:
        errors.append(FieldError("sum_insured", "invalid", "保额须为数字（元）"))
        return {}
    if value != value.quantize(_CENT):
        errors.append(FieldError("sum_insured", "too_many_decimals", "保额最多保留两位小数"))
        return {}
    current = facts.sum_insured
    if plan is not None:
        if value > plan.max_sum_insured:
            errors.append(
                FieldError(
                    "sum_insured",
                    "sum_insured_above_limit",
                    f"方案“{plan.name}”的保额最高为{plan.max_sum_insured}元，当前填写{value}元",
                )
            )
        elif value < plan.min_sum_insured:
            errors.append(
                FieldError(
                    "sum_insured",
                    "sum_insured_below_minimum",
                    f"方案“{plan.name}”的保额最低为{plan.min_sum_insured}元，当前填写{value}元",
                )
            )
        elif plan.sum_insured_step and (value - plan.min_sum_insured) % plan.sum_insured_step:
            errors.append(
                FieldError("sum_insured", "sum_insured_step", f"保额须以{plan.sum_insured_step}元为单位调整")
            )
    if errors:
        return {}
    if current is None or value == current:
        errors.append(FieldError("sum_insured", "unchanged", "新保额与当前保额相同，无需变更"))
    elif value > current and not facts.rules.sum_insured_increase:
        errors.append(FieldError("sum_insured", "increase_not_allowed", "本产品不支持保单生效后增加保额"))
    elif value < current and not facts.rules.sum_insured_decrease:
        errors.append(FieldError("sum_insured", "decrease_not_allowed", "本产品不支持保单生效后减少保额"))
    return {"sum_insured": str(value.quantize(_CENT))}


_CHECKS = {
    EndorsementKind.CONTACT: _check_contact,
    EndorsementKind.BENEFICIARIES: _check_beneficiaries,
    EndorsementKind.INSURED_CORRECTION: _check_insured,
    EndorsementKind.PLAN: _check_plan,
    EndorsementKind.SUM_INSURED: _check_sum_insured,
}


def parse_kind(value: object) -> EndorsementKind:
    try:
        return EndorsementKind(str(value))
    except ValueError:
        raise ValidationFailed(
            "未知的批改类型",
            code="unknown_kind",
            errors=[FieldError("kind", "invalid_choice", f"批改类型“{str(value)[:40]}”不存在")],
        ) from None


def check_change(kind: EndorsementKind, raw: Mapping[str, object], facts: PolicyFacts) -> dict[str, Any]:
    """The normalised change of `kind`, or `ValidationFailed` with every problem (the kind
    not allowed by the product's servicing rules is one: `kind`/`not_allowed`)."""
    if kind not in facts.rules.allowed:
        raise ValidationFailed(
            f"本产品不支持在线办理{KIND_LABELS[kind]}",
            code="kind_not_allowed",
            errors=[FieldError("kind", "not_allowed", f"本产品不支持在线办理{KIND_LABELS[kind]}")],
        )
    errors: list[FieldError] = []
    checked = _CHECKS[kind](raw, facts, errors)
    if errors:
        raise _refuse(errors)
    return checked


def previous_values(kind: EndorsementKind, facts: PolicyFacts) -> dict[str, Any]:
    """The values a change of `kind` replaces, for the record and the endorsement PDF."""
    if kind == EndorsementKind.CONTACT:
        return {"phone": facts.holder_phone, "email": facts.holder_email, "address": facts.holder_address}
    if kind == EndorsementKind.BENEFICIARIES:
        return {"mode": facts.beneficiary_mode, "beneficiaries": [dict(b) for b in facts.beneficiaries]}
    if kind == EndorsementKind.INSURED_CORRECTION:
        birth = facts.insured_birth_date
        return {
            "name": facts.insured_name,
            "id_number": facts.insured_id_number,
            "birth_date": birth.isoformat() if birth else None,
            "sex": facts.insured_sex,
        }
    plan = _plan(facts, facts.plan_code)
    out: dict[str, Any] = {"sum_insured": None if facts.sum_insured is None else str(facts.sum_insured)}
    if kind == EndorsementKind.PLAN:
        out.update(plan_code=facts.plan_code, plan_name=plan.name if plan else facts.plan_code)
    return out


def needs_rerating(kind: EndorsementKind, change: Mapping[str, Any], facts: PolicyFacts) -> bool:
    """A plan or sum insured change always; a correction only when it changes the age or sex."""
    if kind == EndorsementKind.INSURED_CORRECTION:
        birth = facts.insured_birth_date.isoformat() if facts.insured_birth_date else None
        return (change.get("birth_date"), change.get("sex")) != (birth, facts.insured_sex)
    return kind in RERATED_KINDS


# --- the premium delta ------------------------------------------------------------------------


def _anniversary(start: datetime.date, years: int) -> datetime.date:
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February
        return start.replace(year=start.year + years, day=28)


def premium_period(
    effective_on: datetime.date, expires_on: datetime.date | None, on: datetime.date
) -> tuple[datetime.date, datetime.date]:
    """The premium period `on` falls in: the whole term for a policy of one year or less, else
    the policy year (from the anniversary on or before `on` to the next, not past the end)."""
    one_year = _anniversary(effective_on, 1)
    if expires_on is not None and expires_on <= one_year:
        return effective_on, expires_on
    years = 0
    while _anniversary(effective_on, years + 1) <= on:
        years += 1
    start = _anniversary(effective_on, years)
    end = _anniversary(effective_on, years + 1)
    if expires_on is not None and end > expires_on:
        end = expires_on
    return start, end


def premium_delta(
    old_premium: Decimal,
    new_premium: Decimal,
    *,
    period_start: datetime.date,
    period_end: datetime.date,
    on: datetime.date,
) -> Decimal:
    """(new − old) × remaining days / days of the period, rounded to the fen once. `on` is the
    day the change takes effect; before the period it counts the whole period, after it none."""
    days = (period_end - period_start).days
    if days <= 0:
        raise ValueError("the premium period must last at least one day")
    remaining = min(max((period_end - max(on, period_start)).days, 0), days)
    return to_fen((new_premium - old_premium) * Decimal(remaining) / Decimal(days))


def loaded_premium(rated: Decimal, loading_percent: Decimal) -> Decimal:
    """The annual premium of a re-rated quote with the policy's underwriting loading kept."""
    return to_fen(rated * (1 + loading_percent / _HUNDRED))


# --- what a change shows (pages, API, the 批单) ------------------------------------------------

SEXES = {"M": "男", "F": "女"}


def _relation_label(value: str) -> str:
    try:
        return str(Relation(value).label)
    except ValueError:
        return value


def display_rows(kind: str, values: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The (label, value) rows a change of `kind` (or the values it replaced) shows: ID numbers,
    phones and e-mail addresses masked."""
    if kind == EndorsementKind.CONTACT:
        return (
            ("投保人手机号", mask_phone(values.get("phone")) or "—"),
            ("电子邮箱", mask_email(values.get("email")) or "—"),
            ("联系地址", values.get("address") or "—"),
        )
    if kind == EndorsementKind.BENEFICIARIES:
        if values.get("mode") != BeneficiaryMode.NAMED or not values.get("beneficiaries"):
            return (("身故受益人", "法定继承人（法定）"),)
        return tuple(
            (
                f"第{b['order']}顺位 {_relation_label(b['relation'])}",
                f"{b['name']}  {mask_id_number(b['id_number'])}  受益比例 {b['share_percent']}%",
            )
            for b in values["beneficiaries"]
        )
    if kind == EndorsementKind.INSURED_CORRECTION:
        return (
            ("被保险人姓名", values.get("name") or "—"),
            ("证件号码", mask_id_number(values.get("id_number"))),
            ("性别", SEXES.get(values.get("sex") or "", "—")),
        )
    rows: list[tuple[str, str]] = []
    if kind == EndorsementKind.PLAN:
        rows.append(("保障方案", values.get("plan_name") or values.get("plan_code") or "—"))
    si = values.get("sum_insured")
    rows.append(("基本保险金额", format_cny(Decimal(si)) if si else "—"))
    return tuple(rows)


def delta_text(delta: Decimal) -> str:
    if delta > 0:
        return f"应补缴保险费 {format_cny(delta)}"
    if delta < 0:
        return f"应退还保险费 {format_cny(-delta)}"
    return "本次批改不涉及保险费变化"
