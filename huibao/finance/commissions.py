"""Commission entries: the commission of every policy event, for the insurer (inbound) and each
party up the seller's chain (outbound), each posted to the ledger. The plans they are computed
by are kept in `commission_plans.py`.

Entries (finance.models.CommissionEntry) are written by the listeners of the policy and billing
hooks, in the announcing transaction (registered in `FinanceConfig.ready()`) — except an
issuance's, which the issuance's booking job writes after the issuing commit (`booking.py`):

| event                      | key                                                 | base            |
|----------------------------|-----------------------------------------------------|-----------------|
| policy issued (or renewed) | commission:issued:<policy>:inbound / :outbound:<u>  | premium paid at issue |
| later instalment paid      | commission:instalment:<policy>:<n>:…                | the instalment  |
| endorsement applied        | commission:endorsement:<endorsement>:…              | premium delta   |
| cancellation confirmed     | commission:cancellation:<policy>:…                  | clawback        |
| month end (tiers)          | commission:tier:<rule>:<yyyy-mm>                    | month's base    |
| quarter end (targets)      | commission:target:<version>:<yyyy>Q<q>              | fixed bonus     |

Every key is the idempotency key of the entry and of its ledger transaction: an event delivered
twice books once. The plan version used is the one in force on the event's date.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from huibao.catalog.models import Insurer
from huibao.core.money import to_fen
from huibao.distribution.models import SalesUnit
from huibao.finance import accounts, ledger
from huibao.finance import commission_rules as rules
from huibao.finance.commission_models import (
    CommissionPlan,
    CommissionRule,
    PlanDirection,
    PlanVersionStatus,
)
from huibao.finance.commission_selectors import (
    UNPAID_KINDS,
    channels_of,
    inbound_rules,
    month_bounds,
    outbound_rules,
    rule_of,
    seller_chain,
    seller_of,
    version_in_force,
)
from huibao.finance.models import CommissionDirection, CommissionEntry, CommissionEvent
from huibao.policy import schedule as policy_schedule
from huibao.policy.models import Policy

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Booked:
    entry: CommissionEntry
    created: bool


def _post(entry: CommissionEntry, insurer: Insurer, unit: SalesUnit | None, description: str) -> None:
    """The entry's ledger transaction (same key). A clawback posts the opposite sides; a zero
    entry posts nothing."""
    amount = entry.amount
    if amount == 0:
        return
    size = abs(amount)
    if entry.direction == CommissionDirection.INBOUND:
        net, vat = rules.split_vat(size)
        receivable = accounts.commission_receivable(insurer)
        if amount > 0:
            lines = [
                ledger.debit(receivable, size, policy_id=entry.policy_id),
                ledger.credit(accounts.commission_income(), net, policy_id=entry.policy_id),
            ]
            if vat:
                lines.append(ledger.credit(accounts.vat_payable(), vat, policy_id=entry.policy_id))
        else:
            lines = [
                ledger.credit(receivable, size, policy_id=entry.policy_id),
                ledger.debit(accounts.commission_income(), net, policy_id=entry.policy_id),
            ]
            if vat:
                lines.append(ledger.debit(accounts.vat_payable(), vat, policy_id=entry.policy_id))
    else:
        assert unit is not None
        expense, payable = accounts.commission_expense(), accounts.commission_payable(unit)
        if amount > 0:
            lines = [
                ledger.debit(expense, size, policy_id=entry.policy_id),
                ledger.credit(payable, size, policy_id=entry.policy_id),
            ]
        else:
            lines = [
                ledger.credit(expense, size, policy_id=entry.policy_id),
                ledger.debit(payable, size, policy_id=entry.policy_id),
            ]
    ledger.post(entry.key, on=entry.occurred_on, description=description, lines=lines)


def _write(
    *,
    key: str,
    direction: str,
    event: str,
    policy: Policy | None,
    insurer: Insurer,
    unit: SalesUnit | None,
    year: int,
    computed: rules.Computed | None,
    amount: Decimal,
    explanation: dict[str, Any],
    on: datetime.date,
    description: str,
) -> Booked:
    existing = CommissionEntry.objects.filter(key=key).first()
    if existing is not None:
        return Booked(existing, False)
    try:
        with transaction.atomic():
            entry = CommissionEntry.objects.create(
                key=key,
                direction=direction,
                event=event,
                policy=policy,
                insurer=insurer,
                sales_unit=unit,
                policy_year=year,
                base=computed.base if computed is not None else Decimal(0),
                rate=computed.rate if computed is not None else None,
                amount=amount,
                explanation=explanation,
                occurred_on=on,
            )
            _post(entry, insurer, unit, description)
    except IntegrityError:
        # Written concurrently under the same key (a job and a sweep, say): theirs is the one.
        existing = CommissionEntry.objects.filter(key=key).first()
        if existing is None:
            raise
        return Booked(existing, False)
    return Booked(entry, True)


def _payment_mode(policy: Policy) -> str:
    premium = policy_schedule.loads(policy.schedule).get("premium", {})
    return str(premium.get("payment_mode") or "single")


def _first_collected(policy: Policy) -> Decimal:
    """The premium collected when the policy was issued: the first instalment, or all of it."""
    premium = policy_schedule.loads(policy.schedule).get("premium", {})
    first = premium.get("first_instalment")
    return Decimal(str(first)) if first not in (None, "") else policy.premium


def continuity_year(policy: Policy) -> int:
    """A renewal of a short-term policy is a new policy, but its business is renewal business:
    its year is 1 + the number of policies it renews in a row, so "year 2 and later" rules pay
    renewals (docs/commission.md)."""
    year, current = 1, policy
    while current.renewed_from_id is not None and year < 100:
        year += 1
        current = Policy.objects.only("id", "renewed_from_id").get(pk=current.renewed_from_id)
    return year


def policy_year_on(policy: Policy, day: datetime.date) -> int:
    start = timezone.localtime(policy.effective_at).date()
    years = day.year - start.year - ((day.month, day.day) < (start.month, start.day))
    return max(1, years + 1)


def _book_sale(
    policy: Policy,
    *,
    event: str,
    key: str,
    premium: Decimal,
    year: int,
    on: datetime.date,
    share: Decimal,
    what: str,
) -> list[Booked]:
    """Inbound from the insurer and outbound to each paid party up the seller's chain."""
    product = policy.product_version.product
    insurer = policy.insurer
    chain = seller_chain(seller_of(policy))
    mode = _payment_mode(policy)
    sale = rules.Sale(
        insurer_id=insurer.pk,
        product_id=product.pk,
        line=product.line,
        mode=mode,
        year=year,
        channels=channels_of(chain),
    )
    booked: list[Booked] = []
    inbound = _resolve(inbound_rules(insurer.pk, on), sale, key)
    if inbound is not None:
        computed = rules.commission_of(inbound, premium=premium, line=product.line, share=share)
        _net, vat = rules.split_vat(abs(computed.amount))
        explanation = {
            **computed.explanation,
            "mode": mode,
            "year": year,
            "what": what,
            "commission_vat": str(vat),
        }
        booked.append(
            _write(
                key=f"{key}:inbound",
                direction=CommissionDirection.INBOUND,
                event=event,
                policy=policy,
                insurer=insurer,
                unit=None,
                year=year,
                computed=computed,
                amount=computed.amount,
                explanation=explanation,
                on=on,
                description=f"手续费 {what} {policy.number}",
            )
        )
    for party in chain:
        if party.kind in UNPAID_KINDS:
            continue
        rule = _resolve(outbound_rules(party.pk, on), sale, key)
        if rule is None:
            continue
        computed = rules.commission_of(rule, premium=premium, line=product.line, share=share)
        booked.append(
            _write(
                key=f"{key}:outbound:{party.code}",
                direction=CommissionDirection.OUTBOUND,
                event=event,
                policy=policy,
                insurer=insurer,
                unit=party,
                year=year,
                computed=computed,
                amount=computed.amount,
                explanation={**computed.explanation, "mode": mode, "year": year, "what": what},
                on=on,
                description=f"佣金 {what} {policy.number} {party.code}",
            )
        )
    return booked


