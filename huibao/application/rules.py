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
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from huibao.application.states import Relation, SignatureMethod
from huibao.core.errors import FieldError

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
