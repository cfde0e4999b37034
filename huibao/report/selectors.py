"""The reads of the sales reports: who may see which part of the sales hierarchy (`scope_for`),
and the figures (`sales_report`), aggregated in SQL.

A report is three grouped queries over a window — policies issued (count, premium), commission
entries (inbound earned from insurers, outbound paid to channels and agents), cancellations
confirmed (count, refunds) — each `GROUP BY` the period (Django's `Trunc`, in Asia/Shanghai
for timestamps) and the group's column; the rows are merged by (period, key). A hierarchy level
(team, branch…) is grouped by seller in SQL and rolled up to the seller's ancestor of that kind
from the units' materialised paths (`rules.ancestor_code`): a few hundred aggregated rows,
never the policies.

Commission is attributed to the sale: an entry of a policy counts for the policy's seller (so an
override paid to a team for its agent's sale is a cost of that agent's sale, and the margin of a
subtree is what the agency keeps on what the subtree sold); an entry without a policy (a bonus)
counts for the unit it is paid to.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, DateField, Expression, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Trunc
from django.utils import timezone

from huibao.catalog.models import LineOfBusiness
from huibao.distribution.models import SalesUnit, SalesUnitKind, SalesUnitMember, SalesUnitPathChange
from huibao.finance.models import CommissionDirection, CommissionEntry
from huibao.policy.models import Cancellation, Policy
from huibao.policy.states import CancellationStatus
from huibao.report import rules
from huibao.report.rules import Figures, Group, Period, Row

PERMISSION = "report.view_sales_report"
LOCAL_TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
ZERO = Decimal("0.00")

# A cancellation counts from its confirmation: the policy is cancelled then.
CONFIRMED_CANCELLATIONS = (
    CancellationStatus.CONFIRMED,
    CancellationStatus.REFUNDING,
    CancellationStatus.REFUND_FAILED,
    CancellationStatus.COMPLETED,
)
NO_UNIT = "—"


# --- who sees what --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scope:
    """What a user may see: the whole agency, or the subtrees under `roots` (unit paths)."""

    everything: bool = False
    roots: tuple[str, ...] = ()
    # The user's own unit when they are an agent (their own pages); None otherwise.
    agent: SalesUnit | None = None
    # The units whose results the user manages (a team's or a channel's manager).
    managed: tuple[SalesUnit, ...] = ()

    def allows(self, path: str) -> bool:
        return self.everything or rules.in_subtree(path, self.roots)


def scope_for(user: Any) -> Scope | None:
    """The reports' access checkpoint: finance, operators and auditors (`report.view_sales_report`)
    see everything; an agent their own sales; a channel's, branch's or team's staff that unit's
    subtree; anyone else nothing (None)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    cached = getattr(user, "_report_scope", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    scope = _scope_for(user)
    user._report_scope = scope  # one request's user object: the nav and the page ask twice
    return scope


_UNSET = object()


def _scope_for(user: Any) -> Scope | None:
    agent = SalesUnit.objects.filter(user=user, kind=SalesUnitKind.AGENT, is_active=True).first()
    memberships = list(
        SalesUnitMember.objects.filter(user=user, unit__is_active=True)
        .select_related("unit")
        .order_by("unit__path")
    )
    managed = tuple(m.unit for m in memberships if m.is_manager)
    if user.has_perm(PERMISSION):
        return Scope(everything=True, agent=agent, managed=managed)
    paths = [m.unit.path for m in memberships]
    if agent is not None:
        paths.append(agent.path)
    roots = _outermost(paths)
    if not roots:
        return None
    return Scope(roots=roots, agent=agent, managed=managed)


def _outermost(paths: Iterable[str]) -> tuple[str, ...]:
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if not rules.in_subtree(path, tuple(kept)):
            kept.append(path)
    return tuple(sorted(kept))


def _under(column: str, roots: tuple[str, ...]) -> Q:
    q = Q(pk__in=[])
    for root in roots:
        q |= Q(**{column: root}) | Q(**{f"{column}__startswith": root + "/"})
    return q


def units_ever_moved() -> bool:
    return SalesUnitPathChange.objects.exists()


def _sold_path(seller: str, sold_at: str, moved: bool) -> F | Expression:
    """Where the seller (the `seller` id column) stood in the hierarchy when the sale was made
    (`sold_at`): the path it left by its first move after that time, else its path now. While
    no unit has ever moved (`moved` false, the usual case) it is the path now, no sub-query."""
    path = F(f"{seller.removesuffix('_id')}__path")
    if not moved:
        return path
    before_move = SalesUnitPathChange.objects.filter(
        unit_id=OuterRef(seller), changed_at__gt=OuterRef(sold_at)
    ).order_by("changed_at", "pk")
    return Coalesce(Subquery(before_move.values("old_path")[:1]), path)


def _own(scope: Scope, seller: str) -> Q:
    """A scope's own subtrees by the sale's path, and an agent's own sales wherever they stood."""
    q = _under("sold_path", scope.roots)
    if scope.agent is not None:
        q |= Q(**{seller: scope.agent.pk})
    return q


def scoped_policies(scope: Scope, *, moved: bool | None = None) -> QuerySet[Policy]:
    moved = units_ever_moved() if moved is None else moved
    qs = Policy.objects.annotate(sold_path=_sold_path("seller_id", "issued_at", moved))
    return qs if scope.everything else qs.filter(_own(scope, "seller_id"))


def _scoped_commissions(scope: Scope, moved: bool) -> QuerySet[CommissionEntry]:
    # An entry of a sale counts where the sale was made; one without (a bonus), for its unit now.
    qs = CommissionEntry.objects.annotate(
        sold_path=Coalesce(
            _sold_path("policy__seller_id", "policy__issued_at", moved), F("sales_unit__path")
        ),
        unit_id=Coalesce(F("policy__seller_id"), F("sales_unit_id")),
    )
    return qs if scope.everything else qs.filter(_own(scope, "unit_id"))


def _scoped_cancellations(scope: Scope, moved: bool) -> QuerySet[Cancellation]:
    qs = Cancellation.objects.filter(status__in=CONFIRMED_CANCELLATIONS).annotate(
        sold_path=_sold_path("policy__seller_id", "policy__issued_at", moved)
    )
    return qs if scope.everything else qs.filter(_own(scope, "policy__seller_id"))


# --- the report -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Report:
    period: Period
    group: Group
    since: datetime.date
    until: datetime.date  # exclusive
    rows: list[Row] = field(default_factory=list)  # per period × key, periods in order
    by_key: list[Row] = field(default_factory=list)  # per key over the window, largest premium first
    by_period: list[Row] = field(default_factory=list)  # per period (every period, gaps as zeros)
    total: Figures = field(default_factory=Figures)


def local_midnight(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=LOCAL_TZ)


# Per group: the column(s) of each source (policy, commission entry, cancellation) that give the
# key and its name.
_POLICY_KEYS: dict[Group, tuple[str, str]] = {
    Group.INSURER: ("insurer__code", "insurer__name"),
    Group.PRODUCT: ("product_version__product__code", "product_version__product__name"),
    Group.LINE: ("product_version__product__line", "product_version__product__line"),
}


def _keys(group: Group, prefix: str) -> tuple[str, str] | None:
    found = _POLICY_KEYS.get(group)
    if found is None:
        return None
    return prefix + found[0], prefix + found[1]


def sales_report(
    scope: Scope,
    *,
    period: Period,
    since: datetime.date,
    until: datetime.date,
    group: Group = Group.TOTAL,
) -> Report:
    """The figures of `scope` per `period` in `[since, until)` (local dates), by `group`."""
    by_seller = group == Group.SELLER or group in rules.HIERARCHY_GROUPS
    start, end = local_midnight(since), local_midnight(until)
    cells: dict[tuple[datetime.date, str], Figures] = {}
    names: dict[str, str] = {}
    moved = units_ever_moved()

    def cell(bucket: Any, key: Any) -> Figures:
        day = bucket.date() if isinstance(bucket, datetime.datetime) else bucket
        return cells.setdefault((day, "" if key is None else str(key)), Figures())

    # 1. policies issued
    policy_keys = _keys(group, "")
    values: list[Any] = ["bucket"]
    if policy_keys:
        values += list(policy_keys)
    elif by_seller:
        values.append("sold_path")
    issued = (
        scoped_policies(scope, moved=moved)
        .filter(issued_at__gte=start, issued_at__lt=end)
        .annotate(bucket=Trunc("issued_at", period.value, output_field=DateField(), tzinfo=LOCAL_TZ))
        .values(*values)
        .annotate(n=Count("id"), premium_sum=Sum("premium"))
        .order_by()
    )
    for r in issued:
        key = _row_key(r, policy_keys, "sold_path" if by_seller else None, names)
        figures = cell(r["bucket"], key)
        figures.policies += r["n"]
        figures.premium += r["premium_sum"] or ZERO

    # 2. commission entries (by the day they occurred)
    commission_keys = _keys(group, "policy__")
    values = ["bucket"]
    commissions = _scoped_commissions(scope, moved).filter(occurred_on__gte=since, occurred_on__lt=until)
    if group == Group.INSURER:
        # An entry always names its insurer, with or without a policy.
        commission_keys = ("insurer__code", "insurer__name")
    if commission_keys:
        values += list(commission_keys)
    elif by_seller:
        values.append("sold_path")
    entries = (
        commissions.annotate(bucket=Trunc("occurred_on", period.value, output_field=DateField()))
        .values(*values)
        .annotate(
            inbound=Sum("amount", filter=Q(direction=CommissionDirection.INBOUND)),
            outbound=Sum("amount", filter=Q(direction=CommissionDirection.OUTBOUND)),
        )
        .order_by()
    )
    for r in entries:
        key = _row_key(r, commission_keys, "sold_path" if by_seller else None, names)
        figures = cell(r["bucket"], key)
        figures.commission_in += r["inbound"] or ZERO
        figures.commission_out += r["outbound"] or ZERO

    # 3. cancellations confirmed
    cancel_keys = _keys(group, "policy__")
    values = ["bucket"]
    if cancel_keys:
        values += list(cancel_keys)
    elif by_seller:
        values.append("sold_path")
    cancelled = (
        _scoped_cancellations(scope, moved)
        .filter(confirmed_at__gte=start, confirmed_at__lt=end)
        .annotate(bucket=Trunc("confirmed_at", period.value, output_field=DateField(), tzinfo=LOCAL_TZ))
        .values(*values)
        .annotate(n=Count("id"), refund_sum=Sum("amount"))
        .order_by()
    )
    for r in cancelled:
        key = _row_key(r, cancel_keys, "sold_path" if by_seller else None, names)
        figures = cell(r["bucket"], key)
        figures.cancellations += r["n"]
        figures.refunds += r["refund_sum"] or ZERO

    if by_seller:
        cells, names = _roll_up(cells, group)
    if group == Group.LINE:
        names = {k: str(LineOfBusiness(k).label) if k in LineOfBusiness.values else k for k in names}
    return _assemble(period, group, since, until, cells, names)


def _row_key(
    r: dict[str, Any],
    keys: tuple[str, str] | None,
    path_column: str | None,
    names: dict[str, str],
) -> str:
    if keys:
        key = r[keys[0]] or ""
        names.setdefault(key, r[keys[1]] or "")
        return str(key)
    if path_column:
        return r[path_column] or ""
    return ""


def _roll_up(
    cells: dict[tuple[datetime.date, str], Figures], group: Group
) -> tuple[dict[tuple[datetime.date, str], Figures], dict[str, str]]:
    """Sale paths → the seller's code (group seller: the path's last unit) or its ancestor of
    the group's kind on that path."""
    codes = {code for (_day, path) in cells for code in path.split("/") if code}
    units = {u.code: u for u in SalesUnit.objects.filter(code__in=codes).only("code", "name", "kind")}
    kinds = {code: u.kind for code, u in units.items()}
    rolled: dict[tuple[datetime.date, str], Figures] = {}
    names: dict[str, str] = {}
    for (day, path), figures in cells.items():
        code: str | None
        if not path:
            code = None
        elif group == Group.SELLER:
            code = path.rsplit("/", 1)[-1]
        else:
            code = rules.ancestor_code(path, kinds, group.value)
        target = code or ""
        unit = units.get(code) if code else None
        names[target] = unit.name if unit is not None else (code or NO_UNIT)
        rolled.setdefault((day, target), Figures()).add(figures)
    return rolled, names


def _assemble(
    period: Period,
    group: Group,
    since: datetime.date,
    until: datetime.date,
    cells: dict[tuple[datetime.date, str], Figures],
    names: dict[str, str],
) -> Report:
    report = Report(period=period, group=group, since=since, until=until)
    per_period: dict[datetime.date, Figures] = {p: Figures() for p in rules.periods(period, since, until)}
    per_key: dict[str, Figures] = {}
    for (day, key), figures in sorted(cells.items()):
        report.rows.append(Row(day, key, names.get(key, "") or key or NO_UNIT, figures))
        per_period.setdefault(day, Figures()).add(figures)
        per_key.setdefault(key, Figures()).add(figures)
        report.total.add(figures)
    report.by_period = [Row(day, "", "", f) for day, f in sorted(per_period.items())]
    report.by_key = sorted(
        (Row(None, key, names.get(key, "") or key or NO_UNIT, f) for key, f in per_key.items()),
        key=lambda r: (-r.figures.premium, -r.figures.commission_in, r.key),
    )
    return report


# --- an agent's own pages -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommissionTotals:
    """An agent's or channel's commission by state (`rules.commission_state`): `pending` may
    still be clawed back (the policy is in its cooling-off period), `earned` is theirs but not yet
    paid, `paid` was paid out."""

    pending: Decimal
    earned: Decimal
    paid: Decimal

    @property
    def earned_total(self) -> Decimal:
        return self.earned + self.paid


def commission_totals(units: Iterable[SalesUnit], today: datetime.date) -> CommissionTotals:
    """One query: the outbound entries paid to `units`, summed by state."""
    unpaid = Q(paid_at__isnull=True)
    in_cooling_off = Q(policy__cooling_off_until__gte=today) | Q(occurred_on__gt=today)
    found = CommissionEntry.objects.filter(
        direction=CommissionDirection.OUTBOUND, sales_unit__in=list(units)
    ).aggregate(
        pending=Sum("amount", filter=unpaid & in_cooling_off),
        earned=Sum("amount", filter=unpaid & ~in_cooling_off),
        paid=Sum("amount", filter=Q(paid_at__isnull=False)),
    )
    return CommissionTotals(
        pending=found["pending"] or ZERO, earned=found["earned"] or ZERO, paid=found["paid"] or ZERO
    )


def recent_commissions(units: Iterable[SalesUnit], *, limit: int = 30) -> list[CommissionEntry]:
    return list(
        CommissionEntry.objects.filter(direction=CommissionDirection.OUTBOUND, sales_unit__in=list(units))
        .select_related("policy", "policy__product_version__product")
        .order_by("-occurred_on", "-id")[:limit]
    )


def recent_policies(scope: Scope, *, limit: int = 30) -> list[Policy]:
    return list(
        scoped_policies(scope)
        .select_related("product_version__product", "insurer", "seller")
        .only(
            "number",
            "status",
            "holder_name",
            "premium",
            "issued_at",
            "cooling_off_until",
            "product_version__product__name",
            "insurer__name",
            "seller__name",
            "seller__code",
        )
        .order_by("-issued_at", "-id")[:limit]
    )


def today() -> datetime.date:
    return timezone.localdate(timezone=LOCAL_TZ)
