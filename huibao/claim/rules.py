"""The benefit rules: what a coverage pays for a proven loss, explained line by line.

Pure: no Django, no ORM, no I/O (import-linter's `pure-rules` and `rules-no-io` hold it). The
ledger of what a policy year has already used (`claim/limits.py`) hands `calculate_benefit` the
`UsageSoFar` of the year, locked, and adds the returned `usage_added` when it records the benefit.
Eligibility (in force, waiting period, claim type) is not decided here: it is the claim app's.

Money: amounts enter in fen (at most two places; `BenefitInputError` otherwise) and are rounded to
the fen once, by `core.money.to_fen` in `_share`, the one step that multiplies by a ratio (the
reimbursement ratio, the disability percentage). Every other step adds, subtracts or caps fen
amounts, so every line and the payable stay in fen without another rounding.

Each `BenefitLine` carries the running amount after its step (the last line is the payable) and a
note saying what the step took, in plain Chinese, shown as is to the customer and the adjuster.
See docs/claim-benefits.md for the rules with a worked example per kind.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from huibao.catalog.claim_terms import (
    BenefitKind,
    CoverageTerms,
    DeductibleBasis,
    ExclusionTerm,
)
from huibao.core.errors import FieldError, ValidationFailed
from huibao.core.money import FEN, format_cny, to_fen

ZERO = Decimal("0")

# Chinese names of the expense categories item limits are stated for; others are shown as given.
CATEGORY_LABELS: Mapping[str, str] = MappingProxyType(
    {
        "inpatient": "住院医疗费用",
        "outpatient": "门急诊医疗费用",
        "pre_post_outpatient": "住院前后门急诊费用",
        "drugs": "药品费用",
        "special_outpatient": "特殊门诊费用",
        "surgery": "手术费用",
        "vet": "宠物诊疗费用",
        "repair": "维修费用",
        "property": "财产损失",
        "": "申请费用",
    }
)

# 《人身保险伤残评定标准》(JR/T 0083-2013): grade 1 pays 100 % of the sum insured, each grade
# below 10 % less, grade 10 pays 10 %.
DISABILITY_SCALE: Mapping[int, Decimal] = MappingProxyType(
    {grade: Decimal(11 - grade) / Decimal(10) for grade in range(1, 11)}
)
DEATH_SHARE = Decimal("1")


class BenefitInputError(ValidationFailed, ValueError):
    """A loss or usage the rules cannot compute with (negative, more than two places, grade
    outside 1–10, an incident before the policy): the caller's validation missed it. It names
    the field in the API's one error shape (422), in Chinese."""

    def __init__(self, field_name: str, code: str, message: str) -> None:
        super().__init__(message, errors=[FieldError(field=field_name, code=code, message=message)])


@dataclass(frozen=True, slots=True)
class Expense:
    """One invoice line of a reimbursement claim."""

    category: str  # e.g. "inpatient", "outpatient", "drugs"; matched against CoverageTerms.item_limits
    amount: Decimal
    covered: bool = True  # False: excluded items (自费 outside the list), shown as not paid


@dataclass(frozen=True, slots=True)
class Loss:
    """What the claim proves, per coverage."""

    amount_claimed: Decimal
    expenses: tuple[Expense, ...] = ()
    social_insurance_settled: bool = True
    days: int = 0  # hospital days (DAILY)
    delay_hours: Decimal | None = None  # travel delay
    grade: int | None = None  # disability grade 1–10 (SCALE); None: death
    cause: str = ""  # reported cause, matched against exclusions


