"""The application data form: posted fields in, `ApplicationData` out, and back again.

Input names are the field names the services use in their errors (`applicant.id_number`,
`insured[0].relation`, `insured[0].beneficiaries[1].share_percent`,
`insured[0].health_answers.<code>`, `subject.plate_number`), so every `FieldError` lands next to
the input it is about without a mapping table. The services validate; this module only parses
and lays the form out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict

from huibao.application import rules
from huibao.application.models import Application
from huibao.application.rules import ApplicantInput, ApplicationData, BeneficiaryInput, InsuredInput
from huibao.application.selectors import data_snapshot, health_questions, items_of, rules_of, subject_fields
from huibao.application.states import BeneficiaryMode, Relation
from huibao.catalog.rules import questions_for
from huibao.core.errors import FieldError

_INSURED_RE = re.compile(r"^insured\[(\d{1,2})\]\.relation$")
_ID_NUMBER_RE = re.compile(r"\d{17}[\dX]")
_BENEFICIARY_RE = re.compile(r"^insured\[(\d{1,2})\]\.beneficiaries\[(\d{1,2})\]\.name$")
MAX_BENEFICIARIES = rules.MAX_BENEFICIARIES
OCCUPATION_CLASSES = [("", "请选择（不清楚可不选）")] + [(str(i), f"第{i}类") for i in range(1, 7)]
BENEFICIARY_RELATIONS = [(r, str(Relation(r).label)) for r in Relation.values if r != Relation.SELF]
YES_NO = [("no", "否"), ("yes", "是")]


def field_id(name: str) -> str:
    """An HTML id for a dotted/indexed field name: insured[0].name -> f-insured-0-name."""
    return "f-" + re.sub(r"[^A-Za-z0-9_]+", "-", name).strip("-")


@dataclass
class Field:
    name: str
    label: str
    value: str = ""
    kind: str = "text"  # text, tel, email, number, select, radio
    choices: list[tuple[str, str]] = field(default_factory=list)
    required: bool = True
    hint: str = ""
    inputmode: str = ""
    autocomplete: str = ""
    maxlength: int = 0
    readonly: bool = False
    errors: list[str] = field(default_factory=list)
    only_sex: str = ""  # a health question asked only of this sex (shown until the ID number tells)

    @property
    def id(self) -> str:
        return field_id(self.name)

    @property
    def error(self) -> str:
        return self.errors[0] if self.errors else ""


@dataclass
class BeneficiaryBlock:
    prefix: str
    index: int
    fields: list[Field]


@dataclass
class InsuredBlock:
    prefix: str
    index: int
    relation: Field
    person: list[Field]  # name, ID, phone: hidden when the relation is "self"
    details: list[Field]  # occupation and its class
    health: list[Field]
    beneficiaries: list[BeneficiaryBlock]
    errors: list[str] = field(default_factory=list)  # about the insured as a whole
    beneficiary_errors: list[str] = field(default_factory=list)  # e.g. shares not adding to 100

    @property
    def id(self) -> str:
        return field_id(self.prefix)

    @property
    def beneficiaries_id(self) -> str:
        return field_id(f"{self.prefix}.beneficiaries")

    @property
    def number(self) -> int:
        return self.index + 1


@dataclass
class DataForm:
    applicant: list[Field]
    insured: list[InsuredBlock]
    subject: list[Field]
    beneficiary_mode: Field | None
    max_insured: int
    top_errors: list[tuple[str, str]] = field(default_factory=list)  # (message, anchor id)

    @property
    def can_add_insured(self) -> bool:
        return len(self.insured) < self.max_insured

    def all_fields(self) -> list[Field]:
        out = list(self.applicant) + list(self.subject)
        if self.beneficiary_mode is not None:
            out.append(self.beneficiary_mode)
        for block in self.insured:
            out += [block.relation, *block.person, *block.details, *block.health]
            for b in block.beneficiaries:
                out += b.fields
        return out


# --- parsing ------------------------------------------------------------------------------------


def _indices(post: Mapping[str, Any], pattern: re.Pattern[str]) -> list[tuple[int, ...]]:
    found = set()
    for key in post:
        m = pattern.match(key)
        if m:
            found.add(tuple(int(g) for g in m.groups()))
    return sorted(found)


def _answer(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def parse(post: QueryDict | Mapping[str, str], app: Application) -> ApplicationData:
    """What the customer (or agent) posted, as the services' input."""

    def get(name: str) -> str:
        return str(post.get(name, "") or "").strip()

    questions = [str(q["code"]) for q in health_questions(app)]
    insured: list[InsuredInput] = []
    for (i,) in _indices(post, _INSURED_RE):
        p = f"insured[{i}]"
        answers: dict[str, bool] = {}
        for code in questions:
            value = _answer(get(f"{p}.health_answers.{code}"))
            if value is not None:
                answers[code] = value
        beneficiaries = []
        for bi, bj in _indices(post, _BENEFICIARY_RE):
            if bi != i:
                continue
            bp = f"{p}.beneficiaries[{bj}]"
            beneficiaries.append(
                BeneficiaryInput(
                    name=get(f"{bp}.name"),
                    id_number=get(f"{bp}.id_number"),
                    relation=get(f"{bp}.relation"),
                    share_percent=get(f"{bp}.share_percent"),  # as typed: the rules read it exactly
                    order=get(f"{bp}.order"),
                )
            )
        insured.append(
            InsuredInput(
                relation=get(f"{p}.relation"),
                name=get(f"{p}.name"),
                id_number=get(f"{p}.id_number"),
                phone=get(f"{p}.phone"),
                occupation=get(f"{p}.occupation"),
                occupation_class=get(f"{p}.occupation_class"),
                health_answers=answers,
                beneficiaries=beneficiaries,
            )
        )
    return ApplicationData(
        applicant=ApplicantInput(
            name=get("applicant.name"),
            id_number=get("applicant.id_number"),
            phone=get("applicant.phone"),
            email=get("applicant.email"),
            address=get("applicant.address"),
            occupation=get("applicant.occupation"),
        ),
        insured=insured,
        beneficiary_mode=get("beneficiary_mode") or BeneficiaryMode.LEGAL,
        subject={f.code: get(f"subject.{f.code}") for f in subject_fields(app)},
    )


