"""Demo data of settlement: for three demo insurers (an agreement each when they have none: net,
gross, and the insurer collecting), two months of premium in the ledger and the commission on
it, a channel and an agent paid commission, and the statements of both months — last month's
drafts and one submitted for approval, the month before's left unpaid past its due date (so the
overdue filter and alert have something to show). Idempotent: keys and generation are."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from huibao.catalog.models import Insurer
from huibao.core.errors import DomainError
from huibao.core.money import to_fen
from huibao.distribution.models import (
    AgencyEntity,
    AgreementStatus,
    InsurerAgreement,
    SalesUnit,
    SalesUnitKind,
)
from huibao.finance import accounts, ledger, settlement
from huibao.finance.models import CommissionEntry
from huibao.finance.settlement_states import StatementStatus
from huibao.policy.models import Policy

# (premium collector, net settlement, inbound rate)
TERMS = (
    ("agency", True, Decimal("0.18")),
    ("agency", False, Decimal("0.15")),
    ("insurer", True, Decimal("0.22")),
)
PREMIUMS = tuple(
    Decimal(p) for p in ("368.00", "1280.00", "2460.00", "96.00", "5380.00", "732.50", "1890.00", "15800.00")
)
CHANNEL_RATE = Decimal("0.08")
AGENT_RATE = Decimal("0.10")


@dataclass(frozen=True, slots=True)
class DemoSettlement:
    statements: int
    overdue: int


def _month_start(day: datetime.date, back: int) -> datetime.date:
    year, month = day.year, day.month - back
    while month < 1:
        year, month = year - 1, month + 12
    return datetime.date(year, month, 1)


def _agency() -> AgencyEntity:
    agency = AgencyEntity.objects.order_by("pk").first()
    if agency is None:
        agency = AgencyEntity.objects.create(
            code="huibao",
            name="汇保保险代理有限公司",
            licence_number="260931000000800",
            licence_lines=["accident", "health", "travel", "life", "property"],
            credit_code="91310000MA1FL0000X",
        )
    return agency


def _unit(code: str, name: str, kind: str, parent: SalesUnit | None, agency: AgencyEntity) -> SalesUnit:
    unit = SalesUnit.objects.filter(code=code).first()
    if unit is None:
        path = f"{parent.path}/{code}" if parent else code
        unit = SalesUnit.objects.create(
            code=code, name=name, kind=kind, parent=parent, path=path, agency=agency
        )
    return unit


def load_demo_settlement(today: datetime.date | None = None) -> DemoSettlement:
    today = today or timezone.localdate()
    agency = _agency()
    root = SalesUnit.objects.filter(kind=SalesUnitKind.AGENCY).order_by("pk").first() or _unit(
        "hq", "汇保总公司", SalesUnitKind.AGENCY, None, agency
    )
    channel = _unit("demo-settle-channel", "汇保演示合作渠道", SalesUnitKind.CHANNEL, root, agency)
    branch = _unit("demo-settle-branch", "汇保演示分公司", SalesUnitKind.BRANCH, root, agency)
    team = _unit("demo-settle-team", "汇保演示团队", SalesUnitKind.TEAM, branch, agency)
    agent = _unit("demo-settle-agent", "演示代理人王敏", SalesUnitKind.AGENT, team, agency)
    insurers = list(Insurer.objects.filter(is_active=True).order_by("code")[: len(TERMS)])
    months = [_month_start(today, 2), _month_start(today, 1)]
    with transaction.atomic():
        for insurer, (collector, net, rate) in zip(insurers, TERMS, strict=False):
            if (
                not InsurerAgreement.objects.filter(insurer=insurer)
                .exclude(status=AgreementStatus.DRAFT)
                .exists()
            ):
                InsurerAgreement.objects.create(
                    number=f"HB-DEMO-{insurer.code}"[:40],
                    agency=agency,
                    insurer=insurer,
                    status=AgreementStatus.ACTIVE,
                    valid_from=_month_start(today, 12),
                    premium_collector=collector,
                    net_settlement=net,
                    days_to_pay=15,
                )
            policy_ids = list(Policy.objects.filter(insurer=insurer).values_list("pk", flat=True)[:8])
            for start in months:
                for n, amount in enumerate(PREMIUMS):
                    day = start + datetime.timedelta(days=2 + 3 * n)
                    policy_id = policy_ids[n] if n < len(policy_ids) else None
                    key = f"demo-settlement:{insurer.code}:{start:%Y%m}:{n}"
                    if collector == "agency":
                        ledger.post(
                            f"{key}:premium",
                            on=day,
                            description=f"演示保费 {insurer.short_name}",
                            lines=[
                                ledger.debit(accounts.cash(), amount),
                                ledger.credit(accounts.premium_payable(insurer), amount, policy_id=policy_id),
                            ],
                        )
                    for direction, unit, unit_rate in (
                        ("inbound", None, rate),
                        ("outbound", channel if n % 2 else agent, CHANNEL_RATE if n % 2 else AGENT_RATE),
                    ):
                        CommissionEntry.objects.get_or_create(
                            key=f"{key}:{direction}",
                            defaults={
                                "direction": direction,
                                "event": "issued",
                                "policy_id": policy_id,
                                "insurer": insurer,
                                "sales_unit": unit,
                                "base": amount,
                                "rate": unit_rate,
                                "amount": to_fen(amount * unit_rate),
                                "explanation": {"rule": "demo", "rate": str(unit_rate), "base": str(amount)},
                                "occurred_on": day,
                            },
                        )
    made = 0
    for start in months:
        for insurer in insurers:
            try:
                settlement.generate_insurer_statement(insurer, f"{start:%Y-%m}")
                made += 1
            except DomainError:
                continue
        for unit in (channel, agent):
            try:
                settlement.generate_unit_statement(unit, f"{start:%Y-%m}")
                made += 1
            except DomainError:
                continue
    # One of last month's awaiting approval (prepared by the system: the demo finance user may approve it).
    last = settlement.generate_unit_statement(channel, f"{months[1]:%Y-%m}")
    if last.status == StatementStatus.DRAFT:
        settlement.submit(last, actor=None)
    overdue = len(settlement.flag_overdue(today))
    return DemoSettlement(statements=made, overdue=overdue)
