"""A sales hierarchy set by hand (parent and path), commission plans published, and policies
issued through the policy factories with a seller."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from huibao.catalog.models import Insurer, ProductVersion
from huibao.distribution.models import AgencyEntity, SalesUnit, SalesUnitKind
from huibao.finance import commission_plans
from huibao.finance.commission_models import CommissionPlanVersion
from huibao.finance.tests.booking_jobs import run_booking_jobs
from huibao.policy.models import Policy
from huibao.policy.tests import factories as f

SINCE = datetime.date(2020, 1, 1)


def unit(code: str, kind: str, parent: SalesUnit | None, agency: AgencyEntity) -> SalesUnit:
    path = f"{parent.path}/{code}" if parent else code
    return SalesUnit.objects.create(
        code=code, name=f"单位{code}", kind=kind, parent=parent, path=path, agency=agency
    )


@dataclass
class Hierarchy:
    agency: SalesUnit
    branch: SalesUnit
    team: SalesUnit
    agent: SalesUnit
    channel: SalesUnit
    subchannel: SalesUnit


def hierarchy() -> Hierarchy:
    entity = AgencyEntity.objects.create(code="hb", name="汇保保险代理", licence_number="260000000000")
    hq = unit("HQ", SalesUnitKind.AGENCY, None, entity)
    branch = unit("SH", SalesUnitKind.BRANCH, hq, entity)
    team = unit("SH-T1", SalesUnitKind.TEAM, branch, entity)
    agent = unit("A0001", SalesUnitKind.AGENT, team, entity)
    channel = unit("CH-MT", SalesUnitKind.CHANNEL, hq, entity)
    sub = unit("CH-MT-1", SalesUnitKind.SUBCHANNEL, channel, entity)
    return Hierarchy(hq, branch, team, agent, channel, sub)


def plan(
    code: str,
    rules: list[dict[str, Any]],
    *,
    insurer: Insurer | None = None,
    unit: SalesUnit | None = None,
    valid_from: datetime.date = SINCE,
    publish: bool = True,
    targets: list[dict[str, str]] | None = None,
) -> CommissionPlanVersion:
    version = commission_plans.create_plan(
        code=code,
        name=f"政策{code}",
        direction="inbound" if insurer is not None else "outbound",
        valid_from=valid_from,
        insurer=insurer,
        sales_unit=unit,
    )
    if targets:
        version.targets = targets
        version.save(update_fields=["targets"])
    for data in rules:
        commission_plans.add_rule(version, data)
    return commission_plans.publish(version) if publish else version


def issued(
    version: ProductVersion, *, seller: SalesUnit | None, premium: str = "1060.00", mode: str = "annual"
) -> Policy:
    """One policy issued through the policy factories, and its booking job run (as the worker
    runs it after the issuing commit)."""
    app = f.application(
        [(version, f.Person(), 500_000, Decimal(premium), {"term": "1y", "payment_mode": mode})]
    )
    if seller is not None:
        app.seller = seller
        app.save(update_fields=["seller"])
    policy = f.issue(app)[0]
    run_booking_jobs()
    return policy
