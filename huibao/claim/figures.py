"""The back-office claim figures: per product and per week (the Monday, local time, of the week
the claim was decided), the claims decided, the share decided by the system (the fast track),
the time from report to payment (p50/p90) and from complete materials to the decision (p50/p90).

One read of the window's decided claims (the `claim_decided_at` index), grouped here; the page
and `GET /api/v1/claims/figures` both call `claim_figures`. Durations are in seconds (floats are
fine: they are times, never money).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.utils import timezone

from huibao.claim.fast_track import percentile
from huibao.claim.models import Claim

DEFAULT_WEEKS = 8
MAX_WEEKS = 53


@dataclass(frozen=True, slots=True)
class Times:
    count: int
    p50: float | None
    p90: float | None

    @classmethod
    def of(cls, values: list[float]) -> Times:
        return cls(len(values), percentile(values, 50), percentile(values, 90))


@dataclass(frozen=True, slots=True)
class Row:
    product_code: str
    product_name: str
    week: datetime.date | None  # None: the product's total over the window
    decided: int
    auto_decided: int
    report_to_paid: Times
    complete_to_decided: Times

    @property
    def auto_share(self) -> float | None:
        return self.auto_decided / self.decided if self.decided else None


@dataclass(frozen=True, slots=True)
class Figures:
    since: datetime.date
    until: datetime.date  # exclusive
    rows: tuple[Row, ...]  # per product and week, newest week first
    products: tuple[Row, ...]  # per product over the window
    total: Row


@dataclass
class _Acc:
    decided: int = 0
    auto: int = 0
    to_paid: list[float] = field(default_factory=list)
    to_decided: list[float] = field(default_factory=list)

    def add(
        self,
        auto: bool,
        reported: datetime.datetime,
        complete: datetime.datetime | None,
        decided: datetime.datetime,
        paid: datetime.datetime | None,
    ) -> None:
        self.decided += 1
        self.auto += bool(auto)
        if paid is not None:
            self.to_paid.append((paid - reported).total_seconds())
        if complete is not None:
            self.to_decided.append((decided - complete).total_seconds())

    def row(self, code: str, name: str, week: datetime.date | None) -> Row:
        return Row(
            code, name, week, self.decided, self.auto, Times.of(self.to_paid), Times.of(self.to_decided)
        )


def monday_of(moment: datetime.datetime) -> datetime.date:
    day = timezone.localtime(moment).date()
    return day - datetime.timedelta(days=day.weekday())


def window(
    weeks: int = DEFAULT_WEEKS, *, today: datetime.date | None = None
) -> tuple[datetime.date, datetime.date]:
    """The last `weeks` whole-or-current weeks: from a Monday to the day after `today`."""
    today = today or timezone.localdate()
    weeks = max(1, min(weeks, MAX_WEEKS))
    start = today - datetime.timedelta(days=today.weekday()) - datetime.timedelta(weeks=weeks - 1)
    return start, today + datetime.timedelta(days=1)


def claim_figures(
    *, since: datetime.date, until: datetime.date, insurer_id: int | None = None, product_code: str = ""
) -> Figures:
    """The figures of the claims decided in [since, until) (local dates)."""
    start = timezone.make_aware(datetime.datetime.combine(since, datetime.time.min))
    end = timezone.make_aware(datetime.datetime.combine(until, datetime.time.min))
    claims = Claim.objects.filter(decided_at__gte=start, decided_at__lt=end)
    if insurer_id is not None:
        claims = claims.filter(insurer_id=insurer_id)
    if product_code:
        claims = claims.filter(policy__product_version__product__code=product_code)
    rows = claims.values_list(
        "policy__product_version__product__code",
        "policy__product_version__product__name",
        "auto_decided",
        "reported_at",
        "materials_complete_at",
        "decided_at",
        "paid_at",
    )
    names: dict[str, str] = {}
    by_week: dict[tuple[str, datetime.date], _Acc] = defaultdict(_Acc)
    by_product: dict[str, _Acc] = defaultdict(_Acc)
    total = _Acc()
    for code, name, auto, reported, complete, decided, paid in rows.iterator(chunk_size=5000):
        assert decided is not None  # the filter
        names[code] = name
        for acc in (by_week[(code, monday_of(decided))], by_product[code], total):
            acc.add(auto, reported, complete, decided, paid)
    return Figures(
        since=since,
        until=until,
        rows=tuple(
            acc.row(code, names[code], week)
            for (code, week), acc in sorted(by_week.items(), key=lambda kv: (-kv[0][1].toordinal(), kv[0][0]))
        ),
        products=tuple(acc.row(code, names[code], None) for code, acc in sorted(by_product.items())),
        total=total.row("", "", None),
    )
