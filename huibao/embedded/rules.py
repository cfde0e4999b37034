"""Pure rules of an embedded sale: its shape, the documents shown, the consent time, the
scenario fields, the start of cover, the evidence and its digest. No Django, no I/O.

Every check answers field errors (the project's vocabulary: field, code, message) so that each
sale of a call is judged on its own.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from huibao.core.errors import FieldError

MAX_SALES_PER_CALL = 1000
CHUNK_SIZE = 1000
MAX_BATCH_ROWS = 200_000
# A channel's hash of the buyer's identity (SHA-256, lowercase hex): never the ID number itself.
IDENTITY_REF = re.compile(r"^[0-9a-f]{64}$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
ORDER_REF = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.:-]{0,63}$")
PAGE_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.:+-]{0,63}$")
NAME_MAX = 30
# A consent stamped a little ahead of our clock is the channel's clock, not the future.
CLOCK_SKEW = datetime.timedelta(seconds=60)
EVIDENCE_VERSION = 1


@dataclass(frozen=True, slots=True)
class ShownDocument:
    """A disclosure document the channel's page showed: the catalog document's id and the
    SHA-256 of its content (`Document.content_sha256`)."""

    id: int
    sha256: str


@dataclass(frozen=True, slots=True)
class EmbeddedSale:
    """One sale at a channel's checkout, as the channel reports it."""

    product_code: str
    plan_code: str
    identity_ref: str
    order_ref: str
    documents: tuple[ShownDocument, ...]
    consent_at: datetime.datetime
    page_version: str
    scenario: Mapping[str, Any] = field(default_factory=dict)
    insured_name: str = ""


