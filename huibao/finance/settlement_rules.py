"""Settlement's pure rules: periods, a statement's totals, who may approve, and the individual
income tax withheld from agents' commission. No Django, no I/O (tested table-driven).

Sign convention: a statement's `net` is what the agency pays the party (positive) or receives
from it (negative). For an insurer that is premium to remit less commission to receive; for a
channel or an agent it is the commission less the tax withheld.
"""

from __future__ import annotations

import calendar
import datetime
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

FEN = Decimal("0.01")
ZERO = Decimal("0.00")

MONTHLY = "monthly"
QUARTERLY = "quarterly"

NET = "net"
GROSS = "gross"
COMMISSION_ONLY = "commission_only"
OUTBOUND = "outbound"


class RuleError(ValueError):
    """A value a rule cannot work with; `field` names the input."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def fen(amount: Decimal) -> Decimal:
    # Same rounding as core.money.to_fen (kept here so rules import nothing of Django).
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


# --- periods ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    kind: str  # monthly | quarterly
    start: datetime.date
    end: datetime.date  # inclusive

    @property
    def key(self) -> str:
        """ "2026-11" for a month, "2026-Q4" for a quarter: what the API and the pages take."""
        if self.kind == QUARTERLY:
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}-{self.start.month:02d}"

    @property
    def compact(self) -> str:
        return self.key.replace("-", "")

    def next(self) -> Period:
        return period_containing(self.end + datetime.timedelta(days=1), self.kind)

    def previous(self) -> Period:
        return period_containing(self.start - datetime.timedelta(days=1), self.kind)


def period_containing(day: datetime.date, kind: str) -> Period:
    if kind == QUARTERLY:
        first_month = (day.month - 1) // 3 * 3 + 1
        start = datetime.date(day.year, first_month, 1)
        last_month = first_month + 2
    elif kind == MONTHLY:
        start = datetime.date(day.year, day.month, 1)
        last_month = day.month
    else:
        raise RuleError("settlement_period", f"unknown settlement period {kind!r}")
    end = datetime.date(day.year, last_month, calendar.monthrange(day.year, last_month)[1])
    return Period(kind, start, end)


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")


def parse_period(text: str, kind: str) -> Period:
    """Parses "2026-11" (monthly) or "2026-Q4" (quarterly) for a party settled `kind`; a month
    given for a quarterly party means its quarter."""
    text = (text or "").strip()
    if m := _QUARTER.match(text):
        if kind != QUARTERLY:
            raise RuleError("period", f"该结算对象按月结算，期间应为“YYYY-MM”，而不是 {text}")
        return period_containing(datetime.date(int(m[1]), (int(m[2]) - 1) * 3 + 1, 1), QUARTERLY)
    if m := _MONTH.match(text):
        year, month = int(m[1]), int(m[2])
        if not (1 <= month <= 12 and 2000 <= year <= 2100):
            raise RuleError("period", f"期间无效：{text}")
        return period_containing(datetime.date(year, month, 1), kind)
    raise RuleError("period", f"期间格式应为“YYYY-MM”或“YYYY-Qn”，而不是“{text[:20]}”")


def due_on(period: Period, days_to_pay: int) -> datetime.date:
    return period.end + datetime.timedelta(days=days_to_pay)


def is_overdue(due: datetime.date, today: datetime.date) -> bool:
    return today > due


# --- totals -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Totals:
    premium: Decimal  # premium to remit to the insurer (signed: refunds reduce it)
    commission: Decimal  # commission: inbound to receive, or outbound to pay
    tax: Decimal  # individual income tax withheld (outbound to agents only)
    net: Decimal  # what the agency pays the party (+) or receives from it (−)
    payable: Decimal  # the agency's payment(s) to the party
    receivable: Decimal  # the party's payment(s) to the agency
    approval_amount: Decimal  # the amount four eyes is measured against


def insurer_totals(mode: str, premium: Decimal, commission: Decimal) -> Totals:
    """Net: one payment of premium − commission (whichever way it goes). Gross: the agency
    remits all the premium and the insurer pays all the commission. Commission only: the insurer
    collected the premium, so only the commission moves (any premium line is left out)."""
    if mode == COMMISSION_ONLY:
        premium = ZERO
    premium, commission = fen(premium), fen(commission)
    net = premium - commission
    if mode in (NET, COMMISSION_ONLY):
        payable, receivable = max(net, ZERO), max(-net, ZERO)
        approval = abs(net)
    elif mode == GROSS:
        payable, receivable = max(premium, ZERO), max(commission, ZERO)
        approval = max(abs(premium), abs(commission))
    else:
        raise RuleError("mode", f"unknown insurer settlement mode {mode!r}")
    return Totals(premium, commission, ZERO, net, payable, receivable, approval)


def outbound_totals(commission: Decimal, tax: Decimal) -> Totals:
    commission, tax = fen(commission), fen(tax)
    net = commission - tax
    return Totals(ZERO, commission, tax, net, max(net, ZERO), max(-net, ZERO), abs(commission))


def insurer_mode(*, premium_collector: str, net_settlement: bool) -> str:
    if premium_collector == "insurer":
        return COMMISSION_ONLY
    return NET if net_settlement else GROSS


# --- four eyes ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApprovalCheck:
    allowed: bool
    code: str  # "" when allowed
    complete: bool  # this approval is the last one needed


def approvals_needed(amount: Decimal, four_eyes_above: Decimal) -> int:
    """One approval (by someone other than the preparer); two different approvers above the
    threshold (at exactly the threshold one is enough)."""
    return 2 if abs(amount) > four_eyes_above else 1


def check_approval(
    *, approver_id: int, preparer_ids: frozenset[int], approved_by: tuple[int, ...], needed: int
) -> ApprovalCheck:
    if approver_id in preparer_ids:
        return ApprovalCheck(False, "own_statement", False)
    if approver_id in approved_by:
        return ApprovalCheck(False, "second_approver_required", False)
    return ApprovalCheck(True, "", len(approved_by) + 1 >= needed)


# --- individual income tax withheld from agents -------------------------------------------------

# 劳务报酬所得 pre-withholding per payment (国家税务总局公告2018年第61号, 个人所得税预扣率表二):
# income ≤ 4,000: taxable = income − 800; above: taxable = income × (1 − 20%); then the rate and
# quick deduction of the band the taxable amount falls in.
LABOUR_BANDS: tuple[tuple[Decimal | None, Decimal, Decimal], ...] = (
    (Decimal("20000"), Decimal("0.20"), Decimal("0")),
    (Decimal("50000"), Decimal("0.30"), Decimal("2000")),
    (None, Decimal("0.40"), Decimal("7000")),
)

WITHHOLDING_NONE = "none"
WITHHOLDING_LABOUR = "labour"
WITHHOLDING_FLAT = "flat"


@dataclass(frozen=True, slots=True)
class Withholding:
    method: str
    income: Decimal
    taxable: Decimal
    rate: Decimal
    quick_deduction: Decimal
    tax: Decimal

    def as_dict(self) -> dict[str, str]:
        return {
            "method": self.method,
            "income": str(self.income),
            "taxable": str(self.taxable),
            "rate": str(self.rate),
            "quick_deduction": str(self.quick_deduction),
            "tax": str(self.tax),
        }


def withholding_tax(income: Decimal, *, method: str, flat_rate: Decimal = Decimal("0")) -> Withholding:
    """The tax withheld from one settlement's commission to an agent (a person). Nothing is
    withheld from zero or negative income (a clawback month)."""
    income = fen(income)
    if method not in (WITHHOLDING_NONE, WITHHOLDING_LABOUR, WITHHOLDING_FLAT):
        raise RuleError("withholding", f"unknown withholding method {method!r}")
    if method == WITHHOLDING_NONE or income <= 0:
        return Withholding(method, income, ZERO, Decimal("0"), ZERO, ZERO)
    if method == WITHHOLDING_FLAT:
        if not (Decimal("0") <= flat_rate < Decimal("1")):
            raise RuleError("withholding_flat_rate", f"flat rate must be in [0, 1), not {flat_rate}")
        return Withholding(method, income, income, flat_rate, ZERO, fen(income * flat_rate))
    taxable = income - Decimal("800") if income <= Decimal("4000") else income * Decimal("0.8")
    taxable = fen(max(taxable, ZERO))
    for ceiling, rate, deduction in LABOUR_BANDS:
        if ceiling is None or taxable <= ceiling:
            tax = fen(max(taxable * rate - deduction, ZERO))
            return Withholding(method, income, taxable, rate, deduction, tax)
    raise AssertionError("unreachable: the last band has no ceiling")