@dataclass(frozen=True, slots=True)
class UsageSoFar:
    """What earlier claims of the same policy year already used (or, as `Benefit.usage_added`,
    what one claim adds). `item_paid` is a plain dict (picklable), never mutated here."""

    paid: Decimal = ZERO  # paid under this coverage this policy year
    deductible_used: Decimal = ZERO  # PER_YEAR deductible already absorbed
    item_paid: Mapping[str, Decimal] = field(default_factory=dict)  # per item-limit category
    days_paid: int = 0

    def plus(self, other: UsageSoFar) -> UsageSoFar:
        """The usage after `other` is added (a claim recorded)."""
        items = dict(self.item_paid)
        for category, amount in other.item_paid.items():
            items[category] = items.get(category, ZERO) + amount
        return UsageSoFar(
            paid=self.paid + other.paid,
            deductible_used=self.deductible_used + other.deductible_used,
            item_paid=items,
            days_paid=self.days_paid + other.days_paid,
        )

    def minus(self, other: UsageSoFar) -> UsageSoFar:
        """The usage after `other` is taken back (a claim released); never below zero."""
        items = dict(self.item_paid)
        for category, amount in other.item_paid.items():
            items[category] = max(ZERO, items.get(category, ZERO) - amount)
        return UsageSoFar(
            paid=max(ZERO, self.paid - other.paid),
            deductible_used=max(ZERO, self.deductible_used - other.deductible_used),
            item_paid={k: v for k, v in items.items() if v},
            days_paid=max(0, self.days_paid - other.days_paid),
        )


@dataclass(frozen=True, slots=True)
class BenefitLine:
    label: str  # Chinese, shown as is
    amount: Decimal  # the running amount after this step
    note: str = ""


@dataclass(frozen=True, slots=True)
class Benefit:
    payable: Decimal
    lines: tuple[BenefitLine, ...]
    deductible_applied: Decimal
    usage_added: UsageSoFar  # what to add to the ledger when the benefit is paid
    refusal: str = ""  # non-empty: nothing payable, and why (e.g. the exclusion's text)
    clause: str = ""  # the clause quoted for a refusal or a cap


# --- stored form ----------------------------------------------------------------------------------


def usage_as_json(usage: UsageSoFar) -> dict[str, Any]:
    return {
        "paid": str(usage.paid),
        "deductible_used": str(usage.deductible_used),
        "item_paid": {k: str(v) for k, v in usage.item_paid.items()},
        "days_paid": usage.days_paid,
    }


def usage_from_json(data: Mapping[str, Any]) -> UsageSoFar:
    return UsageSoFar(
        paid=Decimal(data.get("paid", "0")),
        deductible_used=Decimal(data.get("deductible_used", "0")),
        item_paid={k: Decimal(v) for k, v in data.get("item_paid", {}).items()},
        days_paid=int(data.get("days_paid", 0)),
    )


def benefit_as_json(benefit: Benefit) -> dict[str, Any]:
    """A benefit as JSON (amounts as strings), read back exactly by `benefit_from_json`."""
    return {
        "payable": str(benefit.payable),
        "lines": [{"label": x.label, "amount": str(x.amount), "note": x.note} for x in benefit.lines],
        "deductible_applied": str(benefit.deductible_applied),
        "usage_added": usage_as_json(benefit.usage_added),
        "refusal": benefit.refusal,
        "clause": benefit.clause,
    }


def benefit_from_json(data: Mapping[str, Any]) -> Benefit:
    return Benefit(
        payable=Decimal(data["payable"]),
        lines=tuple(BenefitLine(x["label"], Decimal(x["amount"]), x.get("note", "")) for x in data["lines"]),
        deductible_applied=Decimal(data["deductible_applied"]),
        usage_added=usage_from_json(data["usage_added"]),
        refusal=data.get("refusal", ""),
        clause=data.get("clause", ""),
    )


