"""Commission rules, pure: which rule of a commission plan applies to a sale, what it pays, what a
cancellation claws back, what a volume tier adds at month end, and whether an outbound plan keeps
the agency's margin. No Django, no database: plain frozen dataclasses and `Decimal`.

Vocabulary (docs/commission.md):
- a *sale* is one premium event of one policy: its insurer, product, line, the channels it came
  through, the premium mode, the policy year, the premium collected (VAT included);
- a *rule* pays a rate of the NET premium (premium / (1 + VAT rate of the product)) or a fixed
  amount per policy; the most specific matching rule wins: product over line, a deeper channel
  over a shallower one over any, an exact policy year over "year n and later" (the higher n
  first), an exact premium mode over any;
- two rules of one plan version with the same key are ambiguous: refused at publication.

Rounding: every amount is rounded to the fen once, by `to_fen` (half up), where it is produced
(`commission_of`, `clawback_of`, `tier_difference`, `split_vat`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from huibao.core.money import to_fen

ZERO = Decimal("0")
ONE = Decimal("1")

# The VAT rate of the PREMIUM (for the net premium the rate applies to), by line, when the plan's
# rule does not state one: long-term life and health insurance (one year and more: critical
# illness, term and whole life, annuities) is VAT-exempt in China (财税〔2016〕36号); short-term
# property, accident and health insurance is taxed at 6%.
VAT_EXEMPT_LINES = frozenset({"critical_illness", "term_life", "whole_life"})
STANDARD_VAT = Decimal("0.06")
# The VAT the agency charges on its own commission income (现代服务业, general taxpayer): the
# insurer pays the commission VAT included; the ledger splits income and output VAT.
COMMISSION_VAT = Decimal("0.06")

BASIS_RATE = "rate"
BASIS_FIXED = "fixed"

# After the cooling-off period: what a cancellation claws back of the commission earned.
CLAWBACK_PRO_RATA = "pro_rata"  # the refunded share of the premium paid
CLAWBACK_PERCENT = "percent"  # a fixed percentage of the commission earned
CLAWBACK_NONE = "none"
CLAWBACK_MODES = (CLAWBACK_PRO_RATA, CLAWBACK_PERCENT, CLAWBACK_NONE)


class CommissionRuleError(ValueError):
    """A rule or a plan that cannot be used: `field` names what is wrong."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message


def default_vat_rate(line: str) -> Decimal:
    return ZERO if line in VAT_EXEMPT_LINES else STANDARD_VAT


@dataclass(frozen=True, slots=True)
class Tier:
    """From `threshold` of the month's premium of the insurer (VAT incl.), `rate` applies."""

    threshold: Decimal
    rate: Decimal


@dataclass(frozen=True, slots=True)
class Rule:
    id: int
    version_id: int
    basis: str = BASIS_RATE
    rate: Decimal = ZERO
    fixed_amount: Decimal = ZERO
    insurer_id: int | None = None  # outbound rules may name the insurer; inbound: the plan's
    product_id: int | None = None
    line: str = ""  # used when product_id is None; "" with no product: any line
    channel_id: int | None = None  # a channel or sub-channel the sale came through; None: any
    mode: str = ""  # premium mode (catalog PaymentMode); "": any
    year: int = 1  # policy year
    and_later: bool = False  # True: `year` and every later year (renewal years n+)
    vat_rate: Decimal | None = None  # the premium's VAT; None: `default_vat_rate(line)`
    clawback: str = CLAWBACK_PRO_RATA
    clawback_percent: Decimal = Decimal("100")
    tiers: tuple[Tier, ...] = ()

    def key(self) -> tuple[object, ...]:
        """What makes two rules the same rule: ambiguous in one version."""
        target: tuple[object, ...] = ("p", self.product_id) if self.product_id else ("l", self.line)
        return (self.insurer_id, *target, self.channel_id, self.mode, self.year, self.and_later)

    def describe_years(self) -> str:
        return f"第{self.year}年及以后" if self.and_later else f"第{self.year}年"


@dataclass(frozen=True, slots=True)
class Sale:
    insurer_id: int
    product_id: int
    line: str
    mode: str
    year: int
    # The channels and sub-channels the sale came through, nearest first (the seller's chain).
    channels: tuple[int, ...] = ()


def _matches(rule: Rule, sale: Sale) -> bool:
    if rule.insurer_id is not None and rule.insurer_id != sale.insurer_id:
        return False
    if rule.product_id is not None:
        if rule.product_id != sale.product_id:
            return False
    elif rule.line and rule.line != sale.line:
        return False
    if rule.channel_id is not None and rule.channel_id not in sale.channels:
        return False
    if rule.mode and rule.mode != sale.mode:
        return False
    if rule.and_later:
        return sale.year >= rule.year
    return sale.year == rule.year


