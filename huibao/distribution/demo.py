"""`load_demo_distribution()`: the demo agency, an active agreement per demo insurer, and a sales
hierarchy — HQ → 2 branches → 2 teams each → 2–3 agents each; 2 partner channels with 2
sub-channels each. The demo `agent` log-in is agent A-SH-0101, the `channel_manager` log-in
manages the 去哪儿 channel. Idempotent: run it again and nothing changes."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from huibao.account.models import User
from huibao.catalog.models import Insurer, LineOfBusiness
from huibao.distribution import services
from huibao.distribution.models import AgencyEntity, SalesUnit, SalesUnitKind, SalesUnitMember

DEMO_AGENT_CODE = "A-SH-0101"
DEMO_CHANNEL_CODE = "CH-QUNAR"
DEMO_AGENT_USERNAME = "agent"
DEMO_CHANNEL_MANAGER_USERNAME = "channel_manager"

PERSONAL_LINES = (
    LineOfBusiness.ACCIDENT,
    LineOfBusiness.TRAVEL,
    LineOfBusiness.MEDICAL,
    LineOfBusiness.CRITICAL_ILLNESS,
    LineOfBusiness.TERM_LIFE,
    LineOfBusiness.PET,
)
SCENARIO_LINES = (
    LineOfBusiness.TRAVEL,
    LineOfBusiness.FLIGHT_DELAY,
    LineOfBusiness.ACCIDENT,
    LineOfBusiness.RETURN_SHIPPING,
    LineOfBusiness.PHONE_SCREEN,
)

# (code, name, kind, parent code, licence lines)
_BRANCHES = (("BR-SH", "上海分公司", "SH"), ("BR-GZ", "广州分公司", "GZ"))
_AGENTS = {
    "SH-T1": ("陆家嘴团队", ("王芳", "李强", "张敏")),
    "SH-T2": ("徐汇团队", ("刘洋", "陈静")),
    "GZ-T1": ("天河团队", ("杨帆", "黄磊", "周婷")),
    "GZ-T2": ("越秀团队", ("吴昊", "郑丽")),
}
_CHANNELS = (
    ("CH-QUNAR", "去哪儿旅行", ("CH-QUNAR-FLT", "机票频道"), ("CH-QUNAR-HTL", "酒店频道"), SCENARIO_LINES),
    ("CH-PDD", "拼多多保险频道", ("CH-PDD-SHOP", "购物保障"), ("CH-PDD-PHONE", "数码保障"), SCENARIO_LINES),
)


@dataclass(frozen=True, slots=True)
class DemoDistribution:
    agency: AgencyEntity
    agreements: int
    units: int
    agent_code: str
    channel_code: str


def _unit(
    code: str,
    name: str,
    kind: str,
    parent: SalesUnit | None,
    *,
    user: User | None = None,
    lines: tuple[str, ...] = (),
    licence: str = "",
    valid_until: datetime.date | None = None,
) -> SalesUnit:
    found = SalesUnit.objects.filter(code=code).first()
    if found is not None:
        if user is not None and found.user_id is None and not SalesUnit.objects.filter(user=user).exists():
            found.user = user
            found.save(update_fields=["user"])
        return found
    return services.create_unit(
        services.UnitData(
            code=code,
            name=name,
            kind=kind,
            parent=parent,
            user=user,
            licence_number=licence,
            licence_lines=tuple(str(line) for line in lines),
            licence_valid_until=valid_until,
        ),
        actor=None,
    )


def load_demo_distribution() -> DemoDistribution:
    today = timezone.localdate()
    with transaction.atomic():
        agency = services.default_agency()
        services.ensure_demo_agreements(Insurer.objects.values_list("pk", flat=True))
        hq = _unit("HQ", "汇保总部", SalesUnitKind.AGENCY, None)
        serial = 0
        for branch_code, branch_name, city in _BRANCHES:
            branch = _unit(branch_code, branch_name, SalesUnitKind.BRANCH, hq)
            for team_code, (team_name, agents) in _AGENTS.items():
                if not team_code.startswith(city):
                    continue
                team = _unit(team_code, team_name, SalesUnitKind.TEAM, branch)
                for n, person in enumerate(agents, start=1):
                    serial += 1
                    code = f"A-{team_code.replace('-T', '-0')}{n:02d}"
                    demo_user = (
                        User.objects.filter(username=DEMO_AGENT_USERNAME).first()
                        if code == DEMO_AGENT_CODE
                        else None
                    )
                    # One agent's registration runs out soon, one lacks life lines: the pages show both.
                    lines = PERSONAL_LINES if n != 3 else PERSONAL_LINES[:3]
                    _unit(
                        code,
                        person,
                        SalesUnitKind.AGENT,
                        team,
                        user=demo_user,
                        lines=lines,
                        licence=f"0201{31 if city == 'SH' else 44}0000{serial:06d}",
                        valid_until=today + datetime.timedelta(days=20 if serial == 5 else 700),
                    )
        for code, name, sub1, sub2, channel_lines in _CHANNELS:
            channel = _unit(
                code, name, SalesUnitKind.CHANNEL, hq, lines=channel_lines, licence=f"JY{code[3:]}2025"
            )
            for sub_code, sub_name in (sub1, sub2):
                _unit(sub_code, sub_name, SalesUnitKind.SUBCHANNEL, channel)
        manager = User.objects.filter(username=DEMO_CHANNEL_MANAGER_USERNAME).first()
        if manager is not None:
            qunar = SalesUnit.objects.get(code=DEMO_CHANNEL_CODE)
            SalesUnitMember.objects.get_or_create(unit=qunar, user=manager, defaults={"is_manager": True})
    return DemoDistribution(
        agency=agency,
        agreements=agency.agreements.count(),
        units=SalesUnit.objects.count(),
        agent_code=DEMO_AGENT_CODE,
        channel_code=DEMO_CHANNEL_CODE,
    )