def capped_by_adjuster(benefit: Benefit, cap: Decimal, *, daily_amount: Decimal | None = None) -> Benefit:
    """The benefit paid in part: `cap` (to the fen, above zero, at most the payable) replaces the
    payable, explained by a line `理赔核定金额`; the ledger adds the capped amount as paid (the
    deductible and item usage stay as computed: the expenses were admitted). A daily benefit
    (`daily_amount`: the coverage's amount per day) uses only the days the cap pays — whole days,
    as `_daily` counts them — so the days left in the year are the days not approved."""
    if cap <= ZERO or cap != to_fen(cap):
        raise BenefitInputError("amount", "amount_invalid", "核定金额必须大于零且最多两位小数")
    if cap >= benefit.payable:
        return benefit
    added = benefit.usage_added
    days_paid = added.days_paid
    if daily_amount is not None and daily_amount > ZERO:
        days_paid = min(days_paid, int(cap // daily_amount))
    return Benefit(
        payable=cap,
        lines=(
            *benefit.lines[:-1],
            BenefitLine("理赔核定金额", cap, f"经审核核定赔付 {format_cny(cap)}"),
            BenefitLine("应赔付金额", cap, ""),
        ),
        deductible_applied=benefit.deductible_applied,
        usage_added=UsageSoFar(
            paid=cap,
            deductible_used=added.deductible_used,
            item_paid=added.item_paid,
            days_paid=days_paid,
        ),
        refusal="",
        clause=benefit.clause,
    )


# --- policy years -------------------------------------------------------------------------------


def anniversary(effective: date, years: int) -> date:
    """The date `years` years after `effective`; 29 February falls on 28 February in a common
    year (the last day of the month, as policy documents read)."""
    year = effective.year + years
    day = min(effective.day, calendar.monthrange(year, effective.month)[1])
    return date(year, effective.month, day)


def policy_year_bounds(effective: date, incident: date) -> tuple[date, date]:
    """The policy year holding `incident`: from the anniversary of `effective` on or before it to
    the day before the next anniversary (both days included)."""
    if incident < effective:
        raise BenefitInputError(
            "incident_date", "before_policy", f"出险日期 {incident} 早于保单生效日 {effective}"
        )
    years = incident.year - effective.year
    if anniversary(effective, years) > incident:
        years -= 1
    return anniversary(effective, years), anniversary(effective, years + 1) - timedelta(days=1)


# --- the calculation ----------------------------------------------------------------------------


def calculate_benefit(terms: CoverageTerms, loss: Loss, usage: UsageSoFar) -> Benefit:
    """What `terms` pays for `loss` given what the policy year has already used."""
    _check(loss, usage)
    if terms.benefit_kind is BenefitKind.NONE:
        return _refused("该保障项目不提供理赔给付，无法申请理赔", "")
    exclusion = _exclusion(terms.exclusions, loss.cause)
    if exclusion is not None:
        return _refused(exclusion.text, exclusion.clause, label="责任免除")
    match terms.benefit_kind:
        case BenefitKind.REIMBURSEMENT:
            return _reimbursement(terms, loss, usage)
        case BenefitKind.FIXED:
            return _fixed(terms, loss, usage)
        case BenefitKind.DAILY:
            return _daily(terms, loss, usage)
        case BenefitKind.HOURLY_BANDS:
            return _hourly(terms, loss, usage)
        case BenefitKind.SCALE:
            return _scale(terms, loss, usage)
    raise AssertionError(f"unknown benefit kind {terms.benefit_kind!r}")  # pragma: no cover


def annual_limit(terms: CoverageTerms) -> Decimal:
    """The most the coverage pays in one policy year: the sum insured, or the annual limit if less."""
    if terms.annual_limit is None:
        return terms.sum_insured
    return min(terms.sum_insured, terms.annual_limit)


def remaining_annual(terms: CoverageTerms, usage: UsageSoFar) -> Decimal:
    return max(ZERO, annual_limit(terms) - usage.paid)


def _reimbursement(terms: CoverageTerms, loss: Loss, usage: UsageSoFar) -> Benefit:
    expenses = loss.expenses or (Expense(category="", amount=loss.amount_claimed),)
    lines: list[BenefitLine] = []
    total = sum((e.amount for e in expenses), ZERO)
    lines.append(BenefitLine("费用合计", total, f"共 {len(expenses)} 项费用"))
    excluded = sum((e.amount for e in expenses if not e.covered), ZERO)
    amount = total - excluded
    if excluded:
        lines.append(
            BenefitLine(
                "不在保障范围内的费用", amount, f"扣除自费等不在保障范围内的费用 {format_cny(excluded)}"
            )
        )
    # Item limits cap the expenses admitted under a category in the policy year (what
    # `item_paid` counts), with what earlier claims of the year already had admitted.
    admitted_items: dict[str, Decimal] = {}
    for category, covered in _by_category(e for e in expenses if e.covered):
        limit = terms.item_limits.get(category)
        if limit is None:
            continue
        used = usage.item_paid.get(category, ZERO)
        room = max(ZERO, limit - used)
        admitted = min(covered, room)
        admitted_items[category] = admitted
        if admitted < covered:
            amount -= covered - admitted
            used_note = f"，本保单年度已用 {format_cny(used)}" if used else ""
            lines.append(
                BenefitLine(
                    f"{CATEGORY_LABELS.get(category, category)}分项限额",
                    amount,
                    f"分项限额 {format_cny(limit)}{used_note}，"
                    f"超出部分 {format_cny(covered - admitted)} 不予赔付",
                )
            )
    # The deductible: every claim's own, or what the year's has not yet absorbed.
    deductible_applied = ZERO
    if terms.deductible:
        if terms.deductible_basis is DeductibleBasis.PER_YEAR:
            left = max(ZERO, terms.deductible - usage.deductible_used)
            note = f"年免赔额 {format_cny(terms.deductible)}"
            if usage.deductible_used:
                note += f"，本保单年度已抵扣 {format_cny(min(usage.deductible_used, terms.deductible))}"
        else:
            left = terms.deductible
            note = f"每次免赔额 {format_cny(terms.deductible)}"
        deductible_applied = min(left, amount)
        amount -= deductible_applied
        lines.append(BenefitLine("免赔额", amount, f"{note}，本次抵扣 {format_cny(deductible_applied)}"))
    if loss.social_insurance_settled:
        ratio, basis = terms.ratio_with_social_insurance, "经社保结算"
    else:
        ratio, basis = terms.ratio_without_social_insurance, "未经社保结算"
    before = amount
    amount = _share(amount, ratio)
    lines.append(
        BenefitLine(
            f"赔付比例 {_percent(ratio)}（{basis}）", amount, f"{format_cny(before)} × {_percent(ratio)}"
        )
    )
    return _capped(
        terms,
        loss,
        usage,
        amount,
        lines,
        deductible_applied=deductible_applied,
        added=UsageSoFar(
            deductible_used=deductible_applied
            if terms.deductible_basis is DeductibleBasis.PER_YEAR
            else ZERO,
            item_paid={k: v for k, v in admitted_items.items() if v},
        ),
        nothing="没有可赔付的费用：费用均不在保障范围内或未超过免赔额",
    )


def _fixed(terms: CoverageTerms, loss: Loss, usage: UsageSoFar) -> Benefit:
    if terms.fixed_once_per_year and usage.paid > 0:
        return _refused("本保单年度已给付过该项保险金，每个保单年度限给付一次", "", label="给付次数")
    amount = terms.fixed_amount if terms.fixed_amount is not None else terms.sum_insured
    lines = [BenefitLine("约定给付金额", amount, f"按合同约定一次性给付 {format_cny(amount)}")]
    return _capped(terms, loss, usage, amount, lines, nothing="本保单年度保额已用完")


def _daily(terms: CoverageTerms, loss: Loss, usage: UsageSoFar) -> Benefit:
    daily = terms.daily_amount if terms.daily_amount is not None else ZERO
    days = loss.days
    lines = [BenefitLine("住院津贴", daily * days, f"住院 {days} 天 × 每日 {format_cny(daily)}")]
    if terms.max_days is not None and days > terms.max_days:
        days = terms.max_days
        lines.append(
            BenefitLine(
                "单次给付天数上限", daily * days, f"每次最多给付 {terms.max_days} 天，按 {days} 天给付"
            )
        )
    if terms.max_days_per_year is not None:
        left = max(0, terms.max_days_per_year - usage.days_paid)
        if days > left:
            days = left
            lines.append(
                BenefitLine(
                    "本保单年度剩余给付天数",
                    daily * days,
                    f"每个保单年度最多给付 {terms.max_days_per_year} 天，已给付 {usage.days_paid} 天，"
                    f"按 {days} 天给付",
                )
            )
    nothing = "本保单年度给付天数已用完" if loss.days and not days else "没有可给付的住院天数"
    benefit = _capped(terms, loss, usage, daily * days, lines, nothing=nothing)
    if not benefit.payable:
        return benefit
    # The days added are the days the payable covers (a cap on the amount pays fewer days).
    paid_days = min(days, int(benefit.payable // daily))
    return _with_added(benefit, UsageSoFar(paid=benefit.payable, days_paid=paid_days))


def _hourly(terms: CoverageTerms, loss: Loss, usage: UsageSoFar) -> Benefit:
    hours = loss.delay_hours if loss.delay_hours is not None else ZERO
    reached = [b for b in terms.hour_bands if hours >= b.hours]
    if not reached:
        lowest = min((b.hours for b in terms.hour_bands), default=0)
        return _refused(f"延误 {_hours(hours)} 小时，未达到最低给付时长 {lowest} 小时", "", label="延误时长")
    band = max(reached, key=lambda b: (b.hours, b.amount))
    lines = [
        BenefitLine(
            f"延误满 {band.hours} 小时",
            band.amount,
            f"延误 {_hours(hours)} 小时，按达到的最高档给付 {format_cny(band.amount)}",
        ),
    ]
    return _capped(terms, loss, usage, band.amount, lines, nothing="本保单年度保额已用完")


def _scale(terms: CoverageTerms, loss: Loss, usage: UsageSoFar) -> Benefit:
    if loss.grade is None:
        share, label = DEATH_SHARE, "身故"
    else:
        share, label = DISABILITY_SCALE[loss.grade], f"伤残 {loss.grade} 级"
    amount = _share(terms.sum_insured, share)
    lines = [
        BenefitLine("保险金额", terms.sum_insured, ""),
        BenefitLine(
            f"{label}给付比例 {_percent(share)}",
            amount,
            f"{format_cny(terms.sum_insured)} × {_percent(share)}（《人身保险伤残评定标准》）"
            if loss.grade is not None
            else f"身故按保险金额的 {_percent(share)} 给付",
        ),
    ]
    return _capped(
        terms,
        loss,
        usage,
        amount,
        lines,
        nothing="本保单年度保额已用完（已给付的伤残保险金累计达到保险金额）",
    )


def _capped(
    terms: CoverageTerms,
    loss: Loss,
    usage: UsageSoFar,
    amount: Decimal,
    lines: list[BenefitLine],
    *,
    nothing: str,
    deductible_applied: Decimal = ZERO,
    added: UsageSoFar | None = None,
) -> Benefit:
    """The caps every kind shares, in order: per claim, the policy year's remaining limit, the
    amount claimed; then the payable line."""
    if terms.per_claim_limit is not None and amount > terms.per_claim_limit:
        amount = terms.per_claim_limit
        lines.append(
            BenefitLine("单次赔付限额", amount, f"每次赔付以 {format_cny(terms.per_claim_limit)} 为限")
        )
    remaining = remaining_annual(terms, usage)
    if amount > remaining:
        amount = remaining
        lines.append(
            BenefitLine(
                "本保单年度剩余保额",
                amount,
                f"年度限额 {format_cny(annual_limit(terms))}，本保单年度已赔付 {format_cny(usage.paid)}",
            )
        )
    if amount > loss.amount_claimed:
        amount = loss.amount_claimed
        lines.append(BenefitLine("申请金额", amount, "赔付金额不超过申请金额"))
    lines.append(BenefitLine("应赔付金额", amount, ""))
    base = added or UsageSoFar()
    usage_added = UsageSoFar(
        paid=amount, deductible_used=base.deductible_used, item_paid=base.item_paid, days_paid=base.days_paid
    )
    refusal = ""
    if not amount:
        if not loss.amount_claimed:
            refusal = "申请金额为零"
        elif not remaining:
            refusal = "本保单年度保额已用完"
        else:
            refusal = nothing
    return Benefit(
        payable=amount,
        lines=tuple(lines),
        deductible_applied=deductible_applied,
        usage_added=usage_added,
        refusal=refusal,
    )


def _with_added(benefit: Benefit, added: UsageSoFar) -> Benefit:
    return Benefit(
        payable=benefit.payable,
        lines=benefit.lines,
        deductible_applied=benefit.deductible_applied,
        usage_added=added,
        refusal=benefit.refusal,
        clause=benefit.clause,
    )


def _refused(reason: str, clause: str, *, label: str = "不予赔付") -> Benefit:
    note = f"{clause}：{reason}" if clause else reason
    return Benefit(
        payable=ZERO,
        lines=(BenefitLine(label, ZERO, note), BenefitLine("应赔付金额", ZERO, "")),
        deductible_applied=ZERO,
        usage_added=UsageSoFar(),
        refusal=reason,
        clause=clause,
    )


def _share(amount: Decimal, ratio: Decimal) -> Decimal:
    """The one rounding point: a ratio's share of a fen amount, to the fen (half up)."""
    return to_fen(amount * ratio)


def _exclusion(exclusions: Iterable[ExclusionTerm], cause: str) -> ExclusionTerm | None:
    wanted = cause.strip().lower()
    if not wanted:
        return None
    return next((e for e in exclusions if e.cause.strip().lower() == wanted), None)


def _by_category(expenses: Iterable[Expense]) -> list[tuple[str, Decimal]]:
    totals: dict[str, Decimal] = {}
    for e in expenses:
        totals[e.category] = totals.get(e.category, ZERO) + e.amount
    return list(totals.items())


def _percent(ratio: Decimal) -> str:
    value = (ratio * 100).normalize()
    return f"{value:f}%"


def _hours(hours: Decimal) -> str:
    return f"{Decimal(hours).normalize():f}"


def _check(loss: Loss, usage: UsageSoFar) -> None:
    _fen("amount_claimed", "申请金额", loss.amount_claimed)
    for i, e in enumerate(loss.expenses):
        _fen(f"expenses[{i}].amount", f"第 {i + 1} 项费用金额", e.amount)
    if loss.days < 0:
        raise BenefitInputError("days", "negative", f"住院天数不能为负数（{loss.days}）")
    if loss.delay_hours is not None and loss.delay_hours < 0:
        raise BenefitInputError("delay_hours", "negative", f"延误时长不能为负数（{loss.delay_hours}）")
    if loss.grade is not None and loss.grade not in DISABILITY_SCALE:
        raise BenefitInputError("grade", "out_of_range", f"伤残等级应为 1–10 级（{loss.grade}）")
    _fen("usage.paid", "已赔付金额", usage.paid)
    _fen("usage.deductible_used", "已抵扣免赔额", usage.deductible_used)
    if usage.days_paid < 0:
        raise BenefitInputError("usage.days_paid", "negative", f"已给付天数不能为负数（{usage.days_paid}）")


def _fen(field_name: str, label: str, amount: Decimal) -> None:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise BenefitInputError(field_name, "invalid", f"{label}不是有效金额（{amount!r}）")
    if amount < 0:
        raise BenefitInputError(field_name, "negative", f"{label}不能为负数（{amount}）")
    if amount != amount.quantize(FEN):
        raise BenefitInputError(field_name, "too_many_places", f"{label}最多保留两位小数（{amount}）")