def _resolve(found: list[rules.Rule], sale: rules.Sale, key: str) -> rules.Rule | None:
    """The rule of a sale; two plans of one party in force at once can still be ambiguous (each
    version is checked alone at publication): logged and nothing booked, never a failed sale."""
    try:
        return rules.resolve(found, sale)
    except rules.CommissionRuleError as exc:
        log.warning("commission %s not booked: %s", key, exc.message)
        return None


def book_issued(policy: Policy) -> list[Booked]:
    """The commission of an issued policy (a renewal too: see `continuity_year`)."""
    on = timezone.localdate(policy.issued_at)
    return _book_sale(
        policy,
        event=CommissionEvent.ISSUED,
        key=f"commission:issued:{policy.number}",
        premium=_first_collected(policy),
        year=continuity_year(policy),
        on=on,
        share=Decimal(1),
        what="承保" if policy.renewed_from_id is None else "续保承保",
    )


def book_instalment(
    policy: Policy, *, number: int, amount: Decimal, due_on: datetime.date, on: datetime.date
) -> list[Booked]:
    """A later instalment collected: the rates of its policy year (a fixed amount was paid at
    issuance and is not paid again)."""
    if number <= 1:
        return []  # the first is the issuance's
    year = continuity_year(policy) + policy_year_on(policy, due_on) - 1
    return _book_sale(
        policy,
        event=CommissionEvent.RENEWAL_PREMIUM,
        key=f"commission:instalment:{policy.number}:{number}",
        premium=amount,
        year=year,
        on=on,
        share=Decimal(0),
        what=f"第{number}期保费",
    )


