"""Billing reads: a reference's schedule as the pages, the API and the e-policy show it."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from huibao.billing.models import Instalment, PremiumSchedule
from huibao.billing.states import InstalmentStatus, ScheduleStatus


@dataclass(frozen=True, slots=True)
class InstalmentLine:
    number: int
    due_on: datetime.date
    amount: Decimal
    status: str
    status_label: str
    paid: bool


@dataclass(frozen=True, slots=True)
class ScheduleView:
    mode: str
    status: str
    status_label: str
    total: Decimal
    paid_total: Decimal
    lines: tuple[InstalmentLine, ...]

    @property
    def next_due(self) -> InstalmentLine | None:
        return next((line for line in self.lines if not line.paid and line.status != "cancelled"), None)


def _view(schedule: PremiumSchedule) -> ScheduleView:
    lines = tuple(
        InstalmentLine(
            number=i.number,
            due_on=i.due_on,
            amount=i.amount,
            status=i.status,
            status_label=str(InstalmentStatus(i.status).label),
            paid=i.status == InstalmentStatus.PAID,
        )
        for i in sorted(schedule.instalments.all(), key=lambda i: i.number)
    )
    return ScheduleView(
        mode=schedule.mode,
        status=schedule.status,
        status_label=str(ScheduleStatus(schedule.status).label),
        total=schedule.total,
        paid_total=sum((line.amount for line in lines if line.paid), Decimal("0.00")),
        lines=lines,
    )


def schedules_for(reference_kind: str, reference_ids: Iterable[str]) -> dict[str, ScheduleView]:
    """The schedules of these references (two queries, however many), by reference id. The caller
    has checked the customer may see the references."""
    found = PremiumSchedule.objects.filter(
        reference_kind=reference_kind, reference_id__in=[str(r) for r in reference_ids]
    ).prefetch_related("instalments")
    return {s.reference_id: _view(s) for s in found}


def schedule_for(reference_kind: str, reference_id: str) -> ScheduleView | None:
    return schedules_for(reference_kind, [reference_id]).get(str(reference_id))


@dataclass(frozen=True, slots=True)
class PaidInstalment:
    number: int
    amount: Decimal
    paid_at: datetime.datetime | None
    # The merchant reference of the payment that paid it (the checkout's for the first).
    payment_reference: str


def paid_instalments(reference_kind: str, reference_id: str) -> list[PaidInstalment]:
    """The paid instalments of a reference's schedule, in order ([] without a schedule)."""
    rows = (
        Instalment.objects.filter(
            schedule__reference_kind=reference_kind,
            schedule__reference_id=str(reference_id),
            status=InstalmentStatus.PAID,
        )
        .order_by("number")
        .values_list("number", "amount", "paid_at", "payment_reference")
    )
    return [PaidInstalment(number, amount, paid_at, ref) for number, amount, paid_at, ref in rows]