@dataclass(frozen=True, slots=True)
class EmbeddedOutcome:
    """What became of one sale (`index` in the call): accepted with its policy (`replayed`
    when its order reference already had one: that policy, never a second), or refused with
    its reasons."""

    index: int
    order_ref: str
    accepted: bool
    policy_number: str = ""
    verification_code: str = ""
    premium: Decimal | None = None
    replayed: bool = False
    errors: tuple[FieldError, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "order_ref": self.order_ref,
            "status": "accepted" if self.accepted else "refused",
            "policy_number": self.policy_number,
            "verification_code": self.verification_code,
            "premium": str(self.premium) if self.premium is not None else None,
            "replayed": self.replayed,
            "errors": [e.as_dict() for e in self.errors],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmbeddedOutcome:
        premium = data.get("premium")
        return cls(
            index=int(data["index"]),
            order_ref=str(data.get("order_ref", "")),
            accepted=data.get("status") == "accepted",
            policy_number=str(data.get("policy_number", "")),
            verification_code=str(data.get("verification_code", "")),
            premium=Decimal(premium) if premium is not None else None,
            replayed=bool(data.get("replayed")),
            errors=tuple(FieldError(**e) for e in data.get("errors", [])),
        )


def refused(index: int, sale: EmbeddedSale | None, errors: Iterable[FieldError]) -> EmbeddedOutcome:
    return EmbeddedOutcome(
        index=index, order_ref=sale.order_ref if sale else "", accepted=False, errors=tuple(errors)
    )


def shape_errors(sale: EmbeddedSale) -> list[FieldError]:
    """The sale's own fields, before any product is read."""
    errors: list[FieldError] = []
    if not IDENTITY_REF.match(sale.identity_ref or ""):
        errors.append(
            FieldError(
                "identity_ref", "invalid_format", "身份标识须为证件号码的SHA-256摘要（64位小写十六进制）"
            )
        )
    if not ORDER_REF.match(sale.order_ref or ""):
        errors.append(FieldError("order_ref", "invalid_format", "订单号须为1至64位字母、数字或 _ . : -"))
    if not PAGE_VERSION.match(sale.page_version or ""):
        errors.append(
            FieldError("page_version", "invalid_format", "页面版本须为1至64位字母、数字或 _ . : + -")
        )
    if len(sale.insured_name or "") > NAME_MAX:
        errors.append(FieldError("insured_name", "too_long", f"被保险人姓名最多{NAME_MAX}字"))
    if not sale.documents:
        errors.append(FieldError("documents", "required", "请列出向投保人展示的条款与告知文件"))
    for i, doc in enumerate(sale.documents):
        if not SHA256_HEX.match(doc.sha256 or ""):
            errors.append(
                FieldError(f"documents[{i}].sha256", "invalid_format", "文件摘要须为64位小写十六进制SHA-256")
            )
    if sale.consent_at.tzinfo is None:
        errors.append(FieldError("consent_at", "invalid", "同意时间须为带时区的 ISO 8601 时间"))
    return errors


def consent_errors(
    consent_at: datetime.datetime, now: datetime.datetime, max_age_minutes: int
) -> list[FieldError]:
    """The buyer's consent is not in the future and not older than the product allows."""
    if consent_at.tzinfo is None:
        return []  # reported by `shape_errors`
    if consent_at > now + CLOCK_SKEW:
        return [FieldError("consent_at", "in_future", "投保人同意时间晚于当前时间")]
    if now - consent_at > datetime.timedelta(minutes=max_age_minutes):
        return [
            FieldError(
                "consent_at", "too_old", f"投保人同意时间已超过{max_age_minutes}分钟，请重新确认后投保"
            )
        ]
    return []


def document_errors(shown: Sequence[ShownDocument], current: Mapping[int, str]) -> list[FieldError]:
    """The documents shown are exactly the current published ones of the product's version
    (`current`: document id → content SHA-256): each shown id is current and its hash matches,
    and every current document was shown."""
    errors: list[FieldError] = []
    seen: set[int] = set()
    for i, doc in enumerate(shown):
        expected = current.get(doc.id)
        if expected is None:
            errors.append(
                FieldError(f"documents[{i}].id", "not_current", f"文件 {doc.id} 不是该产品现行发布版本的文件")
            )
        elif doc.sha256 != expected:
            errors.append(
                FieldError(
                    f"documents[{i}].sha256", "hash_mismatch", f"文件 {doc.id} 的摘要与现行发布版本不符"
                )
            )
        seen.add(doc.id)
    for doc_id in sorted(set(current) - seen):
        errors.append(FieldError("documents", "missing_document", f"未向投保人展示文件 {doc_id}"))
    return errors


@dataclass(frozen=True, slots=True)
class SubjectField:
    """A field of the insured subject the product asks (order number, flight number, IMEI…)."""

    code: str
    label: str
    pattern: str = ""
    required: bool = False


def subject_fields(application_rules: Mapping[str, Any] | None) -> tuple[SubjectField, ...]:
    return tuple(
        SubjectField(
            code=str(f["code"]),
            label=str(f.get("label", f["code"])),
            pattern=str(f.get("pattern", "")),
            required=bool(f.get("required")),
        )
        for f in (application_rules or {}).get("subject", [])
        if isinstance(f, Mapping) and f.get("code")
    )


# Scenario fields that are neither a pricing input nor a subject field but still say when
# cover is for: the flight's date.
COVER_DATE_FIELD = "cover_date"


def split_scenario(
    scenario: Mapping[str, Any], subject: Sequence[SubjectField], pricing_inputs: Iterable[str]
) -> tuple[dict[str, Any], dict[str, str], list[FieldError]]:
    """The scenario fields as pricing inputs and subject values (by the product's spec and
    application rules), and the errors: unknown fields, a required subject field missing, a
    value not matching its pattern."""
    inputs_known = set(pricing_inputs)
    by_code = {f.code: f for f in subject}
    inputs: dict[str, Any] = {}
    values: dict[str, str] = {}
    errors: list[FieldError] = []
    for name, value in scenario.items():
        if name in by_code:
            values[name] = str(value).strip()
        elif name in inputs_known:
            inputs[name] = value
        elif name != COVER_DATE_FIELD:
            errors.append(FieldError(f"scenario.{name}", "unknown_field", f"产品不接受场景字段“{name}”"))
    for f in subject:
        value = values.get(f.code, "")
        if not value:
            if f.required:
                errors.append(FieldError(f"scenario.{f.code}", "required", f"请填写{f.label}"))
            continue
        if f.pattern and re.fullmatch(f.pattern, value) is None:
            errors.append(FieldError(f"scenario.{f.code}", "invalid_format", f"{f.label}格式不正确"))
    return inputs, values, errors


def cover_start(
    application_rules: Mapping[str, Any] | None,
    now: datetime.datetime,
    cover_date: datetime.date | None,
) -> datetime.datetime:
    """When cover starts for a sale at `now` (aware, local): on `cover_date` (a flight's day:
    its midnight, or now when it is today), else by the product's effective rule — same day:
    now; next day: tomorrow's midnight; N days after payment: that day's midnight (never
    before now)."""
    if cover_date is not None:
        start = now.replace(year=cover_date.year, month=cover_date.month, day=cover_date.day)
        start = start.replace(hour=0, minute=0, second=0, microsecond=0)
        return max(start, now)
    effective = (application_rules or {}).get("effective") or {}
    rule = effective.get("rule", "next_day") if isinstance(effective, Mapping) else "next_day"
    if rule == "same_day":
        return now
    days = 1 if rule == "next_day" else max(int(effective.get("days", 0) or 0), 0)
    start = (now + datetime.timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(start, now)


def cover_date_of(
    scenario: Mapping[str, Any], today: datetime.date
) -> tuple[datetime.date | None, list[FieldError]]:
    raw = scenario.get(COVER_DATE_FIELD)
    if raw in (None, ""):
        return None, []
    try:
        day = datetime.date.fromisoformat(str(raw))
    except ValueError:
        return None, [FieldError(f"scenario.{COVER_DATE_FIELD}", "invalid", "保障日期格式应为 YYYY-MM-DD")]
    if day < today:
        return None, [FieldError(f"scenario.{COVER_DATE_FIELD}", "in_past", "保障日期不能早于今天")]
    if day > today + datetime.timedelta(days=366):
        return None, [FieldError(f"scenario.{COVER_DATE_FIELD}", "too_far", "保障日期不能晚于一年后")]
    return day, []


def premium_errors(premium: Decimal, max_premium: Decimal) -> list[FieldError]:
    if premium > max_premium:
        return [
            FieldError(
                "premium", "above_max_premium", f"保费{premium}元超过该产品嵌入式销售上限{max_premium}元"
            )
        ]
    return []


# --- evidence ----------------------------------------------------------------------------------


def canonical_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def evidence_document(
    *,
    channel_code: str,
    sale: EmbeddedSale,
    policy_number: str,
    product_version: int,
    premium: Decimal,
    inputs: Mapping[str, Any],
    subject: Mapping[str, str],
    issued_at: datetime.datetime,
) -> dict[str, Any]:
    """What a replay shows of the sale: who sold it, what the page showed and when the buyer
    agreed, what was priced and issued. The insured's name is not in it (personal data: it is
    on the policy); the identity is the channel's hash only."""
    return {
        "v": EVIDENCE_VERSION,
        "channel": channel_code,
        "order_ref": sale.order_ref,
        "policy_number": policy_number,
        "product": sale.product_code,
        "product_version": product_version,
        "plan": sale.plan_code,
        "identity_ref": sale.identity_ref,
        "documents": [{"id": d.id, "sha256": d.sha256} for d in sale.documents],
        "consent_at": sale.consent_at.astimezone(datetime.UTC).isoformat(),
        "page_version": sale.page_version,
        "inputs": {k: str(v) for k, v in sorted(inputs.items())},
        "subject": dict(sorted(subject.items())),
        "premium": str(premium),
        "issued_at": issued_at.astimezone(datetime.UTC).isoformat(),
    }


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def premium_total(premiums: Iterable[Decimal]) -> Decimal:
    return sum(premiums, Decimal("0.00")).quantize(Decimal("0.01"))
