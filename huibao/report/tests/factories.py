"""A small seeded sales world for the report tests: one agency with a branch, two teams, three
agents and a partner channel with a sub-channel; policies, commission entries and cancellations
written directly (the reports only read them)."""

from __future__ import annotations

import datetime
import itertools
import zoneinfo
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group, Permission

from huibao.account.models import User, UserKind
from huibao.catalog.models import LineOfBusiness
from huibao.catalog.tests.factories import InsurerFactory, PlanFactory, ProductFactory, ProductVersionFactory
from huibao.distribution.models import AgencyEntity, SalesUnit, SalesUnitKind
from huibao.finance.models import CommissionDirection, CommissionEntry, CommissionEvent
from huibao.policy.models import Cancellation, Policy
from huibao.policy.states import CancellationKind, CancellationReason, CancellationStatus, PolicyStatus

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
_seq = itertools.count(1)


def at(day: datetime.date, hour: int = 12, minute: int = 0) -> datetime.datetime:
    """A moment of a local (Asia/Shanghai) day."""
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=SH)


def staff_user(username: str, *, perms: tuple[str, ...] = (), groups: tuple[str, ...] = ()) -> User:
    user = User.objects.create_user(
        username=username,
        password="x-unused-123",
        kind=UserKind.STAFF,
        is_staff=True,
        email=f"{username}@example.com",
    )
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return User.objects.get(pk=user.pk)


def unit(code: str, kind: str, parent: SalesUnit | None, agency: AgencyEntity, **kwargs: Any) -> SalesUnit:
    path = f"{parent.path}/{code}" if parent else code
    return SalesUnit.objects.create(
        code=code, name=kwargs.pop("name", code), kind=kind, parent=parent, path=path, agency=agency, **kwargs
    )


class World:
    """HQ ─ SH (branch) ─ SH-T1 (team: A1, A2) and SH-T2 (team: A3); HQ ─ CH (channel) ─ CH-S (sub)."""

    def __init__(self) -> None:
        self.agency = AgencyEntity.objects.create(code="hb", name="汇保保险代理", licence_number="L-1")
        self.hq = unit("HQ", SalesUnitKind.AGENCY, None, self.agency, name="总公司")
        self.branch = unit("SH", SalesUnitKind.BRANCH, self.hq, self.agency, name="上海分公司")
        self.team1 = unit("SH-T1", SalesUnitKind.TEAM, self.branch, self.agency, name="一组")
        self.team2 = unit("SH-T2", SalesUnitKind.TEAM, self.branch, self.agency, name="二组")
        self.agent_users = [staff_user(f"agent{i}") for i in (1, 2, 3)]
        self.a1 = unit(
            "A1", SalesUnitKind.AGENT, self.team1, self.agency, name="张一", user=self.agent_users[0]
        )
        self.a2 = unit(
            "A2", SalesUnitKind.AGENT, self.team1, self.agency, name="李二", user=self.agent_users[1]
        )
        self.a3 = unit(
            "A3", SalesUnitKind.AGENT, self.team2, self.agency, name="王三", user=self.agent_users[2]
        )
        self.channel = unit("CH", SalesUnitKind.CHANNEL, self.hq, self.agency, name="合作渠道")
        self.sub = unit("CH-S", SalesUnitKind.SUBCHANNEL, self.channel, self.agency, name="子渠道")
        self.pingan = InsurerFactory(code="pingan", name="平安")
        self.picc = InsurerFactory(code="picc", name="人保")
        self.health = _version(self.pingan, "health-1", "安心医疗", LineOfBusiness.MEDICAL)
        self.accident = _version(self.picc, "acc-1", "意外险", LineOfBusiness.ACCIDENT)


def _version(insurer: Any, code: str, name: str, line: str) -> Any:
    product = ProductFactory(code=code, name=name, line=line, insurer=insurer)
    version = ProductVersionFactory(product=product)
    PlanFactory(version=version, code="basic", name="标准版")
    return version


def policy(
    version: Any,
    seller: SalesUnit | None,
    issued_at: datetime.datetime,
    premium: str,
    *,
    holder: str = "王小明",
    cooling_off_until: datetime.date | None = None,
    status: str = PolicyStatus.IN_FORCE,
) -> Policy:
    n = next(_seq)
    return Policy.objects.create(
        number=f"P{n:010d}",
        insurer=version.product.insurer,
        product_version=version,
        plan=version.plans.first(),
        channel="agent" if seller else "web",
        seller=seller,
        status=status,
        holder_name=holder,
        holder_id_hash=f"h{n}",
        insured_name=holder,
        insured_id_hash=f"i{n}",
        schedule="{}",
        premium=Decimal(premium),
        effective_at=issued_at,
        issued_at=issued_at,
        cooling_off_until=cooling_off_until,
        retention_until=datetime.date(2040, 1, 1),
    )


def commission(
    p: Policy | None,
    amount: str,
    on: datetime.date,
    *,
    direction: str = CommissionDirection.INBOUND,
    to: SalesUnit | None = None,
    insurer: Any = None,
    paid: bool = False,
    event: str = CommissionEvent.ISSUED,
) -> CommissionEntry:
    return CommissionEntry.objects.create(
        key=f"c{next(_seq)}",
        direction=direction,
        event=event,
        policy=p,
        insurer=insurer or p.insurer,
        sales_unit=to,
        amount=Decimal(amount),
        occurred_on=on,
        paid_at=at(on) if paid else None,
    )


def cancellation(p: Policy, confirmed_at: datetime.datetime, refund: str) -> Cancellation:
    return Cancellation.objects.create(
        policy=p,
        kind=CancellationKind.COOLING_OFF,
        status=CancellationStatus.COMPLETED,
        method="cooling_off",
        request_date=confirmed_at.date(),
        paid=p.premium,
        amount=Decimal(refund),
        reason=CancellationReason.NO_LONGER_NEEDED,
        confirmed_at=confirmed_at,
    )
