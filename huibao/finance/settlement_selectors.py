"""Reads of settlement statements and the one access checkpoint: finance staff see every
statement; an insurer's staff (`distribution.InsurerMember`) only their insurer's; a channel's
or a branch's staff (`distribution.SalesUnitMember`) only their unit's subtree's; an agent only
their own. Anyone else sees none, and another party's statement is "not found" (404), never
"forbidden", so its existence is not given away."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from huibao.core.errors import NotFound
from huibao.distribution.models import InsurerMember, SalesUnit, SalesUnitMember
from huibao.finance import settlement_rules as rules
from huibao.finance.settlement_models import SettlementLine, SettlementStatement
from huibao.finance.settlement_states import OPEN_STATUSES

VIEW_ALL = "finance.view_settlementstatement"


def is_overdue(statement: SettlementStatement, today: datetime.date | None = None) -> bool:
    """The one owner of "overdue": unpaid (open) and past its due date."""
    return statement.status in OPEN_STATUSES and rules.is_overdue(
        statement.due_on, today or timezone.localdate()
    )


def visible_to(user: Any, *, staff_view: bool) -> QuerySet[SettlementStatement]:
    """The statements `user` may see. `staff_view`: the caller checked the user is verified
    staff (a session with TOTP, or a staff token); only then does the permission count."""
    base = SettlementStatement.objects.select_related("insurer", "sales_unit")
    if not getattr(user, "is_authenticated", False):
        return base.none()
    if staff_view and user.has_perm(VIEW_ALL):
        return base.all()
    scope = Q(pk__in=[])
    insurer_ids = list(InsurerMember.objects.filter(user=user).values_list("insurer_id", flat=True))
    if insurer_ids:
        scope |= Q(insurer_id__in=insurer_ids)
    paths = list(SalesUnitMember.objects.filter(user=user).values_list("unit__path", flat=True))
    own = SalesUnit.objects.filter(user=user).values_list("pk", flat=True).first()
    unit_scope = Q(pk__in=[])
    for path in paths:
        unit_scope |= Q(path=path) | Q(path__startswith=f"{path}/")
    if paths:
        scope |= Q(sales_unit__in=SalesUnit.objects.filter(unit_scope))
    if own is not None:
        scope |= Q(sales_unit_id=own)
    return base.filter(scope)


def is_partner(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and (
            InsurerMember.objects.filter(user=user).exists()
            or SalesUnitMember.objects.filter(user=user).exists()
            or SalesUnit.objects.filter(user=user).exists()
        )
    )


@dataclass(frozen=True, slots=True)
class Filters:
    party: str = ""  # an insurer's or a unit's code
    party_kind: str = ""
    period: str = ""  # "2026-11" | "2026-Q4"
    status: str = ""
    overdue: bool = False


def statements(
    user: Any, filters: Filters, *, staff_view: bool, today: datetime.date | None = None
) -> QuerySet[SettlementStatement]:
    rows = visible_to(user, staff_view=staff_view)
    if filters.party:
        rows = rows.filter(Q(insurer__code=filters.party) | Q(sales_unit__code=filters.party))
    if filters.party_kind:
        rows = rows.filter(party_kind=filters.party_kind)
    if filters.period:
        rows = rows.filter(period_key=filters.period.upper() if "q" in filters.period else filters.period)
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.overdue:
        rows = rows.filter(status__in=OPEN_STATUSES, due_on__lt=today or timezone.localdate())
    return rows.order_by("-period_start", "party_kind", "party_name", "id")


def statement_for(user: Any, number: str, *, staff_view: bool) -> SettlementStatement:
    found = visible_to(user, staff_view=staff_view).filter(number=number).first()
    if found is None:
        raise NotFound(f"结算单不存在：{number[:40]}", code="statement_not_found")
    return found


def lines_of(statement: SettlementStatement) -> QuerySet[SettlementLine, dict[str, Any]]:
    """The statement's lines with their policy numbers (for pages, the API and the exports,
    read with `.iterator()` so a large statement is streamed)."""
    fields = ("id", "kind", "occurred_on", "event", "amount", "policy__number", "source_key")
    # Fields named by a variable: the stubs type each row as a plain dict.
    return (
        SettlementLine.objects.filter(statement=statement)
        .values(*fields)
        .order_by("kind", "occurred_on", "id")
    )


def status_changes(statement: SettlementStatement) -> list[Any]:
    return list(statement.changes.select_related("actor").order_by("created_at", "id"))
