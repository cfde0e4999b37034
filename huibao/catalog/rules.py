"""Pure functions of the catalog: no ORM, no I/O."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from huibao.core.errors import FieldError


def document_sha256(title: str, body: str, key_clauses: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 of what the customer reads: title, body and key clauses in canonical JSON."""
    canonical = json.dumps(
        {"title": title, "body": body, "key_clauses": list(key_clauses)},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- health questions (健康告知) ----------------------------------------------------------------
#
# A product's questions are `eligibility.health_questions`: [{"code", "text", "knock_out_answer",
# "sex"?}]. A question with "sex" ("F" or "M") is asked only of an insured person of that sex
# (目前是否怀孕 only of women): not shown, not required, and an answer given anyway not kept.


def asked_of(only_sex: str, sex: str | None) -> bool:
    """Whether a question for `only_sex` ("" = everyone, "F", "M") is asked of an insured person
    of `sex` ("M"/"F"; None = not known yet: asked until the ID number tells)."""
    return not only_sex or sex is None or only_sex == sex


def questions_for(questions: Iterable[Mapping[str, Any]], sex: str | None) -> list[Mapping[str, Any]]:
    """The questions asked of an insured person of `sex`, in the product's order."""
    return [q for q in questions if asked_of(str(q.get("sex") or ""), sex)]


# --- embedded sale (嵌入式销售) -----------------------------------------------------------------
#
# A scenario product (场景险) may be sold inside a partner's checkout in one call
# (`huibao.embedded`). Its version says so under `application_rules.embedded_sale`:
#     {"allowed": true, "max_premium": "5.00", "consent_max_age_minutes": 30}
# Only scenario products may: the lines below, and accident products sold for a ride (网约车).

SCENARIO_LINES = frozenset({"return_shipping", "phone_screen", "flight_delay", "account_security"})
RIDE_SCENARIOS = frozenset({"ride_hailing"})
DEFAULT_CONSENT_MAX_AGE_MINUTES = 30
MAX_CONSENT_MAX_AGE_MINUTES = 24 * 60


@dataclass(frozen=True, slots=True)
class EmbeddedSaleTerms:
    """What a version allows of an embedded sale: the highest premium per policy, and how old
    the buyer's consent may be when the channel sends the sale."""

    max_premium: Decimal
    consent_max_age_minutes: int = DEFAULT_CONSENT_MAX_AGE_MINUTES


def is_scenario_product(line: str, scenarios: Iterable[str] = ()) -> bool:
    """A scenario product (场景险): one of `SCENARIO_LINES`, or a ride-sharing accident product."""
    return line in SCENARIO_LINES or (line == "accident" and bool(RIDE_SCENARIOS & set(scenarios)))


def embedded_sale_terms(application_rules: Mapping[str, Any] | None) -> EmbeddedSaleTerms | None:
    """The version's embedded-sale terms; None when it does not allow embedded sale (or its
    document is not valid: `embedded_sale_problems` says why)."""
    raw = (application_rules or {}).get("embedded_sale")
    if not isinstance(raw, Mapping) or raw.get("allowed") is not True:
        return None
    try:
        max_premium = Decimal(str(raw.get("max_premium")))
    except InvalidOperation:
        return None
    minutes = raw.get("consent_max_age_minutes", DEFAULT_CONSENT_MAX_AGE_MINUTES)
    if not max_premium.is_finite() or max_premium <= 0 or not isinstance(minutes, int):
        return None
    return EmbeddedSaleTerms(
        max_premium=max_premium.quantize(Decimal("0.01")), consent_max_age_minutes=minutes
    )


def embedded_sale_problems(
    line: str, scenarios: Iterable[str], application_rules: Mapping[str, Any] | None
) -> list[FieldError]:
    """Problems of a version's `application_rules.embedded_sale` for a product of `line` and
    `scenarios` (fields named under `application_rules.`)."""
    raw = (application_rules or {}).get("embedded_sale")
    if raw is None:
        return []
    field = "application_rules.embedded_sale"
    if not isinstance(raw, Mapping):
        return [FieldError(field, "invalid", "embedded_sale 须为对象")]
    if raw.get("allowed") is not True:
        return []
    errors: list[FieldError] = []
    if not is_scenario_product(line, scenarios):
        errors.append(
            FieldError(
                f"{field}.allowed",
                "not_scenario_product",
                "只有场景险（退货运费险、手机碎屏险、航班延误险、账户安全险、网约车意外险）可嵌入销售",
            )
        )
    try:
        max_premium = Decimal(str(raw.get("max_premium")))
        valid = max_premium.is_finite() and max_premium > 0
    except InvalidOperation:
        valid = False
    if not valid:
        errors.append(FieldError(f"{field}.max_premium", "invalid", "max_premium 须为大于0的金额"))
    minutes = raw.get("consent_max_age_minutes", DEFAULT_CONSENT_MAX_AGE_MINUTES)
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int)
        or not 1 <= minutes <= MAX_CONSENT_MAX_AGE_MINUTES
    ):
        errors.append(
            FieldError(
                f"{field}.consent_max_age_minutes",
                "invalid",
                f"consent_max_age_minutes 须为1到{MAX_CONSENT_MAX_AGE_MINUTES}之间的整数",
            )
        )
    return errors