def specificity(rule: Rule, sale: Sale) -> tuple[int, ...]:
    """Higher is more specific; compared as a tuple, in the order of the module's docstring."""
    # nearest channel first in `sale.channels`: the deeper, the higher
    channel = 0 if rule.channel_id is None else len(sale.channels) - sale.channels.index(rule.channel_id)
    return (
        2 if rule.product_id is not None else (1 if rule.line else 0),
        1 if rule.insurer_id is not None else 0,
        channel,
        1 if not rule.and_later else 0,
        rule.year,
        1 if rule.mode else 0,
    )


def resolve(rules: Iterable[Rule], sale: Sale) -> Rule | None:
    """The most specific rule matching `sale`, or None. Two matching rules equally specific are
    ambiguous: `check_unambiguous` refuses such a version before it can be used."""
    best: Rule | None = None
    best_score: tuple[int, ...] = ()
    for rule in rules:
        if not _matches(rule, sale):
            continue
        score = specificity(rule, sale)
        if best is None or score > best_score:
            best, best_score = rule, score
        elif score == best_score:
            raise CommissionRuleError(
                "rules", "ambiguous", f"规则{best.id}与规则{rule.id}同样具体，无法确定适用哪条"
            )
    return best


def check_rule(rule: Rule) -> None:
    """One rule's own figures; raises `CommissionRuleError` naming the field."""
    if rule.basis not in (BASIS_RATE, BASIS_FIXED):
        raise CommissionRuleError("basis", "invalid", "计算方式须为费率或固定金额")
    if rule.basis == BASIS_RATE and not (ZERO <= rule.rate <= ONE):
        raise CommissionRuleError("rate", "out_of_range", "费率须在0%到100%之间")
    if rule.basis == BASIS_FIXED and rule.fixed_amount < ZERO:
        raise CommissionRuleError("fixed_amount", "negative", "固定金额不能为负数")
    if rule.year < 1:
        raise CommissionRuleError("year", "out_of_range", "保单年度从1开始")
    if rule.vat_rate is not None and not (ZERO <= rule.vat_rate < ONE):
        raise CommissionRuleError("vat_rate", "out_of_range", "增值税率须在0%到100%之间")
    if rule.clawback not in CLAWBACK_MODES:
        raise CommissionRuleError("clawback", "invalid", "追回方式须为按比例、固定百分比或不追回")
    if not (ZERO <= rule.clawback_percent <= Decimal("100")):
        raise CommissionRuleError("clawback_percent", "out_of_range", "追回百分比须在0到100之间")
    last = ZERO
    for tier in rule.tiers:
        if rule.basis != BASIS_RATE:
            raise CommissionRuleError("tiers", "fixed_basis", "固定金额规则不能设置阶梯费率")
        if tier.threshold <= last:
            raise CommissionRuleError("tiers", "not_ascending", "阶梯门槛须为正数且逐级升高")
        if not (rule.rate <= tier.rate <= ONE):
            raise CommissionRuleError("tiers", "rate_out_of_range", "阶梯费率须不低于基础费率且不超过100%")
        last = tier.threshold


def check_unambiguous(rules: Sequence[Rule]) -> None:
    """Refuses a version with two rules of the same key (see `Rule.key`)."""
    seen: dict[tuple[object, ...], Rule] = {}
    for rule in rules:
        other = seen.get(rule.key())
        if other is not None:
            raise CommissionRuleError(
                "rules",
                "ambiguous",
                f"规则{other.id}与规则{rule.id}适用范围相同（{rule.describe_years()}），请删除或合并其中一条",
            )
        seen[rule.key()] = rule


@dataclass(frozen=True, slots=True)
class Computed:
    """What a rule pays on one premium amount, and how it got there (the entry's explanation)."""

    amount: Decimal
    base: Decimal  # net premium (zero for a fixed amount)
    rate: Decimal | None
    premium: Decimal
    vat_rate: Decimal
    explanation: dict[str, str | int | None] = field(default_factory=dict)


def net_premium(premium: Decimal, vat_rate: Decimal) -> Decimal:
    """Premium without VAT, to the fen."""
    return to_fen(premium / (ONE + vat_rate))


def commission_of(rule: Rule, *, premium: Decimal, line: str, share: Decimal = ONE) -> Computed:
    """The commission of `rule` on `premium` (VAT incl., signed: a negative endorsement delta gives
    a negative commission). A fixed amount is paid once per policy, at issuance (`share` 1) — an
    endorsement or a later instalment of a fixed-amount rule pays `share` 0."""
    vat = rule.vat_rate if rule.vat_rate is not None else default_vat_rate(line)
    if rule.basis == BASIS_FIXED:
        amount = to_fen(rule.fixed_amount * share)
        return Computed(
            amount=amount,
            base=ZERO,
            rate=None,
            premium=premium,
            vat_rate=vat,
            explanation={
                "rule": rule.id,
                "version": rule.version_id,
                "basis": BASIS_FIXED,
                "fixed_amount": str(rule.fixed_amount),
                "share": str(share),
                "premium": str(premium),
                "rounding": "half_up_fen",
            },
        )
    base = net_premium(premium, vat)
    amount = to_fen(base * rule.rate)
    return Computed(
        amount=amount,
        base=base,
        rate=rule.rate,
        premium=premium,
        vat_rate=vat,
        explanation={
            "rule": rule.id,
            "version": rule.version_id,
            "basis": BASIS_RATE,
            "rate": str(rule.rate),
            "tier": 0,
            "premium": str(premium),
            "vat_rate": str(vat),
            "base": str(base),
            "rounding": "half_up_fen",
        },
    )


