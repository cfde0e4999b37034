"""`manage.py run_daily` (output, --list, --job, --catch-up, bad input) and the scheduler's lease
and loop."""

from __future__ import annotations

import datetime
import io
import threading
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from huibao.jobs import scheduler, services
from huibao.jobs.models import JobRun
from huibao.jobs.registry import JobContext, register_job
from huibao.jobs.states import JobRunStatus

TZ = timezone.get_default_timezone()
NOW = datetime.datetime(2026, 3, 10, 9, 0, tzinfo=TZ)


def _counting(ctx: JobContext) -> None:
    for done in range(0, 31, 10):
        ctx.progress(done, 30)


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("run_daily", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_run_daily_prints_progress_and_outcome_then_skips_on_rerun(clean_registry: Any) -> None:
    register_job("count", _counting, order=10, description="counts to thirty")
    with time_machine.travel(NOW, tick=False):
        first = _run("--date", "2026-03-09")
        second = _run("--date", "2026-03-09")
        listed = _run("--list", "--date", "2026-03-09")
        today = _run("--list")
    assert "count 2026-03-09: 30/30" in first
    assert "count 2026-03-09: succeeded (30/30" in first and "attempt 1" in first
    assert second.strip() == "count 2026-03-09: skipped"
    assert "count" in listed and "succeeded 30/30" in listed and "counts to thirty" in listed
    assert "not run" in today


@pytest.mark.django_db
def test_run_daily_runs_only_the_named_jobs_and_catches_up(clean_registry: Any) -> None:
    dates: list[tuple[str, datetime.date]] = []
    register_job("a", lambda ctx: dates.append(("a", ctx.run_date)), order=10)
    register_job("b", lambda ctx: dates.append(("b", ctx.run_date)), order=20)
    with time_machine.travel(NOW, tick=False):
        _run("--date", "2026-03-07", "--job", "a")
        dates.clear()
        out = _run("--catch-up", "--job", "a")
    assert dates == [
        ("a", datetime.date(2026, 3, 8)),
        ("a", datetime.date(2026, 3, 9)),
        ("a", datetime.date(2026, 3, 10)),
    ]
    assert out.count("succeeded") == 3
    assert not JobRun.objects.filter(job="b").exists()


@pytest.mark.django_db
def test_run_daily_refuses_bad_input(clean_registry: Any) -> None:
    register_job("a", lambda ctx: None, order=10)
    with time_machine.travel(NOW, tick=False):
        with pytest.raises(CommandError, match="--date: '2026-13-01' is not a date"):
            _run("--date", "2026-13-01")
        with pytest.raises(CommandError, match="in the future"):
            _run("--date", "2026-03-11")
        with pytest.raises(CommandError, match="unknown job"):
            _run("--job", "nope")
    assert not JobRun.objects.exists()


@pytest.mark.django_db
def test_run_daily_fails_with_the_error_when_a_job_fails(clean_registry: Any) -> None:
    def broken(ctx: JobContext) -> None:
        raise RuntimeError("insurer down")

    register_job("broken", broken, order=10)
    out = io.StringIO()
    with time_machine.travel(NOW, tick=False), pytest.raises(CommandError, match="1 job run"):
        call_command("run_daily", stdout=out)
    assert "broken 2026-03-10: failed" in out.getvalue() and "RuntimeError: insurer down" in out.getvalue()
    assert JobRun.objects.get(job="broken").status == JobRunStatus.FAILED


@pytest.mark.django_db
def test_one_scheduler_holds_the_lease_until_it_is_stale() -> None:
    stale = datetime.timedelta(seconds=60)
    with time_machine.travel(NOW, tick=False) as clock:
        assert services.acquire_lease("scheduler", "one", stale=stale)
        assert not services.acquire_lease("scheduler", "two", stale=stale)
        clock.shift(30)
        assert services.renew_lease("scheduler", "one")
        clock.shift(61)
        assert services.acquire_lease("scheduler", "two", stale=stale)
        assert not services.renew_lease("scheduler", "one")
        services.release_lease("scheduler", "two")
        assert services.acquire_lease("scheduler", "one", stale=stale)


@pytest.mark.django_db
def test_the_scheduler_catches_up_at_start_then_runs_at_its_time(clean_registry: Any) -> None:
    # given: a job last run on the 7th; the scheduler starts on the 10th at 00:10, runs at 00:30
    dates: list[datetime.date] = []
    register_job("daily", lambda ctx: dates.append(ctx.run_date), order=10)
    services.run_daily(datetime.date(2026, 3, 7))
    dates.clear()
    stop = threading.Event()
    said: list[str] = []
    ticks = iter(range(10))

    def wait(timeout: float | None = None) -> bool:
        step = next(ticks, None)
        if step is None:
            stop.set()
        else:
            clock.shift(datetime.timedelta(minutes=10))
        return stop.is_set()

    with time_machine.travel(datetime.datetime(2026, 3, 10, 0, 10, tzinfo=TZ), tick=False) as clock:
        stop.wait = wait  # type: ignore[method-assign]
        scheduler.Scheduler(at=datetime.time(0, 30), stop=stop, inline=True, say=said.append).run()
    # then: the 8th and 9th at start (the 10th's time had not come), the 10th at 00:30
    assert dates == [datetime.date(2026, 3, 8), datetime.date(2026, 3, 9), datetime.date(2026, 3, 10)]
    assert said[-1] == "scheduler stopped"
    assert services.lease_value("scheduler") == "2026-03-10"
    # the lease is free again once it stopped
    assert services.acquire_lease("scheduler", "next", stale=datetime.timedelta(hours=1))


def test_due_date_and_next_run_at() -> None:
    at = datetime.time(0, 30)
    assert scheduler.due_date(datetime.datetime(2026, 3, 10, 0, 10, tzinfo=TZ), at) == datetime.date(
        2026, 3, 9
    )
    assert scheduler.due_date(datetime.datetime(2026, 3, 10, 0, 30, tzinfo=TZ), at) == datetime.date(
        2026, 3, 10
    )
    from huibao.jobs.rules import next_run_at

    assert next_run_at(datetime.datetime(2026, 3, 10, 0, 10, tzinfo=TZ), at) == datetime.datetime(
        2026, 3, 10, 0, 30, tzinfo=TZ
    )
    assert next_run_at(datetime.datetime(2026, 3, 10, 0, 30, tzinfo=TZ), at) == datetime.datetime(
        2026, 3, 11, 0, 30, tzinfo=TZ
    )


@pytest.mark.django_db
def test_the_task_the_scheduler_enqueues_catches_up_to_its_date(clean_registry: Any) -> None:
    from huibao.jobs.tasks import run_daily_task

    dates: list[datetime.date] = []
    register_job("daily", lambda ctx: dates.append(ctx.run_date), order=10)
    services.run_daily(datetime.date(2026, 3, 8))
    dates.clear()
    with time_machine.travel(NOW, tick=False):
        result = run_daily_task.call(until="2026-03-10", catch_up=True)
    assert dates == [datetime.date(2026, 3, 9), datetime.date(2026, 3, 10)]
    assert result == [
        {"job": "daily", "date": "2026-03-09", "status": "succeeded"},
        {"job": "daily", "date": "2026-03-10", "status": "succeeded"},
    ]