def values_from_post(post: QueryDict | Mapping[str, str]) -> dict[str, str]:
    return {str(k): str(post.get(k, "") or "") for k in post if k != "csrfmiddlewaretoken"}


def values_from_app(app: Application, *, default_phone: str = "") -> dict[str, str]:
    """The saved data as form values (empty application: one insured person, "self")."""
    values: dict[str, str] = {}
    if not app.applicant_name and not app.insured_persons.exists():
        values["applicant.phone"] = default_phone
        values["insured[0].relation"] = Relation.SELF
        return values
    snapshot = data_snapshot(app)
    for key, value in snapshot["applicant"].items():
        values[f"applicant.{key}"] = str(value or "")
    values["beneficiary_mode"] = snapshot["beneficiary_mode"]
    for key, value in (snapshot["subject"] or {}).items():
        values[f"subject.{key}"] = str(value)
    # The insured's own phone is not part of the snapshot: read it so that saving the form again
    # does not silently clear it.
    phones = dict(app.insured_persons.values_list("position", "phone"))
    for i, person in enumerate(snapshot["insured"]):
        p = f"insured[{i}]"
        values[f"{p}.relation"] = person["relation"]
        if person["relation"] != Relation.SELF:
            values[f"{p}.name"] = person["name"]
            values[f"{p}.id_number"] = person["id_number"]
            values[f"{p}.phone"] = str(phones.get(person["position"]) or "")
        values[f"{p}.occupation"] = person["occupation"] or ""
        values[f"{p}.occupation_class"] = str(person["occupation_class"] or "")
        for code, answer in person["health_answers"].items():
            values[f"{p}.health_answers.{code}"] = "yes" if answer else "no"
        for j, b in enumerate(person["beneficiaries"]):
            bp = f"{p}.beneficiaries[{j}]"
            values[f"{bp}.name"] = b["name"]
            values[f"{bp}.id_number"] = b["id_number"]
            values[f"{bp}.relation"] = b["relation"]
            values[f"{bp}.order"] = str(b["order"])
            values[f"{bp}.share_percent"] = _plain_number(b["share_percent"])
    if not snapshot["insured"]:
        values["insured[0].relation"] = Relation.SELF
    return values


def _sex_of(id_number: str) -> str | None:
    """ "M"/"F" from an 18-character ID number as typed (its 17th digit), None when not one."""
    number = id_number.strip().upper()
    if not _ID_NUMBER_RE.fullmatch(number):
        return None
    return "M" if int(number[16]) % 2 else "F"