def clawback_of(
    rule: Rule, *, earned: Decimal, refund: Decimal, paid: Decimal, in_cooling_off: bool
) -> tuple[Decimal, dict[str, str]]:
    """What a cancellation takes back of `earned` (the party's commission on the policy so far),
    as a negative amount (or zero), with its explanation:

    | when                    | rule `clawback` | taken back                              |
    |-------------------------|-----------------|-----------------------------------------|
    | inside the cooling-off  | any             | all of it                               |
    | after it                | pro_rata        | earned × refund / paid (at most all)    |
    | after it                | percent         | earned × clawback_percent / 100         |
    | after it                | none            | nothing                                 |
    """
    if earned <= ZERO:
        return ZERO, {"method": "nothing_earned"}
    if in_cooling_off:
        return -earned, {"method": "full_cooling_off", "earned": str(earned)}
    if rule.clawback == CLAWBACK_NONE:
        return ZERO, {"method": CLAWBACK_NONE, "earned": str(earned)}
    if rule.clawback == CLAWBACK_PERCENT:
        share = rule.clawback_percent / Decimal("100")
    else:
        share = min(ONE, refund / paid) if paid > ZERO else ONE
    amount = to_fen(earned * share)
    return -amount, {
        "method": rule.clawback,
        "earned": str(earned),
        "refund": str(refund),
        "paid": str(paid),
        "share": str(share.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)),
        "rounding": "half_up_fen",
    }


def tier_rate(rule: Rule, month_premium: Decimal) -> tuple[int, Decimal]:
    """The tier reached by the month's premium (0: the base rate) and its rate."""
    reached, rate = 0, rule.rate
    for i, tier in enumerate(rule.tiers, start=1):
        if month_premium >= tier.threshold:
            reached, rate = i, tier.rate
    return reached, rate


def tier_difference(rule: Rule, *, month_premium: Decimal, bases: Iterable[Decimal]) -> tuple[int, Decimal]:
    """Tiers apply retroactively to the whole month: the bonus settled at month end is (tier rate −
    base rate) × the month's net premium booked under `rule`. Returns (tier, amount)."""
    tier, rate = tier_rate(rule, month_premium)
    if tier == 0:
        return 0, ZERO
    return tier, to_fen(sum(bases, ZERO) * (rate - rule.rate))


@dataclass(frozen=True, slots=True)
class Target:
    """A fixed bonus when a quarter's premium of the insurer (VAT incl.) reaches `premium`."""

    premium: Decimal
    bonus: Decimal


def target_bonus(targets: Sequence[Target], quarter_premium: Decimal) -> Decimal:
    """The bonus of the highest target reached (targets do not add up)."""
    reached = [t.bonus for t in targets if quarter_premium >= t.premium]
    return to_fen(max(reached)) if reached else ZERO


def split_vat(amount: Decimal, rate: Decimal = COMMISSION_VAT) -> tuple[Decimal, Decimal]:
    """A VAT-inclusive commission as (net income, output VAT); the two add up to `amount`."""
    net = to_fen(amount / (ONE + rate))
    return net, amount - net


# --- margin control --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Payout:
    """One party's share of one sale: a rate or a fixed amount."""

    unit_id: int
    rule: Rule


@dataclass(frozen=True, slots=True)
class MarginProblem:
    sale: Sale
    inbound: Rule | None
    outbound: tuple[Payout, ...]
    inbound_rate: Decimal
    outbound_rate: Decimal


def effective_rate(rule: Rule | None, reference_premium: Decimal, line: str) -> Decimal:
    """A rule as a rate of the net premium: a fixed amount is compared at the product's reference
    premium (its lowest premium, VAT incl.)."""
    if rule is None:
        return ZERO
    if rule.basis == BASIS_RATE:
        return rule.rate
    vat = rule.vat_rate if rule.vat_rate is not None else default_vat_rate(line)
    net = reference_premium / (ONE + vat)
    return rule.fixed_amount / net if net > ZERO else Decimal("Infinity")


def margin_problem(
    sale: Sale, inbound: Rule | None, outbound: Sequence[Payout], *, reference_premium: Decimal
) -> MarginProblem | None:
    """The sale pays out more than it earns: the outbound rates up the seller's chain, summed,
    exceed the inbound rate (both of the net premium). None when the margin holds."""
    paid = sum((effective_rate(p.rule, reference_premium, sale.line) for p in outbound), ZERO)
    earned = effective_rate(inbound, reference_premium, sale.line)
    if paid > earned:
        return MarginProblem(sale, inbound, tuple(outbound), earned, paid)
    return None


def percent(rate: Decimal) -> str:
    """A rate for people: 0.25 → "25%", 0.125 → "12.5%"."""
    if not rate.is_finite():
        return "∞"
    shown = (rate * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()
    return f"{shown:f}%"
