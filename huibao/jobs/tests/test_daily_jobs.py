"""The apps' daily jobs on the runner: a policy year day by day (start and expiry exactly once),
the status sweep and billing's charges killed half-way and run again (every item exactly once),
and the registry holding the jobs of the apps in their order."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from huibao.billing import services as billing
from huibao.billing.models import Collection, Instalment
from huibao.billing.states import InstalmentStatus
from huibao.billing.tests import factories as billing_f
from huibao.billing.tests.conftest import _sandbox  # noqa: F401 (the sandbox gateway, no faults)
from huibao.jobs import services
from huibao.jobs.models import JobRun
from huibao.jobs.registry import registered_jobs
from huibao.jobs.states import JobRunStatus
from huibao.payment.models import Payment
from huibao.policy import lifecycle
from huibao.policy import services as policy_services
from huibao.policy.lifecycle import Reason
from huibao.policy.models import Policy, PolicyStatusChange
from huibao.policy.states import PolicyStatus
from huibao.policy.tests import factories as f
from huibao.policy.tests.conftest import _isolated, _session_var_dir  # noqa: F401

pytestmark = pytest.mark.django_db
TZ = timezone.get_default_timezone()


def _at(day: datetime.date, hour: int = 0, minute: int = 30) -> time_machine.travel:
    return time_machine.travel(
        datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ), tick=False
    )


def _changes(policy: Policy, reason: str) -> int:
    return PolicyStatusChange.objects.filter(policy=policy, reason=reason).count()


def test_the_apps_register_their_daily_jobs_in_order() -> None:
    names = [j.name for j in registered_jobs()]
    assert names[:6] == [
        "payment.expire_unpaid",
        "policy.statuses",
        "billing.roll_forward",
        "billing.mark_overdue",
        "billing.lapse_after_grace",
        "billing.collect_due",
    ]


def test_across_a_policy_year_the_daily_run_starts_and_expires_the_policy_once() -> None:
    # given: a one-year policy issued on 10 January, starting the next day
    with _at(datetime.date(2026, 1, 10), hour=15):
        policy = f.simple_issued()
    start = timezone.localtime(policy.effective_at).date()
    end = timezone.localtime(policy.expires_at).date()
    assert policy.status == PolicyStatus.PENDING_START and start == datetime.date(2026, 1, 11)
    seen: dict[str, datetime.date] = {}
    day = datetime.date(2026, 1, 10)
    # when: the daily run each day at 00:30 (twice: the second changes nothing) until after expiry
    while day <= end + datetime.timedelta(days=1):
        with _at(day):
            first = services.run_daily(day)
            again = services.run_daily(day)
        assert all(o.status == "succeeded" for o in first), first
        assert all(o.status == "skipped" for o in again)
        policy.refresh_from_db()
        seen.setdefault(policy.status, day)
        day += datetime.timedelta(days=1)
    # then: in force on its first day, expired on the day its term ended, each once
    assert seen == {
        PolicyStatus.PENDING_START: datetime.date(2026, 1, 10),
        PolicyStatus.IN_FORCE: start,
        PolicyStatus.EXPIRED: end,
    }
    assert _changes(policy, Reason.START) == 1 and _changes(policy, Reason.EXPIRY) == 1
    assert lifecycle.policy_state_at(policy, policy.effective_at) == PolicyStatus.IN_FORCE
    assert (
        JobRun.objects.filter(job="policy.statuses", status=JobRunStatus.SUCCEEDED).count()
        == (end - datetime.date(2026, 1, 10)).days + 2
    )


def test_a_past_date_moves_only_what_had_come_by_its_end() -> None:
    # given: a policy starting on the 11th; the run for the 10th is caught up on the 12th
    with _at(datetime.date(2026, 1, 10), hour=15):
        policy = f.simple_issued()
    with _at(datetime.date(2026, 1, 12)):
        services.run_daily(datetime.date(2026, 1, 10), only=["policy.statuses"])
        policy.refresh_from_db()
        assert policy.status == PolicyStatus.PENDING_START  # the 10th had not seen its start
        services.run_daily(datetime.date(2026, 1, 11), only=["policy.statuses"])
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.IN_FORCE


def test_the_status_sweep_killed_half_way_resumes_and_moves_each_policy_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: five policies starting on the 11th; batches of two; the second batch fails once
    with _at(datetime.date(2026, 1, 10), hour=15):
        policies = [f.simple_issued() for _ in range(5)]
    monkeypatch.setattr(policy_services, "STATUS_BATCH", 2)
    real = lifecycle.transition_many
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # the second batch: the 3rd and 4th moves
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(lifecycle, "transition_many", flaky)
    day = datetime.date(2026, 1, 11)
    # when
    with _at(day):
        first = services.run_daily(day, only=["policy.statuses"])
    run = JobRun.objects.get(job="policy.statuses", run_date=day)
    # then: the first batch committed with its cursor, the second rolled back
    assert first[0].status == "failed"
    assert run.cursor["after"] == policies[1].pk and run.cursor["in_force"] == 2
    assert Policy.objects.filter(status=PolicyStatus.IN_FORCE).count() == 2
    # when: run again
    with _at(day):
        second = services.run_daily(day, only=["policy.statuses"])
    # then: the rest moved, each policy exactly once
    assert second[0].status == "succeeded" and second[0].resumed
    assert all(_changes(p, Reason.START) == 1 for p in policies)
    run.refresh_from_db()
    assert (run.done, run.total) == (5, 5)


def test_billing_charges_killed_half_way_resume_without_a_second_charge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: three monthly schedules whose 2nd instalment is due on 10 February; batches of one
    with _at(datetime.date(2026, 1, 10), hour=9):
        schedules = [billing_f.schedule(start=datetime.date(2026, 1, 10)) for _ in range(3)]
    day = datetime.date(2026, 2, 10)
    monkeypatch.setattr(billing, "COLLECT_BATCH", 1)
    real = billing._charge_many
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(billing, "_charge_many", flaky)
    # when: killed at the second charge, then run again
    with _at(day, hour=9):
        first = services.run_daily(day, only=["billing.collect_due"])
        second = services.run_daily(day, only=["billing.collect_due"])
        third = services.run_daily(day, only=["billing.collect_due"])
        billing_f.deliver_owed()
    # then: one charge per instalment due, none twice, none missed
    assert [o.status for o in first + second + third] == ["failed", "succeeded", "skipped"]
    due = Instalment.objects.filter(schedule__in=schedules, number=2)
    assert Collection.objects.filter(instalment__in=due).count() == 3
    assert Payment.objects.filter(reference_kind=billing.COLLECTION_KIND).count() == 3
    assert set(due.values_list("status", flat=True)) == {InstalmentStatus.PAID}
    assert JobRun.objects.get(job="billing.collect_due").done == 3
