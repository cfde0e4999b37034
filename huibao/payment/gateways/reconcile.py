"""Reconciliation with a gateway's daily file (对账): each payment and refund the gateway booked
against what the platform recorded, for one business day.

`compare` is pure (the file's rows against the platform's amounts); `reconcile_day` reads the
platform's side and asks the registered adapter for the file (`download_bill(day)`). What differs
is reported, never corrected here: finance decides (docs/deploy.md, "Going live with Alipay /
WeChat Pay")."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from django.db.models import Sum

from huibao.core.money import to_fen_int
from huibao.payment.gateways.common import BEIJING, BillRow
from huibao.payment.models import Payment, Refund
from huibao.payment.provider import get_provider, provider_names
from huibao.payment.states import RefundStatus

log = logging.getLogger(__name__)


@runtime_checkable
class BillSource(Protocol):
    name: str

    def download_bill(self, day: datetime.date) -> list[BillRow]: ...


@dataclass(frozen=True, slots=True)
class Difference:
    merchant_ref: str
    kind: str  # "payment" | "refund"
    problem: str  # unknown_to_platform | missing_from_bill | amount_differs
    gateway_fen: int | None
    platform_fen: int | None


@dataclass(frozen=True, slots=True)
class Reconciliation:
    provider: str
    day: datetime.date
    rows: int
    differences: tuple[Difference, ...]

    @property
    def balanced(self) -> bool:
        return not self.differences


def _totals(rows: Iterable[BillRow], kind: str) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in rows:
        if row.kind == kind:
            totals[row.merchant_ref] = totals.get(row.merchant_ref, 0) + row.amount_fen
    return totals


def compare(
    rows: list[BillRow], paid_fen: Mapping[str, int], refunded_fen: Mapping[str, int]
) -> tuple[Difference, ...]:
    """The file's payments and refunds per merchant reference against the platform's, in fen."""
    found: list[Difference] = []
    for kind, platform in (("payment", paid_fen), ("refund", refunded_fen)):
        gateway = _totals(rows, kind)
        for ref in sorted(set(gateway) | set(platform)):
            ours, theirs = platform.get(ref), gateway.get(ref)
            if ours is None:
                found.append(Difference(ref, kind, "unknown_to_platform", theirs, None))
            elif theirs is None:
                found.append(Difference(ref, kind, "missing_from_bill", None, ours))
            elif ours != theirs:
                found.append(Difference(ref, kind, "amount_differs", theirs, ours))
    return tuple(found)


def _day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    start = datetime.datetime.combine(day, datetime.time(), tzinfo=BEIJING)
    return start, start + datetime.timedelta(days=1)


def reconcile_day(provider_name: str, day: datetime.date) -> Reconciliation:
    """The gateway's file of `day` (Beijing time, as the gateways cut their files) against the
    payments paid and the refunds made through `provider_name` that day."""
    source = get_provider(provider_name)
    if not isinstance(source, BillSource):
        raise ValueError(f"payment provider '{provider_name}' has no reconciliation file")
    rows = source.download_bill(day)
    start, end = _day_bounds(day)
    paid = {
        ref: to_fen_int(amount)
        for ref, amount in Payment.objects.filter(
            provider=provider_name, paid_at__gte=start, paid_at__lt=end
        ).values_list("merchant_ref", "amount")
    }
    refunded = {
        row["payment__merchant_ref"]: to_fen_int(row["total"])
        for row in Refund.objects.filter(
            payment__provider=provider_name,
            status=RefundStatus.SUCCEEDED,
            created_at__gte=start,
            created_at__lt=end,
        )
        .values("payment__merchant_ref")
        .annotate(total=Sum("amount"))
    }
    result = Reconciliation(provider_name, day, len(rows), compare(rows, paid, refunded))
    if not result.balanced:
        log.warning(
            "%s bill of %s: %d difference(s): %s",
            provider_name,
            day,
            len(result.differences),
            ", ".join(f"{d.merchant_ref} {d.kind} {d.problem}" for d in result.differences[:20]),
        )
    return result


def gateways_with_bills() -> list[str]:
    """The registered adapters that publish a reconciliation file."""
    return [name for name in provider_names() if isinstance(get_provider(name), BillSource)]
