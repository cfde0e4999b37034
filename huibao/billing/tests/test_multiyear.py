"""Premiums after the first policy year (缴费期间 of several years): the roll-forward plans each
next year shortly before its anniversary; collection, grace, lapse and reinstatement then work
for year 2 as for year 1 (time-machine)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from huibao.billing import rules, services
from huibao.billing.models import Collection, PremiumSchedule
from huibao.billing.states import InstalmentStatus, ScheduleStatus
from huibao.billing.tests import factories as f
from huibao.billing.tests.test_services import at, run, statuses
from huibao.core.models import AuditEntry

pytestmark = pytest.mark.django_db
D = Decimal
date = datetime.date


def test_plan_year_numbers_on_and_falls_due_on_the_anniversary() -> None:
    year2 = rules.plan_year(D("1000.00"), "monthly", date(2026, 1, 31), 2)
    assert [p.number for p in year2] == list(range(13, 25))
    assert year2[0].due_on == date(2027, 1, 31) and year2[1].due_on == date(2027, 2, 28)
    assert sum(p.amount for p in year2) == D("1000.00") and year2[0].amount == D("83.33")
    annual = rules.plan_year(D("1000.00"), "annual", date(2024, 2, 29), 3)
    assert [(p.number, p.due_on, p.amount) for p in annual] == [(3, date(2026, 2, 28), D("1000.00"))]
    assert rules.year_of(13, "monthly") == 2 and rules.year_of(12, "monthly") == 1
    assert rules.year_of(20, "annual") == 20


def test_next_year_on_is_the_lead_before_the_anniversary_and_none_after_the_term() -> None:
    start = date(2026, 2, 1)
    assert rules.next_year_on(start, 1, 20) == date(2027, 1, 2)
    assert rules.next_year_on(start, 19, 20) == date(2045, 1, 2)
    assert rules.next_year_on(start, 20, 20) is None
    assert rules.next_year_on(start, 1, 1) is None


def test_annual_year_two_is_planned_before_the_anniversary_and_collected_by_mandate(heard) -> None:
    # given: a 20-year annual term-life schedule, year 1 paid at checkout
    start = date(2026, 2, 1)
    with at(start):
        schedule = f.schedule(start=start, mode="annual", premium="3650.00", premium_years=20)
    assert schedule.status == ScheduleStatus.ACTIVE and statuses(schedule) == ["paid"]
    assert schedule.next_year_on == date(2027, 1, 2)
    # when: the day before the lead, then the lead day twice (a re-run)
    assert run(date(2027, 1, 1)).planned == 0
    first = run(date(2027, 1, 2))
    again = run(date(2027, 1, 2))
    schedule.refresh_from_db()
    # then: year 2 planned once, due on the anniversary, same amount; the next year set
    assert (first.planned, again.planned) == (1, 0)
    rows = list(schedule.instalments.order_by("number").values_list("number", "due_on", "amount", "status"))
    assert rows[1] == (2, date(2027, 2, 1), D("3650.00"), InstalmentStatus.DUE)
    assert len(rows) == 2 and schedule.policy_year == 2 and schedule.next_year_on == date(2028, 1, 2)
    assert schedule.total == D("7300.00")
    assert (
        AuditEntry.objects.filter(action="billing.year_planned", object_id=str(schedule.public_id)).count()
        == 1
    )
    # when: the anniversary's run
    charged = run(date(2027, 2, 1))
    schedule.refresh_from_db()
    # then: collected through the mandate; the schedule stays active for year 3
    assert charged.charged == 1 and statuses(schedule) == ["paid", "paid"]
    assert [e.number for e in heard["paid"].events] == [2]
    assert schedule.status == ScheduleStatus.ACTIVE


def test_nothing_is_planned_after_the_last_premium_year() -> None:
    # given: a two-year annual term
    start = date(2026, 3, 10)
    with at(start):
        schedule = f.schedule(start=start, mode="annual", premium="500.00", premium_years=2)
    # when: year 2 planned and paid, then the runs around the third anniversary
    run(date(2027, 2, 8))
    run(date(2027, 3, 10))
    schedule.refresh_from_db()
    # then: completed with the last year paid; no third year
    assert statuses(schedule) == ["paid", "paid"] and schedule.next_year_on is None
    assert schedule.status == ScheduleStatus.COMPLETED
    assert run(date(2028, 2, 9)).planned == 0 and run(date(2028, 3, 10)).charged == 0
    assert schedule.instalments.count() == 2


def test_a_one_year_annual_schedule_is_completed_at_once() -> None:
    with at(date(2026, 1, 1)):
        schedule = f.schedule(start=date(2026, 1, 1), mode="annual")
    assert schedule.status == ScheduleStatus.COMPLETED and schedule.next_year_on is None


def test_year_two_failure_grace_lapse_and_reinstatement_pays_year_two_owed(settings, heard) -> None:
    # given: a 20-year monthly term-life schedule (60 days' grace) paid through year 1
    start = date(2026, 2, 1)
    with at(start):
        schedule = f.schedule(start=start, premium="1200.00", premium_years=20)
    for n in range(1, 12):
        run(rules.add_months(start, n))
    run(date(2027, 1, 2))  # the roll-forward's day
    assert statuses(schedule) == ["paid"] * 12 + ["due"] * 12
    # when: every charge fails from year 2's first instalment (1 Feb 2027)
    settings.SANDBOX_MANDATE_FAILURE_RATE = 1.0
    run(date(2027, 2, 1))
    run(date(2027, 2, 2))
    # then: overdue, announced, the policy would be in grace
    assert [e.number for e in heard["overdue"].events] == [13]
    assert [e.reason for e in heard["failed"].events][-1] == "insufficient_funds"
    # when: the last day of grace, then the day after (1 Feb + 60 days = 2 Apr)
    assert run(date(2027, 4, 2)).lapsed == 0
    assert run(date(2027, 4, 3)).lapsed == 1
    schedule.refresh_from_db()
    assert schedule.status == ScheduleStatus.LAPSED and schedule.lapsed_on == date(2027, 4, 3)
    # and a lapsed schedule gets no further year
    assert run(date(2028, 1, 2)).planned == 0
    # when: reinstated on 15 Jun 2027 with funds again
    settings.SANDBOX_MANDATE_FAILURE_RATE = 0.0
    day = date(2027, 6, 15)
    with at(day):
        quote = services.reinstatement_quote(schedule, day)
        services.reinstate(schedule, day)
        f.deliver_owed()
    schedule.refresh_from_db()
    # then: year 2's instalments fallen due (13–17) were paid; active again, the rest to come
    assert quote.numbers == (13, 14, 15, 16, 17) and quote.amount == D("500.00")
    assert statuses(schedule) == ["paid"] * 17 + ["due"] * 7
    assert schedule.status == ScheduleStatus.ACTIVE
    assert [e.status for e in heard["reinstated"].events] == ["active"]
    # and the year 3 roll-forward, missed while lapsed, runs once active again
    assert run(date(2028, 1, 3)).planned == 1
    schedule.refresh_from_db()
    assert schedule.policy_year == 3 and schedule.instalments.count() == 36


def test_cancelled_schedule_gets_no_next_year() -> None:
    start = date(2026, 5, 1)
    with at(start):
        schedule = f.schedule(start=start, mode="annual", premium_years=10)
        services.cancel_schedule("policy", schedule.reference_id, start)
    assert run(date(2027, 4, 1)).planned == 0
    assert schedule.instalments.count() == 1


def test_roll_forward_resumes_after_its_checkpoint() -> None:
    # given: three schedules due to roll forward
    start = date(2026, 2, 1)
    with at(start):
        schedules = [f.schedule(start=start, mode="annual", premium_years=5) for _ in range(3)]
    seen: list[int] = []
    # when: a run stopped after the first, then resumed from its checkpoint
    day = date(2027, 1, 2)
    with at(day):
        first = services.roll_forward(day, checkpoint=seen.append, stop=lambda: True)
        rest = services.roll_forward(day, after=seen[-1], checkpoint=seen.append)
    # then: each planned once
    assert (first, rest) == (1, 2) and seen == [s.pk for s in schedules]
    assert list(PremiumSchedule.objects.filter(pk__in=seen).values_list("policy_year", flat=True)) == [
        2,
        2,
        2,
    ]
    assert Collection.objects.count() == 0
