"""What a product version allows after the sale (保全), read from its `servicing` document.

Pure: no ORM, no I/O. `servicing_rules(document)` turns the JSON of `ProductVersion.servicing`
(schema: `catalog/schema/product.schema.json`, `$defs/servicing`) into frozen values with the
defaults below filled in, so that the policy's servicing code never reads raw JSON.

Defaults, for a version that states nothing (a product imported before the field existed):

- endorsements: contact details only, no staff approval, confirmed by SMS code;
- cancellation: the whole premium back in the cooling-off period, no fee; after it, the unearned
  premium pro rata less 25 % of it (the market's 未满期净保险费: the premium net of the insurer's
  expenses, commonly 25 %), no fixed fee;
- grace period 30 days (60 days for long-term life and health, which say so in their document);
- reinstatement within two years, health questions asked again;
- renewal offers 30 days before expiry; automatic renewal offered where the product is renewable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any


class EndorsementKind(StrEnum):
    """The changes (批改) a customer may ask for online."""

    CONTACT = "contact"  # phone, e-mail, postal address
    BENEFICIARIES = "beneficiaries"  # named beneficiaries, their order and shares
    INSURED_CORRECTION = "insured_correction"  # a misspelt name, a wrong ID or birth date
    PLAN = "plan"  # another plan of the same version
    SUM_INSURED = "sum_insured"  # a higher or lower sum insured within the plan's range


class RefundMethod(StrEnum):
    """How the refund of a cancellation after the cooling-off period is computed."""

    PRO_RATA = "pro_rata"  # unearned premium by days, less fee_rate of it and fee_fixed
    SHORT_RATE = "short_rate"  # premium less the short-rate table's earned share, less fee_fixed
    CASH_VALUE = "cash_value"  # the cash value of the policy year (long-term life)
    NONE = "none"  # no cancellation after the cooling-off period (e.g. the compulsory motor cover)


class Confirmation(StrEnum):
    """How the customer confirms a change or a cancellation."""

    SMS = "sms"  # a one-time code to the holder's phone
    SAME_AS_APPLICATION = "same_as_application"  # the signature mode of the application rules


@dataclass(frozen=True, slots=True)
class ShortRateStep:
    """In force up to `months` months (inclusive): `earned` of the premium is kept."""

    months: int
    earned: Decimal


@dataclass(frozen=True, slots=True)
class CashValueStep:
    """At the end of policy year `year`, the cash value is `rate` × the premiums paid."""

    year: int
    rate: Decimal


# The short-rate table (短期费率表) of the market's property and motor clauses.
STANDARD_SHORT_RATE: tuple[ShortRateStep, ...] = tuple(
    ShortRateStep(months, Decimal(earned))
    for months, earned in (
        (1, "0.10"),
        (2, "0.20"),
        (3, "0.30"),
        (4, "0.40"),
        (5, "0.50"),
        (6, "0.60"),
        (7, "0.70"),
        (8, "0.80"),
        (9, "0.85"),
        (10, "0.90"),
        (11, "0.95"),
        (12, "1.00"),
    )
)


@dataclass(frozen=True, slots=True)
class CancellationRule:
    cooling_off_fee: Decimal = Decimal("0.00")
    method: RefundMethod = RefundMethod.PRO_RATA
    # Share of the unearned premium kept by the insurer (pro rata only).
    fee_rate: Decimal = Decimal("0.25")
    # A fixed fee taken from any refund after the cooling-off period (never below zero).
    fee_fixed: Decimal = Decimal("0.00")
    short_rate: tuple[ShortRateStep, ...] = STANDARD_SHORT_RATE
    cash_values: tuple[CashValueStep, ...] = ()
    # Rate of the premiums paid for policy years past the table's last line.
    cash_value_after: Decimal = Decimal("0")
    # Why no cancellation is possible after cooling-off (shown to the customer), method NONE.
    refusal: str = ""


@dataclass(frozen=True, slots=True)
class EndorsementRules:
    allowed: frozenset[EndorsementKind] = frozenset({EndorsementKind.CONTACT})
    needs_approval: frozenset[EndorsementKind] = frozenset()
    confirmation: Confirmation = Confirmation.SMS
    # Sum-insured changes: which way (long-term life commonly allows a decrease, 减保, only).
    sum_insured_increase: bool = False
    sum_insured_decrease: bool = False


@dataclass(frozen=True, slots=True)
class ReinstatementRule:
    years: int = 2
    health_questions: bool = True


@dataclass(frozen=True, slots=True)
class ServicingRules:
    endorsements: EndorsementRules = field(default_factory=EndorsementRules)
    cancellation: CancellationRule = field(default_factory=CancellationRule)
    grace_days: int = 30
    reinstatement: ReinstatementRule = field(default_factory=ReinstatementRule)
    renewal_offer_days: int = 30
    auto_renewal: bool = True

    def allows(self, kind: EndorsementKind) -> bool:
        return kind in self.endorsements.allowed

    def needs_approval(self, kind: EndorsementKind) -> bool:
        return kind in self.endorsements.needs_approval


def _decimal(value: Any, default: Decimal) -> Decimal:
    return default if value is None else Decimal(str(value))


def _kinds(values: Sequence[str] | None, default: frozenset[EndorsementKind]) -> frozenset[EndorsementKind]:
    return default if values is None else frozenset(EndorsementKind(v) for v in values)


def servicing_rules(document: Mapping[str, Any] | None) -> ServicingRules:
    """The rules of a version's `servicing` document (already valid against the product schema)."""
    doc: Mapping[str, Any] = document or {}
    end: Mapping[str, Any] = doc.get("endorsements") or {}
    can: Mapping[str, Any] = doc.get("cancellation") or {}
    rein: Mapping[str, Any] = doc.get("reinstatement") or {}
    base_end = EndorsementRules()
    base_can = CancellationRule()
    sum_insured: Mapping[str, Any] = end.get("sum_insured") or {}
    endorsements = EndorsementRules(
        allowed=_kinds(end.get("allowed"), base_end.allowed),
        needs_approval=_kinds(end.get("needs_approval"), base_end.needs_approval),
        confirmation=Confirmation(end.get("confirmation", base_end.confirmation)),
        sum_insured_increase=bool(sum_insured.get("increase", False)),
        sum_insured_decrease=bool(sum_insured.get("decrease", False)),
    )
    short_rate = can.get("short_rate_table")
    cancellation = CancellationRule(
        cooling_off_fee=_decimal(can.get("cooling_off_fee"), base_can.cooling_off_fee),
        method=RefundMethod(can.get("method", base_can.method)),
        fee_rate=_decimal(can.get("fee_rate"), base_can.fee_rate),
        fee_fixed=_decimal(can.get("fee_fixed"), base_can.fee_fixed),
        short_rate=(
            base_can.short_rate
            if short_rate is None
            else tuple(ShortRateStep(int(s["months"]), Decimal(str(s["earned"]))) for s in short_rate)
        ),
        cash_values=tuple(
            CashValueStep(int(s["year"]), Decimal(str(s["rate"]))) for s in can.get("cash_values") or ()
        ),
        cash_value_after=_decimal(can.get("cash_value_after"), base_can.cash_value_after),
        refusal=str(can.get("refusal", "")),
    )
    base_rein = ReinstatementRule()
    reinstatement = ReinstatementRule(
        years=int(rein.get("years", base_rein.years)),
        health_questions=bool(rein.get("health_questions", base_rein.health_questions)),
    )
    base = ServicingRules()
    return ServicingRules(
        endorsements=endorsements,
        cancellation=cancellation,
        grace_days=int(doc.get("grace_days", base.grace_days)),
        reinstatement=reinstatement,
        renewal_offer_days=int(doc.get("renewal_offer_days", base.renewal_offer_days)),
        auto_renewal=bool(doc.get("auto_renewal", base.auto_renewal)),
    )
