"""Commission reads: the rules of a party in force on a day, the seller's chain, a product's
premium modes. Shared by the plans (`commission_plans.py`) and the entries (`commissions.py`)."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from django.db.models import Q

from huibao.catalog.models import Product
from huibao.distribution.models import SalesUnit, SalesUnitKind
from huibao.finance import commission_rules as rules
from huibao.finance.commission_models import (
    CommissionPlan,
    CommissionPlanVersion,
    CommissionRule,
    PlanDirection,
    PlanVersionStatus,
)
from huibao.policy.models import Policy

CHANNEL_KINDS = (SalesUnitKind.CHANNEL, SalesUnitKind.SUBCHANNEL)
# The root of the hierarchy is the agency itself: it is not paid commission.
UNPAID_KINDS = (SalesUnitKind.AGENCY,)


def rule_of(row: CommissionRule) -> rules.Rule:
    return rules.Rule(
        id=row.pk,
        version_id=row.version_id,
        basis=row.basis,
        rate=row.rate,
        fixed_amount=row.fixed_amount,
        insurer_id=row.insurer_id,
        product_id=row.product_id,
        line=row.line,
        channel_id=row.channel_id,
        mode=row.mode,
        year=row.year,
        and_later=row.and_later,
        vat_rate=row.vat_rate,
        clawback=row.clawback,
        clawback_percent=row.clawback_percent,
        tiers=tuple(
            rules.Tier(Decimal(str(t["threshold"])), Decimal(str(t["rate"]))) for t in row.tiers or []
        ),
    )


def version_in_force(plan: CommissionPlan | int, on: datetime.date) -> CommissionPlanVersion | None:
    plan_id = plan if isinstance(plan, int) else plan.pk
    return (
        CommissionPlanVersion.objects.filter(
            plan_id=plan_id, status=PlanVersionStatus.PUBLISHED, valid_from__lte=on
        )
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on))
        .order_by("-valid_from", "-number")
        .first()
    )


def _rules_in_force(plans: Iterable[CommissionPlan], on: datetime.date) -> list[rules.Rule]:
    found: list[rules.Rule] = []
    for plan in plans:
        version = version_in_force(plan, on)
        if version is not None:
            found.extend(rule_of(r) for r in version.rules.all())
    return found


def inbound_rules(insurer_id: int, on: datetime.date) -> list[rules.Rule]:
    plans = CommissionPlan.objects.filter(direction=PlanDirection.INBOUND, insurer_id=insurer_id)
    found = _rules_in_force(plans, on)
    # an inbound rule is always its plan's insurer's
    return [dataclasses.replace(r, insurer_id=insurer_id) for r in found]


def outbound_rules(unit_id: int, on: datetime.date) -> list[rules.Rule]:
    return _rules_in_force(
        CommissionPlan.objects.filter(direction=PlanDirection.OUTBOUND, sales_unit_id=unit_id), on
    )


def cached_rules(
    cache: dict[int, list[rules.Rule]],
    key: int,
    on: datetime.date,
    read: Callable[[int, datetime.date], list[rules.Rule]],
) -> list[rules.Rule]:
    found = cache.get(key)
    if found is None:
        found = cache[key] = read(key, on)
    return found


def seller_chain(unit: SalesUnit | None) -> list[SalesUnit]:
    """The seller and its parents up to the root, nearest first."""
    chain: list[SalesUnit] = []
    seen: set[int] = set()
    while unit is not None and unit.pk not in seen:
        chain.append(unit)
        seen.add(unit.pk)
        unit = unit.parent
    return chain


def channels_of(chain: Sequence[SalesUnit]) -> tuple[int, ...]:
    return tuple(u.pk for u in chain if u.kind in CHANNEL_KINDS)


def seller_of(policy: Policy) -> SalesUnit | None:
    """Who sold the policy: `Policy.seller`, copied from the application at issuance (a renewal
    keeps its predecessor's)."""
    return policy.seller if policy.seller_id is not None else None


def reference_premium(product: Product) -> Decimal:
    return product.premium_from or Decimal("1000")


def modes_of(product: Product) -> list[str]:
    version = product.current_version
    modes = list(version.payment_modes or []) if version is not None else []
    return modes or ["single"]


def month_bounds(month: datetime.date) -> tuple[datetime.date, datetime.date]:
    first = month.replace(day=1)
    nxt = (first + datetime.timedelta(days=32)).replace(day=1)
    return first, nxt - datetime.timedelta(days=1)
