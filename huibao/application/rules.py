"""How a product version is applied for: its `application_rules` JSON, parsed with defaults.

    {
      "insured_relations": ["self", "spouse", "child", "parent"],
      "max_insured": 1,
      "applicant_min_age": 18,
      "beneficiary": "legal" | "named_allowed",
      "signature": "handwritten" | "confirmation",
      "insured_consent": "none" | "death_cover_other_adult",
      "face_check": {"always": false, "premium_at_least": "5000"},
      "effective": {"rule": "next_day" | "same_day" | "days_after_payment", "days": 1},
      "subject": [{"code": "plate_number", "label": "车牌号", "pattern": "^...$", "required": true}]
    }

Plain functions over plain data: no database access here.

Also the rules of the data entered for an application (`check_data`): the applicant, the insured,
their health answers and beneficiaries, and the subject, checked against the rule sets of the
products and their health questions on a given day; see docs/application.md.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from huibao.application.states import BeneficiaryMode, Relation, SignatureMethod
from huibao.catalog.rules import asked_of
from huibao.core.errors import FieldError, ValidationFailed
from huibao.core.validators import (
    ResidentId,
    text_problem,
    validate_mobile,
)

# shared with the policy's endorsements (one check of beneficiaries, shares and orders)
from huibao.policy.endorsement_rules import MAX_BENEFICIARIES as MAX_BENEFICIARIES
from huibao.policy.endorsement_rules import MAX_BENEFICIARY_ORDER as MAX_BENEFICIARY_ORDER
from huibao.policy.endorsement_rules import check_beneficiaries, parse_integer
from huibao.policy.endorsement_rules import parse_share as parse_share
from huibao.policy.endorsement_rules import person_name as _name
from huibao.policy.endorsement_rules import resident as _resident

ALL_RELATIONS: tuple[str, ...] = tuple(Relation.values)
EFFECTIVE_RULES = ("next_day", "same_day", "days_after_payment")


@dataclass(frozen=True, slots=True)
class SubjectField:
    code: str
    label: str
    pattern: str = ""
    required: bool = True
    hint: str = ""


@dataclass(frozen=True, slots=True)
class ApplicationRules:
    insured_relations: tuple[str, ...] = ALL_RELATIONS
    max_insured: int = 1
    applicant_min_age: int = 18
    named_beneficiaries_allowed: bool = False
    signature: str = SignatureMethod.HANDWRITTEN
    insured_consent_for_death_cover: bool = False
    face_check_always: bool = False
    face_check_premium_at_least: Decimal | None = None
    effective_rule: str = "next_day"
    effective_days: int = 1
    subject: tuple[SubjectField, ...] = field(default_factory=tuple)

    def face_check_required(self, premium: Decimal) -> bool:
        if self.face_check_always:
            return True
        return self.face_check_premium_at_least is not None and premium >= self.face_check_premium_at_least

    def effective_at(self, paid_at: datetime.datetime) -> datetime.datetime:
        """When cover starts for a payment confirmed at `paid_at` (aware, local time zone)."""
        if self.effective_rule == "same_day":
            return paid_at
        days = 1 if self.effective_rule == "next_day" else max(self.effective_days, 0)
        start = (paid_at + datetime.timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
        # 0 days after payment is the payment itself: cover never starts before it was paid for
        return max(start, paid_at)


def validate_rules(raw: Mapping[str, Any]) -> list[FieldError]:
    """Problems with an `application_rules` document (field names under `application_rules.`)."""
    errors: list[FieldError] = []

    def bad(name: str, message: str) -> None:
        errors.append(FieldError(f"application_rules.{name}", "invalid", message))

    relations = raw.get("insured_relations", list(ALL_RELATIONS))
    if not isinstance(relations, list) or not relations or any(r not in ALL_RELATIONS for r in relations):
        bad("insured_relations", f"被保险人关系须为 {', '.join(ALL_RELATIONS)} 中的若干项")
    for name in ("max_insured", "applicant_min_age"):
        value = raw.get(name, 1)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            bad(name, "须为非负整数")
        elif name == "max_insured" and value > MAX_INSURED:
            bad(name, f"每张投保单最多{MAX_INSURED}位被保险人")
    if raw.get("beneficiary", "legal") not in ("legal", "named_allowed"):
        bad("beneficiary", "须为 legal 或 named_allowed")
    if raw.get("signature", "handwritten") not in SignatureMethod.values:
        bad("signature", "须为 handwritten 或 confirmation")
    if raw.get("insured_consent", "none") not in ("none", "death_cover_other_adult"):
        bad("insured_consent", "须为 none 或 death_cover_other_adult")
    effective = raw.get("effective", {})
    if not isinstance(effective, dict) or effective.get("rule", "next_day") not in EFFECTIVE_RULES:
        bad("effective", f"生效规则须为 {', '.join(EFFECTIVE_RULES)} 之一")
    face = raw.get("face_check", {})
    if not isinstance(face, dict):
        bad("face_check", "须为对象")
    elif face.get("premium_at_least") is not None:
        try:
            Decimal(str(face["premium_at_least"]))
        except ArithmeticError:
            bad("face_check", "premium_at_least 须为金额")
    subject = raw.get("subject", [])
    if not isinstance(subject, list):
        bad("subject", "须为列表")
    else:
        for i, item in enumerate(subject):
            if not isinstance(item, dict) or not item.get("code") or not item.get("label"):
                bad(f"subject[{i}]", "须含 code 与 label")
                continue
            try:
                re.compile(str(item.get("pattern", "")))
            except re.error:
                bad(f"subject[{i}].pattern", "正则表达式无效")
    return errors


def parse_rules(raw: Mapping[str, Any] | None) -> ApplicationRules:
    """The rules of a version; missing keys take the defaults above."""
    raw = raw or {}
    face = raw.get("face_check") or {}
    threshold = face.get("premium_at_least")
    effective = raw.get("effective") or {}
    return ApplicationRules(
        insured_relations=tuple(raw.get("insured_relations") or ALL_RELATIONS),
        max_insured=int(raw.get("max_insured", 1)),
        applicant_min_age=int(raw.get("applicant_min_age", 18)),
        named_beneficiaries_allowed=raw.get("beneficiary", "legal") == "named_allowed",
        signature=str(raw.get("signature", SignatureMethod.HANDWRITTEN)),
        insured_consent_for_death_cover=raw.get("insured_consent", "none") == "death_cover_other_adult",
        face_check_always=bool(face.get("always", False)),
        face_check_premium_at_least=Decimal(str(threshold)) if threshold is not None else None,
        effective_rule=str(effective.get("rule", "next_day")),
        effective_days=int(effective.get("days", 1)),
        subject=tuple(
            SubjectField(
                code=str(s["code"]),
                label=str(s["label"]),
                pattern=str(s.get("pattern", "")),
                required=bool(s.get("required", True)),
                hint=str(s.get("hint", "")),
            )
            for s in raw.get("subject") or []
        ),
    )


def combined_subject(rule_sets: list[ApplicationRules]) -> tuple[SubjectField, ...]:
    """The subject fields of a bundle: each code once, in first-seen order."""
    seen: dict[str, SubjectField] = {}
    for rules in rule_sets:
        for f in rules.subject:
            seen.setdefault(f.code, f)
    return tuple(seen.values())


# --- the data entered ---------------------------------------------------------------------------
#
# What the page form (`web/forms.py`) and the API (`schemas.ApplicationDataIn`) hand over: values
# as typed, nothing parsed yet except what the API's schema types already are. `check_data` parses
# and checks them all and is the only place that does.

MIN_PARENT_GAP_YEARS = 15
MARRIAGE_AGE = {"M": 22, "F": 20}
# Bounds on what one application can carry, whatever a product's rules say (`validate_rules`
# refuses a `max_insured` above MAX_INSURED).
MAX_INSURED = 6  # the documented range of `max_insured`: 1–6
MAX_HEALTH_ANSWERS = 100  # per insured person: more answers than any bundle has questions
MAX_SUBJECT_FIELDS = 20
EMAIL_MAX = 254
ADDRESS_MAX = 200
OCCUPATION_MAX = 40
SUBJECT_VALUE_MAX = 64
# Unknown codes are named in the errors, at most this many and this long (the rest is input).
_UNKNOWN_SHOWN = 10
_CODE_SHOWN = 40
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")
_EMAIL_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_REGION_SHAPE = re.compile(r"[0-9]{6}")
_PLAIN_INTEGER = re.compile(r"([+-]?)([0-9]+)")
_PLAIN_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_HUGE = 10**9  # stands for an integer of more than nine digits: out of every range here


@dataclass(frozen=True, slots=True)
class ApplicantInput:
    name: str
    id_number: str
    phone: str
    email: str = ""
    address: str = ""
    region: str = ""
    occupation: str = ""


@dataclass(frozen=True, slots=True)
class BeneficiaryInput:
    name: str
    id_number: str
    relation: str
    share_percent: Decimal | str | int | float  # as entered: never rounded before the check
    order: int | str = 1  # the form's text, or the API's integer


@dataclass(frozen=True, slots=True)
class InsuredInput:
    relation: str
    name: str = ""
    id_number: str = ""
    phone: str = ""
    occupation: str = ""
    occupation_class: int | str | None = None  # "" and None: not given
    health_answers: Mapping[str, object] = field(default_factory=dict)  # code → True / False only
    beneficiaries: Sequence[BeneficiaryInput] = ()


@dataclass(frozen=True, slots=True)
class ApplicationData:
    applicant: ApplicantInput
    insured: Sequence[InsuredInput]
    beneficiary_mode: str = BeneficiaryMode.LEGAL
    subject: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HealthQuestion:
    code: str
    text: str
    sex: str = ""  # asked only of this sex ("F": 目前是否怀孕); "" = of everyone


def answers_in_form_order(
    questions: Sequence[Mapping[str, Any]], answers: Mapping[str, bool]
) -> list[tuple[str, str, bool]]:
    """(code, question text, answer) in the order the data form asked them (`questions`, as
    `selectors.health_questions` gives them); answers are stored by code, so the review page and
    the signed application form would otherwise list them alphabetically. An answer to a
    question no longer asked comes last, under its code."""
    texts = {str(q["code"]): str(q.get("text") or q["code"]) for q in questions}
    order = {code: n for n, code in enumerate(texts)}
    codes = sorted(answers, key=lambda c: (c not in order, order.get(c, 0), c))
    return [(code, texts.get(code, code), bool(answers[code])) for code in codes]


def age_on(birth: datetime.date, on: datetime.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _shown(code: object) -> str:
    return str(code)[:_CODE_SHOWN]


def _text(value: str, field_name: str, label: str, max_length: int, errors: list[FieldError]) -> str:
    text = (value or "").strip()
    problem = text_problem(text, max_length=max_length)
    if problem is not None:
        errors.append(FieldError(field_name, problem[0], label + problem[1]))
    return text


def _occupation_class(value: object, field_name: str, errors: list[FieldError]) -> int | None:
    if value is None or value == "":
        return None
    number = parse_integer(value)
    if number is None or not 1 <= number <= 6:
        errors.append(FieldError(field_name, "out_of_range", "职业类别须为1至6类"))
        return None
    return number


def _health_answers(
    answers: Mapping[str, object],
    questions: Sequence[HealthQuestion],
    prefix: str,
    errors: list[FieldError],
    sex: str | None,
) -> dict[str, bool]:
    """Every question asked of the insured person's `sex` answered with a real boolean (not
    "yes", 1 or "true"); no other code. A question for the other sex is neither required nor
    kept (a man is not asked 目前是否怀孕; an answer sent anyway is dropped)."""
    known = {q.code for q in questions}
    unknown = [code for code in answers if code not in known]
    for code in unknown[:_UNKNOWN_SHOWN]:
        errors.append(
            FieldError(
                f"{prefix}.health_answers.{_shown(code)}",
                "unknown_question",
                f"没有代码为“{_shown(code)}”的健康告知问题",
            )
        )
    checked: dict[str, bool] = {}
    for q in questions:
        if not asked_of(q.sex, sex):
            continue
        value = answers.get(q.code)
        field_name = f"{prefix}.health_answers.{q.code}"
        if value is None:
            errors.append(FieldError(field_name, "required", f"请回答健康告知：{q.text}"))
        elif not isinstance(value, bool):
            errors.append(FieldError(field_name, "not_boolean", f"健康告知须回答“是”或“否”：{q.text}"))
        else:
            checked[q.code] = value
    return checked


def _beneficiaries(
    person: InsuredInput, prefix: str, insured_id: str, errors: list[FieldError]
) -> list[dict[str, Any]]:
    return check_beneficiaries(person.beneficiaries, prefix, insured_id, errors)


def _subject(
    entered: Mapping[str, str], fields: Sequence[SubjectField], errors: list[FieldError]
) -> dict[str, str]:
    known = {f.code for f in fields}
    unknown = [code for code in entered if code not in known]
    for code in unknown[:_UNKNOWN_SHOWN]:
        errors.append(
            FieldError(
                f"subject.{_shown(code)}", "unknown_field", f"本投保单没有“{_shown(code)}”这项标的信息"
            )
        )
    subject: dict[str, str] = {}
    for f in fields:
        raw = entered.get(f.code, "")
        text = (raw if isinstance(raw, str) else "").strip()
        if f.code in ("plate_number", "vin"):
            text = text.upper()
        if not text:
            if f.required:
                errors.append(FieldError(f"subject.{f.code}", "required", f"请填写{f.label}"))
            continue
        problem = text_problem(text, max_length=SUBJECT_VALUE_MAX)
        if problem is not None:
            errors.append(FieldError(f"subject.{f.code}", problem[0], f.label + problem[1]))
            continue
        if f.pattern and not re.fullmatch(f.pattern, text):
            errors.append(
                FieldError(
                    f"subject.{f.code}", "invalid", f"{f.label}格式不正确{('：' + f.hint) if f.hint else ''}"
                )
            )
        subject[f.code] = text
    return subject


def check_data(
    data: ApplicationData,
    *,
    rule_sets: Sequence[ApplicationRules],
    questions: Sequence[HealthQuestion],
    today: datetime.date,
) -> tuple[list[FieldError], dict[str, Any]]:
    """Checks the data entered against the products' rule sets and health questions on `today`;
    returns (errors naming their fields, normalised values). The values are what
    `services._write_data` writes; they mean something only when there is no error."""
    errors: list[FieldError] = []
    a = data.applicant
    applicant_name = _name(a.name, "applicant.name", errors)
    applicant_id = _resident(a.id_number, "applicant.id_number", errors)
    phone = ""
    try:
        phone = validate_mobile(a.phone, field="applicant.phone")
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    email = (a.email or "").strip()
    if email and (
        len(email) > EMAIL_MAX
        or not _EMAIL_SHAPE.fullmatch(email)
        or text_problem(email, max_length=EMAIL_MAX)
    ):
        errors.append(FieldError("applicant.email", "invalid", "邮箱格式错误"))
    address = _text(a.address, "applicant.address", "地址", ADDRESS_MAX, errors)
    occupation = _text(a.occupation, "applicant.occupation", "职业", OCCUPATION_MAX, errors)
    region = (a.region or "").strip()
    if region and not _REGION_SHAPE.fullmatch(region):
        errors.append(FieldError("applicant.region", "invalid", "行政区划代码须为6位数字"))
    if applicant_id is not None:
        min_age = max(r.applicant_min_age for r in rule_sets) if rule_sets else 18
        if age_on(applicant_id.birth_date, today) < min_age:
            errors.append(
                FieldError("applicant.id_number", "applicant_too_young", f"投保人须年满{min_age}周岁")
            )

    max_insured = min((r.max_insured for r in rule_sets), default=1) or 1
    insured = list(data.insured)
    if not insured:
        errors.append(FieldError("insured", "required", "请填写被保险人"))
    if len(insured) > max_insured:
        errors.append(FieldError("insured", "too_many", f"本产品每张投保单最多{max_insured}位被保险人"))
        insured = insured[:MAX_INSURED]  # refused anyway: the others' errors add nothing

    named_allowed = all(r.named_beneficiaries_allowed for r in rule_sets)
    if data.beneficiary_mode not in BeneficiaryMode.values:
        errors.append(FieldError("beneficiary_mode", "invalid_choice", "受益人类型须为法定或指定"))
    elif data.beneficiary_mode == BeneficiaryMode.NAMED and not named_allowed:
        errors.append(
            FieldError("beneficiary_mode", "named_not_allowed", "本产品的受益人为法定受益人，不能指定")
        )

    # One applicant has at most one spouse and two parents among the insured.
    for relation_code, most, label in ((Relation.SPOUSE, 1, "配偶"), (Relation.PARENT, 2, "父母")):
        count = sum(1 for p in insured if p.relation == relation_code)
        if count > most:
            errors.append(
                FieldError("insured", "relation_count", f"被保险人中与投保人关系为{label}的最多{most}位")
            )

    allowed = [r for r in Relation.values if all(r in rs.insured_relations for rs in rule_sets)]
    persons: list[dict[str, Any]] = []
    seen_ids: set[str] = set()
    for index, person in enumerate(insured):
        prefix = f"insured[{index}]"
        relation = person.relation
        if relation not in Relation.values:
            errors.append(
                FieldError(f"{prefix}.relation", "invalid_choice", "与投保人关系须为本人、配偶、子女或父母")
            )
            continue
        if relation not in allowed:
            labels = "、".join(str(Relation(r).label) for r in allowed)
            errors.append(
                FieldError(
                    f"{prefix}.relation", "relation_not_accepted", f"本产品的被保险人只能是投保人的{labels}"
                )
            )
        if relation == Relation.SELF:
            name, resident = applicant_name, applicant_id
        else:
            name = _name(person.name, f"{prefix}.name", errors)
            resident = _resident(person.id_number, f"{prefix}.id_number", errors)
            if resident is not None and applicant_id is not None:
                _check_relation(relation, resident, applicant_id, prefix, today, errors)
        id_number = resident.number if resident else ""
        if id_number:
            if id_number in seen_ids:
                errors.append(FieldError(f"{prefix}.id_number", "duplicate", "同一被保险人不能重复填写"))
            seen_ids.add(id_number)
        phone_i = ""
        if person.phone:
            try:
                phone_i = validate_mobile(person.phone, field=f"{prefix}.phone")
            except ValidationFailed as exc:
                errors.extend(exc.errors)
        occupation_i = _text(person.occupation, f"{prefix}.occupation", "职业", OCCUPATION_MAX, errors)
        occupation_class = _occupation_class(person.occupation_class, f"{prefix}.occupation_class", errors)
        answers = _health_answers(
            person.health_answers or {}, questions, prefix, errors, resident.sex if resident else None
        )
        beneficiaries: list[dict[str, Any]] = []
        if data.beneficiary_mode == BeneficiaryMode.NAMED:
            beneficiaries = _beneficiaries(person, prefix, id_number, errors)
        persons.append(
            {
                "relation": relation,
                "name": name,
                "resident": resident,
                "phone": phone_i,
                "occupation": occupation_i,
                "occupation_class": occupation_class,
                "answers": answers,
                "beneficiaries": beneficiaries,
            }
        )

    subject = _subject(data.subject or {}, combined_subject(list(rule_sets)), errors)
    normalized = {
        "applicant": {
            "name": applicant_name,
            "resident": applicant_id,
            "phone": phone,
            "email": email,
            "address": address,
            "region": region,
            "occupation": occupation,
        },
        "persons": persons,
        "subject": subject,
        "beneficiary_mode": data.beneficiary_mode,
    }
    return errors, normalized


def _check_relation(
    relation: str,
    resident: ResidentId,
    applicant: ResidentId,
    prefix: str,
    today: datetime.date,
    errors: list[FieldError],
) -> None:
    """The insured's relation to the applicant fits their ID numbers (ages, not the same person)."""
    if resident.number == applicant.number:
        errors.append(FieldError(f"{prefix}.relation", "self_is_self", "被保险人是投保人本人时请选择“本人”"))
    gap = age_on(applicant.birth_date, today) - age_on(resident.birth_date, today)
    if relation == Relation.CHILD and gap < MIN_PARENT_GAP_YEARS:
        errors.append(
            FieldError(
                f"{prefix}.relation", "relation_age", "子女的年龄应比投保人小至少15岁，请核对关系或证件号"
            )
        )
    if relation == Relation.PARENT and -gap < MIN_PARENT_GAP_YEARS:
        errors.append(
            FieldError(
                f"{prefix}.relation", "relation_age", "父母的年龄应比投保人大至少15岁，请核对关系或证件号"
            )
        )
    if relation == Relation.SPOUSE:
        for who, res in (("被保险人", resident), ("投保人", applicant)):
            if age_on(res.birth_date, today) < MARRIAGE_AGE[res.sex]:
                errors.append(
                    FieldError(f"{prefix}.relation", "relation_age", f"{who}未达法定婚龄，不能为配偶关系")
                )


# --- key clauses ---------------------------------------------------------------------------------


def clause_min_read_seconds(clause: Mapping[str, Any]) -> int:
    """How long a key clause must be on the customer's screen before its confirmation counts
    (`min_read_seconds` of the clause in the product's documents; none: 0, shown is enough)."""
    value = clause.get("min_read_seconds")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, int(value))


def clause_identity(clause: Mapping[str, Any]) -> str:
    """What makes two key clauses the same clause for the customer: their kind and their text
    (whitespace aside). Products of a bundle that hold the same clause ask it once."""
    text = "".join(str(clause.get("text", "")).split())
    return f"{clause.get('kind', '')}\x00{text}"
