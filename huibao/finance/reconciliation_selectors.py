"""Who sees which reconciliations (the access checkpoint every page and endpoint goes through).

- finance staff (verified, `finance.view_reconciliation`): every party's;
- an insurer's staff (`distribution.InsurerMember`): their insurer's only, read-only;
- a channel's staff (`distribution.SalesUnitMember`): their unit's (and its sub-units') only.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from huibao.account.access import is_verified_staff
from huibao.core.errors import NotFound
from huibao.distribution.models import InsurerMember, SalesUnit, SalesUnitMember
from huibao.finance.reconciliation_models import PartyKind, Reconciliation, ReconciliationItem

VIEW = "finance.view_reconciliation"
IMPORT = "finance.add_reconciliation"
RESOLVE = "finance.change_reconciliation"


def sees_all(user: Any, *, api_staff: bool | None = None) -> bool:
    staff = is_verified_staff(user) if api_staff is None else api_staff
    return bool(staff and user.has_perm(VIEW))


def reconciliations_for(user: Any, *, api_staff: bool | None = None) -> QuerySet[Reconciliation]:
    base = Reconciliation.objects.select_related("insurer", "sales_unit")
    if not getattr(user, "is_authenticated", False):
        return base.none()
    if sees_all(user, api_staff=api_staff):
        return base
    insurer_ids = InsurerMember.objects.filter(user=user).values_list("insurer_id", flat=True)
    paths = list(SalesUnitMember.objects.filter(user=user).values_list("unit__path", flat=True))
    scope = Q(party_kind=PartyKind.INSURER, insurer_id__in=insurer_ids)
    if paths:
        units = Q()
        for path in paths:
            units |= Q(path=path) | Q(path__startswith=f"{path}/")
        scope |= Q(party_kind=PartyKind.CHANNEL, sales_unit__in=SalesUnit.objects.filter(units))
    return base.filter(scope)


def reconciliation_for(user: Any, public_id: Any, *, api_staff: bool | None = None) -> Reconciliation:
    rec = reconciliations_for(user, api_staff=api_staff).filter(public_id=public_id).first()
    if rec is None:
        raise NotFound("没有这份对账", code="reconciliation_not_found")
    return rec


def item_of(rec: Reconciliation, item_id: int) -> ReconciliationItem:
    item = ReconciliationItem.objects.filter(reconciliation=rec, pk=item_id).first()
    if item is None:
        raise NotFound("没有这项对账明细", code="item_not_found")
    return item


def items_of(rec: Reconciliation, *, show: str = "differences") -> QuerySet[ReconciliationItem]:
    """`show`: "differences" (every item not matched), "open", "all", or one category."""
    items = ReconciliationItem.objects.filter(reconciliation=rec).select_related("resolved_by")
    if show == "all":
        return items
    if show == "open":
        return items.filter(status="open")
    if show in ("matched", "amount_differs", "ours_only", "theirs_only"):
        return items.filter(category=show)
    return items.exclude(category="matched")
