"""The policy schedule (保单明细): the frozen copy of what was signed and issued.

Stored on `Policy.schedule` as JSON text in an encrypted column (it holds ID numbers). It is
written once at issuance and read by the e-policy, the customer's pages and the insurer payload,
so those never depend on catalog rows that may change later.

    {"version": 1, "number", "application_number", "issued_at", "effective_at", "expires_at",
     "period", "term": {"code", "label", "kind", "value"}, "cooling_off_days", "cooling_off_until",
     "insurer": {"code", "name", "short_name", "hotline"},
     "product": {"code", "name", "line", "line_label", "version"}, "plan": {"code", "name"},
     "holder": {"name", "id_number", "birth_date", "sex", "phone", "email"},
     "insured": {"name", "id_number", "birth_date", "sex", "relation", "relation_label",
                 "occupation", "occupation_class"},
     "beneficiary_mode": "legal" | "named", "beneficiaries": [{"name", "id_number", "relation",
     "relation_label", "order", "share_percent"}],
     "subject": [{"code", "label", "value"}],
     "coverages": [{"code", "name", "description", "sum_insured", "deductible",
                    "reimbursement_ratio", "waiting_period_days", "optional"}],
     "sum_insured", "death_benefit",
     "premium": {"base", "loading_percent", "premium", "payment_mode", "payment_mode_label",
                 and for instalment modes "first_instalment", "instalments": [{"number",
                 "due_on", "amount"}] (billing's plan of the first policy year)},
     "exclusions": [str], "underwriting_outcome",
     "key_clauses": [{"document", "code", "kind", "title", "text"}],
     "documents": [{"kind", "title", "content_sha256"}],
     "value_added_services": [...], "hotline"}

Money is written as strings, dates and times as ISO 8601.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from huibao.billing import rules as billing_rules
from huibao.catalog.models import Coverage, Document, LineOfBusiness, PaymentMode
from huibao.policy.issuance import IssuanceRequest, ItemToIssue
from huibao.policy.rules import Term, period_text
from huibao.policy.states import BeneficiaryMode, Relation

SCHEDULE_VERSION = 1
SEXES = {"M": "男", "F": "女"}


def _iso(value: datetime.datetime | datetime.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _plain(value: Decimal) -> str:
    """1.000000 → "1", 30.00 → "30", 0.85 → "0.85" (never exponent notation)."""
    return format(value.normalize(), "f")


def instalment_plan(premium: Decimal, payment_mode: str, start: datetime.date) -> dict[str, Any]:
    """The instalments of the first policy year, for a mode paid in several (monthly); nothing
    for single or annual payment (one payment, the premium)."""
    if billing_rules.instalment_count(payment_mode) == 1:
        return {}
    planned = billing_rules.plan(premium, payment_mode, start)
    return {
        "first_instalment": str(planned[0].amount),
        "instalments": [
            {"number": p.number, "due_on": p.due_on.isoformat(), "amount": str(p.amount)} for p in planned
        ],
    }


def _label(choices: Any, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def coverage_rows(coverages: Sequence[tuple[Coverage, Decimal]]) -> list[dict[str, Any]]:
    return [
        {
            "code": c.code,
            "name": c.name,
            "description": c.description,
            "sum_insured": str(amount),
            "deductible": str(c.deductible),
            "reimbursement_ratio": _plain(c.reimbursement_ratio),
            "waiting_period_days": c.waiting_period_days,
            "optional": c.is_optional,
        }
        for c, amount in coverages
    ]


def build_schedule(
    *,
    number: str,
    request: IssuanceRequest,
    item: ItemToIssue,
    term: Term,
    premium_years: int = 1,
    year_premiums: Sequence[Decimal] = (),
    issued_at: datetime.datetime,
    effective_at: datetime.datetime,
    expires_at: datetime.datetime | None,
    cooling_off_until: datetime.date | None,
    coverages: Sequence[tuple[Coverage, Decimal]],
    death_benefit: Decimal,
    documents: Sequence[Document],
) -> dict[str, Any]:
    version = item.product_version
    product = version.product
    insurer = product.insurer
    holder_data = request.holder
    holder = {
        "name": holder_data.name,
        "id_number": holder_data.id_number,
        "birth_date": _iso(holder_data.birth_date),
        "sex": holder_data.sex,
        "phone": holder_data.phone,
        "email": holder_data.email,
    }
    insured = item.insured
    if insured is not None:
        insured_part: dict[str, Any] = {
            "name": insured.name,
            "id_number": insured.id_number,
            "birth_date": _iso(insured.birth_date),
            "sex": insured.sex,
            "relation": insured.relation,
            "relation_label": _label(Relation, insured.relation),
            "occupation": insured.occupation,
            "occupation_class": insured.occupation_class,
        }
        beneficiaries = [
            {
                "name": b.name,
                "id_number": b.id_number,
                "relation": b.relation,
                "relation_label": _label(Relation, b.relation),
                "order": b.order,
                "share_percent": str(b.share_percent),
            }
            for b in item.beneficiaries
        ]
    else:  # property lines without a separate insured person: the applicant is the insured
        insured_part = {**holder, "relation": Relation.SELF, "relation_label": str(Relation.SELF.label)}
        insured_part.pop("phone")
        insured_part.pop("email")
        beneficiaries = []
    named = request.named_beneficiaries and bool(beneficiaries)
    subject = [{"code": f.code, "label": f.label, "value": f.value} for f in item.subject]
    payment_mode = item.payment_mode or "single"
    key_clauses = [
        {
            "document": doc.title,
            "code": str(clause.get("code", "")),
            "kind": str(clause.get("kind", "")),
            "title": str(clause.get("title", "")),
            "text": str(clause.get("text", "")),
        }
        for doc in documents
        for clause in (doc.key_clauses or [])
        if isinstance(clause, dict)
    ]
    return {
        "version": SCHEDULE_VERSION,
        "number": number,
        "application_number": request.application_number,
        "renewed_from": request.renewed_from_number,
        "issued_at": _iso(issued_at),
        "effective_at": _iso(effective_at),
        "expires_at": _iso(expires_at),
        "period": period_text(effective_at, expires_at),
        "term": {"code": term.code, "label": term.label, "kind": term.kind, "value": term.value},
        "cooling_off_days": version.cooling_off_days,
        "cooling_off_until": _iso(cooling_off_until),
        "insurer": {
            "code": insurer.code,
            "name": insurer.name,
            "short_name": insurer.short_name,
            "hotline": insurer.hotline,
        },
        "product": {
            "code": product.code,
            "name": product.name,
            "line": product.line,
            "line_label": _label(LineOfBusiness, product.line),
            "version": version.number,
        },
        "plan": {"code": item.plan.code, "name": item.plan.name},
        "holder": holder,
        "insured": insured_part,
        "beneficiary_mode": BeneficiaryMode.NAMED if named else BeneficiaryMode.LEGAL,
        "beneficiaries": beneficiaries if named else [],
        "subject": subject,
        "coverages": coverage_rows(coverages),
        "sum_insured": str(item.sum_insured) if item.sum_insured is not None else None,
        "death_benefit": str(death_benefit),
        "premium": {
            "base": str(item.base_premium),
            "loading_percent": _plain(item.loading_percent),
            "premium": str(item.premium),
            "payment_mode": payment_mode,
            "payment_mode_label": _label(PaymentMode, payment_mode),
            # 缴费期间 in policy years (1 with a single premium or a one-year cover)
            "premium_years": 1 if payment_mode == "single" else premium_years,
            # the premium of each policy year when it steps up by year (year 1 first); absent
            # for a level premium
            **({"year_premiums": [str(p) for p in year_premiums]} if year_premiums else {}),
            **instalment_plan(item.premium, payment_mode, effective_at.date()),
        },
        "exclusions": [str(e) for e in item.exclusions],
        "underwriting_outcome": item.underwriting_outcome,
        "key_clauses": key_clauses,
        "documents": [
            {"kind": d.kind, "title": d.title, "content_sha256": d.content_sha256} for d in documents
        ],
        "value_added_services": list(version.value_added_services or []),
        "hotline": insurer.hotline,
    }


def premium_years(schedule: dict[str, Any]) -> int:
    """The premium term (缴费期间, policy years) a schedule states; 1 in schedules made before it
    was recorded."""
    try:
        return max(1, int(schedule.get("premium", {}).get("premium_years") or 1))
    except (TypeError, ValueError):
        return 1


def year_premiums(schedule: dict[str, Any]) -> list[Decimal]:
    """The premium of each policy year a schedule states when it steps up by year ([]: level)."""
    raw = schedule.get("premium", {}).get("year_premiums") or []
    return [Decimal(str(p)) for p in raw]


def premium_term_text(schedule: dict[str, Any]) -> str:
    """缴费期间 as the e-policy states it: 趸交 for a single premium, else N年交 (一年期 for one year)."""
    premium = schedule.get("premium", {})
    if premium.get("payment_mode", "single") == "single":
        return "趸交"
    years = premium_years(schedule)
    return f"{years}年交" if years > 1 else "1年"


def dumps(schedule: dict[str, Any]) -> str:
    return json.dumps(schedule, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def loads(text: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(text or "{}")
    return data
