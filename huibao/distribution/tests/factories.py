"""Distribution test helpers: an agency, agreements and a small hierarchy."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

from django.utils import timezone

from huibao.catalog.models import Insurer, LineOfBusiness
from huibao.catalog.tests.factories import InsurerFactory
from huibao.distribution import services
from huibao.distribution.models import AgencyEntity, InsurerAgreement, SalesUnit

_seq = itertools.count(1)


def agency(lines: tuple[str, ...] | None = None, **kw: Any) -> AgencyEntity:
    n = next(_seq)
    return AgencyEntity.objects.create(
        code=kw.pop("code", f"agency{n}"),
        name=kw.pop("name", f"测试保险代理有限公司{n}"),
        licence_number=kw.pop("licence_number", f"2601310000{n:05d}"),
        licence_lines=list(lines if lines is not None else LineOfBusiness.values),
        **kw,
    )


def bare_insurer() -> Insurer:
    """An insurer without any agreement (its products do not sell)."""
    return InsurerFactory(agreement=False)


def draft(
    insurer: Insurer, *, lines: tuple[str, ...] = ("accident",), products: tuple[int, ...] = (), **kw: Any
) -> InsurerAgreement:
    today = timezone.localdate()
    return services.create_agreement(
        services.AgreementData(
            number=kw.pop("number", f"XY-{next(_seq):05d}"),
            agency=kw.pop("agency_obj", None) or services.default_agency(),
            insurer=insurer,
            lines=lines,
            product_ids=products,
            valid_from=kw.pop("valid_from", today - datetime.timedelta(days=30)),
            valid_until=kw.pop("valid_until", None),
        ),
        actor=None,
    )


def active(insurer: Insurer, **kw: Any) -> InsurerAgreement:
    agreement = draft(insurer, **kw)
    services.transition(agreement, "active", actor=None)
    return agreement


def unit(code: str, kind: str, parent: SalesUnit | None = None, **kw: Any) -> SalesUnit:
    return services.create_unit(
        services.UnitData(code=code, name=kw.pop("name", code), kind=kind, parent=parent, **kw), actor=None
    )


def tree() -> dict[str, SalesUnit]:
    """HQ → BR → T1 → A1 (accident, travel), A2; HQ → CH → SUB."""
    hq = unit("HQ", "agency")
    br = unit("BR", "branch", hq)
    t1 = unit("T1", "team", br)
    a1 = unit("A1", "agent", t1, licence_lines=("accident", "travel"), licence_number="L1")
    a2 = unit("A2", "agent", t1, licence_lines=("accident",))
    ch = unit("CH", "channel", hq)
    sub = unit("SUB", "subchannel", ch)
    return {"HQ": hq, "BR": br, "T1": t1, "A1": a1, "A2": a2, "CH": ch, "SUB": sub}
