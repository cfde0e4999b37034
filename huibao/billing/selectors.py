"""Billing reads: a reference's schedule as the pages, the API and the e-policy show it."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from huibao.billing import rules
from huibao.billing.models import Collection, Instalment, InstalmentChange, PremiumSchedule
from huibao.billing.states import CollectionStatus, InstalmentStatus, ScheduleStatus
from huibao.payment import states as payment_states
from huibao.payment.models import Payment


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
    # The premium term (缴费期间) and the policy year planned last: 第 policy_year/premium_years 年.
    policy_year: int = 1
    premium_years: int = 1
    # The premium of each policy year when it steps up by year (year 1 first); () when level.
    year_premiums: tuple[Decimal, ...] = ()

    @property
    def multi_year(self) -> bool:
        return self.premium_years > 1

    @property
    def stepped(self) -> bool:
        return bool(self.year_premiums)

    @property
    def years(self) -> tuple[tuple[int, Decimal, bool], ...]:
        """(policy year, its premium, whether it is the year planned last) of a stepped premium."""
        return tuple((n, p, n == self.policy_year) for n, p in enumerate(self.year_premiums, start=1))

    @property
    def next_due(self) -> InstalmentLine | None:
        return next((line for line in self.lines if not line.paid and line.status != "cancelled"), None)


def year_rows(rows: Iterable[Instalment], mode: str, policy_year: int) -> list[Instalment]:
    """What a page shows of a schedule: the instalments of the policy year planned last, and any
    earlier one still unpaid (a 30-year monthly schedule holds up to 360 rows)."""
    unpaid = {InstalmentStatus.DUE, InstalmentStatus.OVERDUE}
    return [
        i
        for i in sorted(rows, key=lambda i: i.number)
        if rules.year_of(i.number, mode) == policy_year or i.status in unpaid
    ]


def _view(schedule: PremiumSchedule) -> ScheduleView:
    shown = year_rows(schedule.instalments.all(), schedule.mode, schedule.policy_year)
    lines = tuple(
        InstalmentLine(
            number=i.number,
            due_on=i.due_on,
            amount=i.amount,
            status=i.status,
            status_label=str(InstalmentStatus(i.status).label),
            paid=i.status == InstalmentStatus.PAID,
        )
        for i in shown
    )
    return ScheduleView(
        mode=schedule.mode,
        status=schedule.status,
        status_label=str(ScheduleStatus(schedule.status).label),
        # the year's premium (the whole schedule's for a one-year term)
        total=sum(
            (i.amount for i in shown if rules.year_of(i.number, schedule.mode) == schedule.policy_year),
            Decimal("0.00"),
        ),
        paid_total=sum((line.amount for line in lines if line.paid), Decimal("0.00")),
        lines=lines,
        policy_year=schedule.policy_year,
        premium_years=schedule.premium_years,
        year_premiums=tuple(Decimal(str(p)) for p in schedule.year_premiums or ()),
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


# --- re-planning: what the instalments are now, and the plan a premium change would give --------

REPLANNABLE = frozenset({ScheduleStatus.ACTIVE, ScheduleStatus.COMPLETED})


def instalments_now(schedule: PremiumSchedule) -> list[rules.InstalmentNow]:
    """The schedule's instalments as a re-plan sees them: settled when paid, or when a mandate
    charge or a hosted checkout of them is outstanding (its amount is fixed at the provider)."""
    pending = set(
        Collection.objects.filter(instalment__schedule=schedule, status=CollectionStatus.PENDING).values_list(
            "instalment__number", flat=True
        )
    )
    for reference in Payment.objects.filter(
        reference_kind=rules.CHECKOUT_KIND,
        reference_id__startswith=f"{schedule.public_id}:",
        status__in=payment_states.OPEN_STATUSES,
    ).values_list("reference_id", flat=True):
        try:
            pending.update(rules.parse_checkout_reference(reference)[1])
        except rules.ScheduleError:
            continue
    return [
        rules.InstalmentNow(
            number=i.number,
            due_on=i.due_on,
            amount=i.amount,
            settled=i.status == InstalmentStatus.PAID or i.number in pending,
            frozen=i.status in (InstalmentStatus.WAIVED, InstalmentStatus.CANCELLED),
        )
        for i in schedule.instalments.order_by("number")
    ]


def schedule_start(schedule: PremiumSchedule) -> datetime.date:
    """The first day of the schedule's first policy year (the anniversaries' base)."""
    if schedule.start_on is not None:
        return schedule.start_on
    first = schedule.instalments.order_by("number").values_list("due_on", flat=True).first()
    assert first is not None
    return first


def replan_preview(
    reference_kind: str,
    reference_id: str,
    *,
    old_annual: Decimal,
    new_annual: Decimal,
    effective_on: datetime.date,
    later_annual: Mapping[int, Decimal] | None = None,
) -> rules.Replan | None:
    """What `services.replan_schedule` would do now (nothing written): None when the reference has
    no schedule. Raises rules.ScheduleError when the schedule cannot be re-planned (closed, the
    date past its year, an instalment that would not stay positive)."""
    schedule = PremiumSchedule.objects.filter(
        reference_kind=reference_kind, reference_id=str(reference_id)
    ).first()
    if schedule is None:
        return None
    if schedule.status not in REPLANNABLE:
        raise rules.ScheduleError(f"a {schedule.status} schedule is not re-planned")
    return rules.replan(
        instalments_now(schedule),
        mode=schedule.mode,
        start=schedule_start(schedule),
        old_annual=old_annual,
        new_annual=new_annual,
        effective_on=effective_on,
        later_annual=later_annual,
    )


@dataclass(frozen=True, slots=True)
class ChangeLine:
    number: int
    due_on: datetime.date
    old_amount: Decimal
    new_amount: Decimal
    adjustment: Decimal
    carried: Decimal
    status: str


def changes_by(cause_kind: str, cause_id: str) -> list[ChangeLine]:
    """What one cause (an endorsement) changed in a schedule, instalment by instalment."""
    rows = (
        InstalmentChange.objects.filter(cause_kind=cause_kind, cause_id=str(cause_id))
        .select_related("instalment")
        .order_by("instalment__number")
    )
    return [
        ChangeLine(
            number=c.instalment.number,
            due_on=c.instalment.due_on,
            old_amount=c.old_amount,
            new_amount=c.new_amount,
            adjustment=c.adjustment,
            carried=c.carried,
            status=c.instalment.status,
        )
        for c in rows
    ]


def change_causes(reference_kind: str, reference_id: str) -> dict[int, list[str]]:
    """Per instalment number, the causes that changed it (its history), in order."""
    rows = (
        InstalmentChange.objects.filter(
            instalment__schedule__reference_kind=reference_kind,
            instalment__schedule__reference_id=str(reference_id),
        )
        .order_by("id")
        .values_list("instalment__number", "cause_id")
    )
    out: dict[int, list[str]] = {}
    for number, cause in rows:
        out.setdefault(number, []).append(cause)
    return out
