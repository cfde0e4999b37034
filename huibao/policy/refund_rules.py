"""What a cancellation (退保) gives back: the refund of a policy, explained line by line. Pure: no
Django, no ORM, no I/O; the product's rule is the catalog's `CancellationRule`.

Days and dates (all local dates):

- cover runs from `start` (the local date of `effective_at`) to `end` (the local date of
  `expires_at`, exclusive); `term_days = end - start`;
- a cancellation requested on day D ends the cover at 24:00 of D: the request date counts as a
  day in force (`days_in_force = D - start + 1`, between 0 and term_days); a request before the
  start has no day in force;
- the cooling-off period (犹豫期) runs up to and including `cooling_off_until`: a request on that
  day is still inside it.

The refund, by case:

- inside the cooling-off period: everything paid for the policy, less the product's
  `cooling_off_fee`;
- after it, by the product's method:
  - `pro_rata`: the unearned premium by days — paid − premium × days_in_force / term_days (for a
    policy paid in full this is remaining days / term days × the premium paid; for one paid in
    instalments the cover earned so far is set against what was paid, unpaid instalments being
    cancelled) — less `fee_rate` of it and less `fee_fixed`;
  - `short_rate`: paid − premium × the short-rate table's earned share for the months in force (a
    started month counts whole; past the table's last line, its last share), less `fee_fixed`;
  - `cash_value`: the cash value at the end of the last completed policy year, `rate` × the
    premiums paid (the table's line of that year, or the latest line before it; past the table,
    `cash_value_after`; no completed year: none), less `fee_fixed` — long-term life;
  - `none`: refused, with the product's refusal text.

Never negative (a fee larger than what is left takes only what is left), never more than what was
paid for the policy. Rounding: the amount is computed with full precision and rounded to the fen
once (`to_fen`, ROUND_HALF_UP). The lines are shown rounded to the fen; the lines always add up to
the amount, the largest deduction taking the rounding difference of the others (at most one
fen).

Labels and bases are Chinese msgids marked with `_` (a no-op here); pages translate them, bases
being `str.format` templates filled with the line's `params`.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from huibao.catalog.servicing import CancellationRule, RefundMethod
from huibao.core.money import to_fen

ZERO = Decimal("0.00")


def _(message: str) -> str:
    """Marks a msgid (translated where it is shown)."""
    return message


class CancellationKind(StrEnum):
    COOLING_OFF = "cooling_off"  # 犹豫期退保
    SURRENDER = "surrender"  # 退保 after the cooling-off period


@dataclass(frozen=True, slots=True)
class RefundLine:
    """One line of the explanation: `amount` is positive for what is given back, negative for
    what is kept; `basis` is a `str.format` template filled with `params`."""

    code: str
    label: str
    amount: Decimal
    basis: str
    params: Mapping[str, str] = field(default_factory=dict)

    def basis_text(self, translate: Any = None) -> str:
        template = translate(self.basis) if translate is not None else self.basis
        return str(template).format(**self.params)

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "label": self.label,
            "amount": str(self.amount),
            "basis": self.basis,
            "basis_text": self.basis_text(),
            "params": dict(self.params),
        }


@dataclass(frozen=True, slots=True)
class PolicyFigures:
    """What the refund of a policy is computed from.

    `premium` is the premium of the whole term; `paid` what was paid for this policy so far (all of
    it for a single or annual premium, the instalments paid otherwise)."""

    start: datetime.date
    end: datetime.date | None
    premium: Decimal
    paid: Decimal
    cooling_off_until: datetime.date | None


@dataclass(frozen=True, slots=True)
class RefundQuote:
    kind: CancellationKind
    method: str  # "cooling_off" or the product's RefundMethod
    allowed: bool
    amount: Decimal
    paid: Decimal
    lines: tuple[RefundLine, ...]
    refusal: str = ""
    days_in_force: int = 0
    term_days: int = 0

    def lines_json(self) -> list[dict[str, Any]]:
        return [line.as_json() for line in self.lines]


def in_cooling_off(request_date: datetime.date, cooling_off_until: datetime.date | None) -> bool:
    """The request date counts: a request on the last day is inside the period."""
    return cooling_off_until is not None and request_date <= cooling_off_until


def _add_months(start: datetime.date, months: int) -> datetime.date:
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return datetime.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def days_in_force(start: datetime.date, request_date: datetime.date, term_days: int) -> int:
    """Days of cover up to 24:00 of the request date, between 0 and the term."""
    return max(0, min(term_days, (request_date - start).days + 1))


def months_in_force(start: datetime.date, request_date: datetime.date) -> int:
    """Months of cover up to the request date, a started month counting whole (0 before the start)."""
    if request_date < start:
        return 0
    months = 1
    while _add_months(start, months) <= request_date:
        months += 1
    return months


def completed_years(start: datetime.date, request_date: datetime.date) -> int:
    """Policy years completed by the request date (an anniversary on the request date completes one)."""
    years = 0
    while _add_months(start, 12 * (years + 1)) <= request_date:
        years += 1
    return years


def short_rate_share(rule: CancellationRule, months: int) -> Decimal:
    """The earned share of the premium for `months` in force (past the table: its last share)."""
    if months <= 0:
        return Decimal(0)
    steps = sorted(rule.short_rate, key=lambda s: s.months)
    if not steps:
        return Decimal(1)
    for step in steps:
        if months <= step.months:
            return step.earned
    return steps[-1].earned


def cash_value_rate(rule: CancellationRule, years: int) -> Decimal:
    """The cash-value rate at the end of policy year `years` (0: none yet)."""
    if years <= 0:
        return Decimal(0)
    steps = sorted(rule.cash_values, key=lambda s: s.year)
    if steps and years > steps[-1].year:
        return rule.cash_value_after
    rate = Decimal(0)
    for step in steps:
        if step.year <= years:
            rate = step.rate
    return rate


def _money(value: Decimal) -> str:
    return f"{to_fen(value):.2f}"


def _paid_line(paid: Decimal) -> RefundLine:
    return RefundLine(
        "paid", _("已缴保费"), to_fen(paid), _("本保单已缴纳的保费合计"), {"paid": _money(paid)}
    )


def _deduction(
    code: str, label: str, wanted: Decimal, left: Decimal, basis: str, params: dict[str, str]
) -> tuple[RefundLine, Decimal]:
    """A deduction of `wanted` (exact) from what is `left` (exact), never below zero."""
    taken = min(max(wanted, Decimal(0)), max(left, Decimal(0)))
    return RefundLine(code, label, -taken, basis, params), left - taken


def _finish(
    kind: CancellationKind,
    method: str,
    paid: Decimal,
    lines: list[RefundLine],
    exact: Decimal,
    *,
    days: int = 0,
    term: int = 0,
) -> RefundQuote:
    """Rounds the exact refund once, caps it by what was paid, and makes the shown lines (rounded
    to the fen) add up to it: the largest deduction takes the rounding difference."""
    amount = min(to_fen(max(exact, Decimal(0))), to_fen(paid))
    shown = [RefundLine(ln.code, ln.label, to_fen(ln.amount), ln.basis, ln.params) for ln in lines]
    difference = amount - sum((ln.amount for ln in shown), ZERO)
    if difference:
        # The largest deduction takes it (never turning it into a payment).
        index = min(range(len(shown)), key=lambda i: (shown[i].amount, -i))
        ln = shown[index]
        shown[index] = RefundLine(ln.code, ln.label, ln.amount + difference, ln.basis, ln.params)
    return RefundQuote(
        kind=kind,
        method=method,
        allowed=True,
        amount=amount,
        paid=to_fen(paid),
        lines=tuple(shown),
        days_in_force=days,
        term_days=term,
    )


def refund_quote(rule: CancellationRule, figures: PolicyFigures, request_date: datetime.date) -> RefundQuote:
    """The refund of cancelling the policy on `request_date` (see the module's docstring)."""
    paid = max(figures.paid, Decimal(0))
    premium = figures.premium
    if in_cooling_off(request_date, figures.cooling_off_until):
        lines = [_paid_line(paid)]
        fee, left = _deduction(
            "cooling_off_fee",
            _("犹豫期退保手续费"),
            rule.cooling_off_fee,
            paid,
            _("产品条款约定的犹豫期退保手续费{fee}元（以可退金额为限）"),
            {"fee": _money(rule.cooling_off_fee)},
        )
        if rule.cooling_off_fee:
            lines.append(fee)
        return _finish(CancellationKind.COOLING_OFF, "cooling_off", paid, lines, left)

    kind = CancellationKind.SURRENDER
    method = RefundMethod(rule.method)
    if method == RefundMethod.NONE:
        return RefundQuote(
            kind=kind,
            method=str(method),
            allowed=False,
            amount=ZERO,
            paid=to_fen(paid),
            lines=(),
            refusal=rule.refusal or _("本产品犹豫期后不支持退保"),
        )
    lines = [_paid_line(paid)]
    left = paid
    days = term = 0
    if method == RefundMethod.PRO_RATA:
        if figures.end is None:
            return RefundQuote(
                kind=kind,
                method=str(method),
                allowed=False,
                amount=ZERO,
                paid=to_fen(paid),
                lines=(),
                refusal=_("终身保障的保单不能按日计算退费"),
            )
        term = max(1, (figures.end - figures.start).days)
        days = days_in_force(figures.start, request_date, term)
        earned = premium * days / term
        line, left = _deduction(
            "earned",
            _("已保障期间保费"),
            earned,
            left,
            _("保费{premium}元 × 已保障{days}天 ÷ 保险期间{term}天"),
            {"premium": _money(premium), "days": str(days), "term": str(term)},
        )
        lines.append(line)
        line, left = _deduction(
            "fee_rate",
            _("退保手续费（按未满期保费比例）"),
            left * rule.fee_rate,
            left,
            _("未满期保费 × {rate}%"),
            {"rate": f"{(rule.fee_rate * 100).normalize():f}"},
        )
        if rule.fee_rate:
            lines.append(line)
    elif method == RefundMethod.SHORT_RATE:
        months = months_in_force(figures.start, request_date)
        share = short_rate_share(rule, months)
        line, left = _deduction(
            "earned",
            _("已保障期间保费（短期费率）"),
            premium * share,
            left,
            _("保费{premium}元 × 短期费率表第{months}个月对应的{share}%"),
            {"premium": _money(premium), "months": str(months), "share": f"{(share * 100).normalize():f}"},
        )
        lines.append(line)
    else:  # cash value
        years = completed_years(figures.start, request_date)
        rate = cash_value_rate(rule, years)
        value = paid * rate
        line, left = _deduction(
            "not_cash_value",
            _("现金价值以外的部分"),
            paid - value,
            left,
            _("现金价值 = 已缴保费{paid}元 × 第{years}个保单年度末现金价值比例{rate}%"),
            {"paid": _money(paid), "years": str(years), "rate": f"{(rate * 100).normalize():f}"},
        )
        lines.append(line)
    line, left = _deduction(
        "fee_fixed",
        _("退保手续费"),
        rule.fee_fixed,
        left,
        _("产品条款约定的退保手续费{fee}元（以可退金额为限）"),
        {"fee": _money(rule.fee_fixed)},
    )
    if rule.fee_fixed:
        lines.append(line)
    return _finish(kind, str(method), paid, lines, left, days=days, term=term)


# --- where the refund goes -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefundSource:
    """A payment that paid for the policy: `available` is what of it may go back to this policy
    (its share for this policy, less what was already refunded of it)."""

    key: str
    available: Decimal
    paid_at: datetime.datetime


def allocate_refund(amount: Decimal, sources: list[RefundSource]) -> list[tuple[str, Decimal]]:
    """Splits a refund over the payments that paid for the policy, latest payment first (the
    cover earned so far used the earliest premiums), each up to what is available of it. Raises
    ValueError when the sources do not cover the amount (the caller refuses the refund)."""
    left = to_fen(amount)
    if left < 0:
        raise ValueError("a refund is never negative")
    parts: list[tuple[str, Decimal]] = []
    for source in sorted(sources, key=lambda s: (s.paid_at, s.key), reverse=True):
        if left <= 0:
            break
        take = min(left, to_fen(source.available))
        if take > 0:
            parts.append((source.key, take))
            left -= take
    if left > 0:
        raise ValueError(f"the payments cover {to_fen(amount) - left} of a refund of {to_fen(amount)}")
    return parts