def _plain_number(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- form edits without saving (add / remove rows) -------------------------------------------------


def apply_edit(values: dict[str, str], action: str) -> dict[str, str]:
    """`add_insured`, `remove_insured:<i>`, `add_beneficiary:<i>`, `remove_beneficiary:<i>:<j>`:
    the posted values with a row added or removed (renumbered), nothing saved."""
    parts = action.split(":")
    insured = [i for (i,) in _indices(values, _INSURED_RE)]
    if parts[0] == "add_insured":
        new = max(insured, default=-1) + 1
        values[f"insured[{new}].relation"] = ""
    elif parts[0] == "remove_insured" and len(parts) == 2 and parts[1].isdigit():
        values = _drop(values, f"insured[{int(parts[1])}].")
        values = _renumber(values, r"insured\[(\d+)\]", "insured[{}]")
    elif parts[0] == "add_beneficiary" and len(parts) == 2 and parts[1].isdigit():
        i = int(parts[1])
        rows = [j for bi, j in _indices(values, _BENEFICIARY_RE) if bi == i]
        if len(rows) < MAX_BENEFICIARIES:
            new = max(rows, default=-1) + 1
            values[f"insured[{i}].beneficiaries[{new}].name"] = ""
            values[f"insured[{i}].beneficiaries[{new}].order"] = "1"
        values["beneficiary_mode"] = BeneficiaryMode.NAMED
    elif parts[0] == "remove_beneficiary" and len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        i = int(parts[1])
        values = _drop(values, f"insured[{i}].beneficiaries[{int(parts[2])}].")
        values = _renumber(
            values, rf"insured\[{i}\]\.beneficiaries\[(\d+)\]", f"insured[{i}].beneficiaries[{{}}]"
        )
    return values


def _drop(values: dict[str, str], prefix: str) -> dict[str, str]:
    return {k: v for k, v in values.items() if not k.startswith(prefix)}


def _renumber(values: dict[str, str], pattern: str, template: str) -> dict[str, str]:
    regex = re.compile("^" + pattern)
    seen = sorted({int(m.group(1)) for k in values if (m := regex.match(k))})
    mapping = {old: new for new, old in enumerate(seen)}
    out: dict[str, str] = {}
    for key, value in values.items():
        m = regex.match(key)
        if m:
            key = template.format(mapping[int(m.group(1))]) + key[m.end() :]
        out[key] = value
    return out


# --- layout ------------------------------------------------------------------------------------


def allowed_relations(app: Application) -> list[str]:
    rule_sets = [rules_of(i) for i in items_of(app)]
    return [r for r in Relation.values if all(r in rs.insured_relations for rs in rule_sets)]


def max_insured(app: Application) -> int:
    rule_sets = [rules_of(i) for i in items_of(app)]
    return min((r.max_insured for r in rule_sets), default=1) or 1


def named_beneficiaries_allowed(app: Application) -> bool:
    rule_sets = [rules_of(i) for i in items_of(app)]
    return bool(rule_sets) and all(r.named_beneficiaries_allowed for r in rule_sets)


def build(
    app: Application,
    values: Mapping[str, str],
    errors: list[FieldError] | None = None,
    *,
    readonly: bool = False,
) -> DataForm:
    """The form laid out for the template, each error attached to its field (or its block, or
    the top when no input carries that name)."""

    def v(name: str) -> str:
        return str(values.get(name, "") or "")

    relations = allowed_relations(app)
    questions = health_questions(app)
    named_allowed = named_beneficiaries_allowed(app)
    mode = v("beneficiary_mode") or BeneficiaryMode.LEGAL

    applicant = [
        Field(
            "applicant.name",
            "姓名",
            v("applicant.name"),
            autocomplete="name",
            maxlength=30,
            hint="请与身份证上的姓名一致",
        ),
        Field(
            "applicant.id_number",
            "身份证号",
            v("applicant.id_number"),
            maxlength=18,
            autocomplete="off",
            hint="18位，末位可能是X",
        ),
        Field(
            "applicant.phone",
            "手机号",
            v("applicant.phone"),
            kind="tel",
            inputmode="tel",
            autocomplete="tel",
            maxlength=11,
        ),
        Field(
            "applicant.email",
            "电子邮箱（用于接收电子保单，可不填）",
            v("applicant.email"),
            kind="email",
            required=False,
            autocomplete="email",
            maxlength=254,
        ),
        Field(
            "applicant.address",
            "联系地址（可不填）",
            v("applicant.address"),
            required=False,
            autocomplete="street-address",
            maxlength=200,
        ),
        Field(
            "applicant.occupation", "职业（可不填）", v("applicant.occupation"), required=False, maxlength=40
        ),
    ]
    subject = [
        Field(
            f"subject.{f.code}",
            f.label,
            v(f"subject.{f.code}"),
            required=f.required,
            hint=f.hint,
            maxlength=64,
        )
        for f in subject_fields(app)
    ]
    beneficiary_mode = (
        Field(
            "beneficiary_mode",
            "身故受益人",
            mode,
            kind="radio",
            choices=[(BeneficiaryMode.LEGAL, "法定受益人"), (BeneficiaryMode.NAMED, "指定受益人")],
        )
        if named_allowed or mode == BeneficiaryMode.NAMED
        else None
    )

    blocks: list[InsuredBlock] = []
    indices = [i for (i,) in _indices(values, _INSURED_RE)] or [0]
    for i in indices:
        p = f"insured[{i}]"
        relation_value = v(f"{p}.relation")
        relation_choices = [(r, str(Relation(r).label)) for r in relations]
        if relation_value and relation_value not in relations and relation_value in Relation.values:
            relation_choices.append((relation_value, str(Relation(relation_value).label)))
        person = [
            Field(f"{p}.name", "被保险人姓名", v(f"{p}.name"), maxlength=30),
            Field(
                f"{p}.id_number", "被保险人身份证号", v(f"{p}.id_number"), maxlength=18, autocomplete="off"
            ),
            Field(
                f"{p}.phone",
                "被保险人手机号（可不填）",
                v(f"{p}.phone"),
                kind="tel",
                inputmode="tel",
                required=False,
                maxlength=11,
            ),
        ]
        extra = [
            Field(
                f"{p}.occupation",
                "被保险人职业（可不填）",
                v(f"{p}.occupation"),
                required=False,
                maxlength=40,
            ),
            Field(
                f"{p}.occupation_class",
                "职业类别",
                v(f"{p}.occupation_class"),
                kind="select",
                choices=OCCUPATION_CLASSES,
                required=False,
                hint="1-3类为内勤、一般外勤；4类及以上为较高风险职业",
            ),
        ]
        # The insured's sex from the ID number typed (the applicant's for "self"): a question for
        # the other sex is left out; apply.js hides it as the number is typed.
        sex = _sex_of(v("applicant.id_number") if relation_value == Relation.SELF else v(f"{p}.id_number"))
        health = [
            Field(
                f"{p}.health_answers.{q['code']}",
                str(q["text"]),
                v(f"{p}.health_answers.{q['code']}"),
                kind="radio",
                choices=YES_NO,
                only_sex=str(q.get("sex") or ""),
            )
            for q in questions_for(questions, sex)
        ]
        beneficiaries = []
        for bi, j in _indices(values, _BENEFICIARY_RE):
            if bi != i:
                continue
            bp = f"{p}.beneficiaries[{j}]"
            beneficiaries.append(
                BeneficiaryBlock(
                    prefix=bp,
                    index=j,
                    fields=[
                        Field(f"{bp}.name", "受益人姓名", v(f"{bp}.name"), maxlength=30),
                        Field(f"{bp}.id_number", "受益人身份证号", v(f"{bp}.id_number"), maxlength=18),
                        Field(
                            f"{bp}.relation",
                            "与被保险人关系",
                            v(f"{bp}.relation"),
                            kind="select",
                            choices=[("", "请选择"), *BENEFICIARY_RELATIONS],
                        ),
                        Field(
                            f"{bp}.order",
                            "受益顺位",
                            v(f"{bp}.order") or "1",
                            kind="select",
                            choices=[("1", "第一顺位"), ("2", "第二顺位"), ("3", "第三顺位")],
                        ),
                        Field(
                            f"{bp}.share_percent",
                            "受益比例（%）",
                            v(f"{bp}.share_percent"),
                            kind="number",
                            inputmode="decimal",
                            maxlength=6,
                            hint="最多两位小数，同一顺位的比例合计须为100%",
                        ),
                    ],
                )
            )
        blocks.append(
            InsuredBlock(
                prefix=p,
                index=i,
                relation=Field(
                    f"{p}.relation",
                    "被保险人是投保人的",
                    relation_value,
                    kind="radio",
                    choices=relation_choices,
                ),
                person=person,
                details=extra,
                health=health,
                beneficiaries=beneficiaries,
            )
        )

    form = DataForm(
        applicant=applicant,
        insured=blocks,
        subject=subject,
        beneficiary_mode=beneficiary_mode,
        max_insured=max_insured(app),
    )
    if readonly:
        for f in form.all_fields():
            f.readonly = True
    _attach(form, errors or [])
    return form


def _attach(form: DataForm, errors: list[FieldError]) -> None:
    by_name = {f.name: f for f in form.all_fields()}
    blocks = {b.prefix: b for b in form.insured}
    for error in errors:
        target = by_name.get(error.field)
        anchor = ""
        if target is not None:
            target.errors.append(error.message)
            anchor = target.id
        else:
            m = re.match(r"^(insured\[\d+\])(\.beneficiaries)?", error.field)
            block = blocks.get(m.group(1)) if m else None
            if block is not None and m is not None and m.group(2):
                block.beneficiary_errors.append(error.message)
                anchor = field_id(f"{block.prefix}.beneficiaries")
            elif block is not None:
                block.errors.append(error.message)
                anchor = field_id(block.prefix)
        form.top_errors.append((error.message, anchor))