def book_endorsement(
    policy: Policy, *, endorsement_number: str, delta: Decimal, on: datetime.date
) -> list[Booked]:
    """Commission on an endorsement's premium delta (negative delta, negative entry)."""
    if delta == 0:
        return []
    year = continuity_year(policy) + policy_year_on(policy, on) - 1
    return _book_sale(
        policy,
        event=CommissionEvent.ENDORSEMENT,
        key=f"commission:endorsement:{endorsement_number}",
        premium=delta,
        year=year,
        on=on,
        share=Decimal(0),
        what=f"批改{endorsement_number}",
    )


def book_cancellation(
    policy: Policy, *, refund: Decimal, paid: Decimal, in_cooling_off: bool, on: datetime.date
) -> list[Booked]:
    """Claws back, for each party paid on the policy, per the rule its issuance was paid by."""
    booked: list[Booked] = []
    entries = CommissionEntry.objects.filter(policy=policy).exclude(event=CommissionEvent.CANCELLATION)
    parties: dict[tuple[str, int | None], list[CommissionEntry]] = {}
    for entry in entries.select_related("sales_unit").order_by("id"):
        parties.setdefault((entry.direction, entry.sales_unit_id), []).append(entry)
    for (direction, _unit_id), rows in parties.items():
        earned = sum((r.amount for r in rows), Decimal(0))
        rule_id = rows[0].explanation.get("rule")
        row = CommissionRule.objects.filter(pk=rule_id).first() if rule_id else None
        rule = rule_of(row) if row is not None else rules.Rule(id=0, version_id=0)
        amount, how = rules.clawback_of(
            rule, earned=earned, refund=refund, paid=paid, in_cooling_off=in_cooling_off
        )
        unit = rows[0].sales_unit
        suffix = (
            "inbound" if direction == CommissionDirection.INBOUND else f"outbound:{unit.code if unit else ''}"
        )
        booked.append(
            _write(
                key=f"commission:cancellation:{policy.number}:{suffix}",
                direction=direction,
                event=CommissionEvent.CANCELLATION,
                policy=policy,
                insurer=policy.insurer,
                unit=unit,
                year=rows[-1].policy_year,
                computed=None,
                amount=amount,
                explanation={"rule": rule_id, "version": rule.version_id or None, "what": "退保追回", **how},
                on=on,
                description=f"退保追回 {policy.number}",
            )
        )
    return booked


# --- hook listeners ------------------------------------------------------------------------------


def on_instalment_paid(event: Any) -> None:
    """billing.instalment_paid["policy"]: the instalment's commission."""
    policy = (
        Policy.objects.select_related("insurer", "product_version__product", "seller")
        .filter(number=event.reference_id)
        .first()
    )
    if policy is None:
        return
    book_instalment(
        policy, number=event.number, amount=event.amount, due_on=event.due_on, on=timezone.localdate()
    )


def on_endorsement_applied(event: Any) -> None:
    book_endorsement(
        event.policy, endorsement_number=event.endorsement.number, delta=event.premium_delta, on=event.on
    )


def on_cancellation_confirmed(event: Any) -> None:
    book_cancellation(
        event.policy, refund=event.refund, paid=event.paid, in_cooling_off=event.in_cooling_off, on=event.on
    )


def backfill(policies: Iterable[Policy]) -> int:
    """Books the issuance entries of policies issued before their plans existed (idempotent)."""
    count = 0
    for policy in policies:
        count += sum(1 for b in book_issued(policy) if b.created)
    return count


# --- month and quarter end -----------------------------------------------------------------------


PREMIUM_EVENTS = (CommissionEvent.ISSUED, CommissionEvent.RENEWAL_PREMIUM, CommissionEvent.ENDORSEMENT)


def _premium_of(entries: Iterable[CommissionEntry]) -> Decimal:
    return sum((Decimal(e.explanation.get("premium", "0")) for e in entries), Decimal(0))


def settle_tiers(month: datetime.date) -> list[Booked]:
    """Volume tiers apply to the whole month (retroactively): once the month is over, each
    inbound rule with tiers whose insurer's month premium reached a tier gets a BONUS entry of
    (tier rate − base rate) × the net premium booked under it in the month."""
    first, last = month_bounds(month)
    booked: list[Booked] = []
    tiered = (
        CommissionRule.objects.filter(
            version__status=PlanVersionStatus.PUBLISHED, version__plan__direction=PlanDirection.INBOUND
        )
        .exclude(tiers=[])
        .select_related("version__plan__insurer")
    )
    for row in tiered:
        insurer = row.version.plan.insurer
        assert insurer is not None
        month_entries = list(
            CommissionEntry.objects.filter(
                insurer=insurer,
                direction=CommissionDirection.INBOUND,
                event__in=PREMIUM_EVENTS,
                occurred_on__range=(first, last),
            )
        )
        if not month_entries:
            continue
        month_premium = _premium_of(month_entries)
        rule = rule_of(row)
        bases = [e.base for e in month_entries if e.explanation.get("rule") == row.pk]
        tier, amount = rules.tier_difference(rule, month_premium=month_premium, bases=bases)
        if amount == 0:
            continue
        _, rate = rules.tier_rate(rule, month_premium)
        booked.append(
            _write(
                key=f"commission:tier:{row.pk}:{first:%Y-%m}",
                direction=CommissionDirection.INBOUND,
                event=CommissionEvent.BONUS,
                policy=None,
                insurer=insurer,
                unit=None,
                year=1,
                computed=None,
                amount=amount,
                explanation={
                    "rule": row.pk,
                    "version": row.version_id,
                    "what": "阶梯费率补差",
                    "month": f"{first:%Y-%m}",
                    "month_premium": str(month_premium),
                    "tier": tier,
                    "tier_rate": str(rate),
                    "base_rate": str(rule.rate),
                    "base": str(sum(bases, Decimal(0))),
                    "rounding": "half_up_fen",
                },
                on=last,
                description=f"阶梯手续费补差 {insurer.code} {first:%Y-%m}",
            )
        )
    return booked


def settle_targets(quarter_end: datetime.date) -> list[Booked]:
    """A quarter's target bonus per inbound plan version in force at the quarter's end."""
    q = (quarter_end.month - 1) // 3
    first = datetime.date(quarter_end.year, q * 3 + 1, 1)
    _, last = month_bounds(datetime.date(quarter_end.year, q * 3 + 3, 1))
    booked: list[Booked] = []
    for plan in CommissionPlan.objects.filter(direction=PlanDirection.INBOUND).select_related("insurer"):
        version = version_in_force(plan, last)
        if version is None or not version.targets:
            continue
        assert plan.insurer is not None
        entries = CommissionEntry.objects.filter(
            insurer=plan.insurer,
            direction=CommissionDirection.INBOUND,
            event__in=PREMIUM_EVENTS,
            occurred_on__range=(first, last),
        )
        premium = _premium_of(entries)
        targets = [
            rules.Target(Decimal(str(t["premium"])), Decimal(str(t["bonus"]))) for t in version.targets
        ]
        bonus = rules.target_bonus(targets, premium)
        if bonus == 0:
            continue
        booked.append(
            _write(
                key=f"commission:target:{version.pk}:{last.year}Q{q + 1}",
                direction=CommissionDirection.INBOUND,
                event=CommissionEvent.BONUS,
                policy=None,
                insurer=plan.insurer,
                unit=None,
                year=1,
                computed=None,
                amount=bonus,
                explanation={
                    "version": version.pk,
                    "what": "季度达标奖励",
                    "quarter": f"{last.year}Q{q + 1}",
                    "quarter_premium": str(premium),
                    "targets": version.targets,
                },
                on=last,
                description=f"季度达标奖励 {plan.insurer.code} {last.year}Q{q + 1}",
            )
        )
    return booked


def month_end(run_date: datetime.date) -> list[Booked]:
    """On the first day of a month: the previous month's tiers (and the previous quarter's
    targets on the first day of a quarter). Any other day: nothing."""
    if run_date.day != 1:
        return []
    previous = run_date - datetime.timedelta(days=1)
    booked = settle_tiers(previous)
    if run_date.month in (1, 4, 7, 10):
        booked += settle_targets(previous)
    return booked


def earned_total(policy: Policy, *, direction: str, unit: SalesUnit | None = None) -> Decimal:
    query = CommissionEntry.objects.filter(policy=policy, direction=direction)
    if unit is not None:
        query = query.filter(sales_unit=unit)
    # to the fen: SQLite sums decimals as floats
    return to_fen(query.aggregate(s=Sum("amount"))["s"] or Decimal(0))
