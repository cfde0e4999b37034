"""The daily runner: idempotent re-runs, resume after a crash from the cursor (every item exactly
once), take-over of a crashed run, catch-up in date order, one runner per (job, date)."""

from __future__ import annotations

import datetime
import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from huibao.core.models import AuditEntry
from huibao.jobs import services
from huibao.jobs.models import JobRun
from huibao.jobs.registry import JobContext, register_job
from huibao.jobs.states import JobRunStatus

DAY = datetime.date(2026, 3, 10)
ITEMS = 95
BATCH = 10


def _items_done(job: str) -> list[str]:
    return list(
        AuditEntry.objects.filter(action=f"test.{job}").order_by("pk").values_list("object_id", flat=True)
    )


class BatchJob:
    """Records an audit entry per item (0..ITEMS-1), a batch per transaction with its cursor;
    `fail_at` raises in the middle of the batch holding that item (once)."""

    def __init__(self, name: str, fail_at: int | None = None) -> None:
        self.name = name
        self.fail_at = fail_at
        self.calls: list[tuple[datetime.date, Any]] = []

    def __call__(self, ctx: JobContext) -> None:
        from huibao.core import audit

        self.calls.append((ctx.run_date, ctx.cursor))
        start = ctx.cursor or 0
        for first in range(start, ITEMS, BATCH):
            ctx.check_stop()
            with transaction.atomic():
                for i in range(first, min(first + BATCH, ITEMS)):
                    if i == self.fail_at:
                        self.fail_at = None
                        raise RuntimeError(f"killed at item {i} for 13812345678")
                    audit.record(f"test.{self.name}", "item", f"{ctx.run_date}:{i}")
                ctx.save_cursor(min(first + BATCH, ITEMS))
            ctx.progress(min(first + BATCH, ITEMS), ITEMS)


@pytest.mark.django_db
def test_a_succeeded_run_is_not_run_again(clean_registry: Any) -> None:
    # given
    job = BatchJob("once")
    register_job("once", job, order=10)
    # when
    first = services.run_daily(DAY)
    second = services.run_daily(DAY)
    # then
    assert [o.status for o in first] == ["succeeded"]
    assert [o.status for o in second] == ["skipped"]
    assert len(job.calls) == 1
    assert len(_items_done("once")) == ITEMS
    run = JobRun.objects.get(job="once", run_date=DAY)
    assert (run.status, run.done, run.total, run.attempts) == (JobRunStatus.SUCCEEDED, ITEMS, ITEMS, 1)
    assert AuditEntry.objects.filter(action="jobs.run.succeeded", object_id=f"once:{DAY}").count() == 1


@pytest.mark.django_db
def test_a_job_killed_half_way_resumes_from_its_cursor_each_item_exactly_once(clean_registry: Any) -> None:
    # given: the job dies in the middle of the batch 40..49
    job = BatchJob("killed", fail_at=43)
    register_job("killed", job, order=10)
    # when
    first = services.run_daily(DAY)
    run = JobRun.objects.get(job="killed")
    # then: failed, the cursor at the last committed batch, the killed batch rolled back
    assert first[0].status == "failed"
    assert run.status == JobRunStatus.FAILED and run.cursor == 40
    assert "RuntimeError: killed at item 43" in run.error
    assert "13812345678" not in run.error  # no personal data in the error text
    assert len(_items_done("killed")) == 40
    # when: run again
    second = services.run_daily(DAY)
    # then: resumed at 40, every item once, none missed
    assert second[0].status == "succeeded" and second[0].resumed and second[0].attempts == 2
    assert job.calls == [(DAY, None), (DAY, 40)]
    assert _items_done("killed") == [f"{DAY}:{i}" for i in range(ITEMS)]
    assert AuditEntry.objects.filter(action="jobs.run.resumed", object_id=f"killed:{DAY}").count() == 1


@pytest.mark.django_db
def test_a_crashed_running_run_is_taken_over_once_its_heartbeat_is_stale(
    clean_registry: Any, settings: Any
) -> None:
    # given: a runner died while running the job (cursor 60), last heard of 11 minutes ago
    settings.JOBS_STALE_AFTER = 600
    job = BatchJob("crashed")
    register_job("crashed", job, order=10)
    now = timezone.now()
    run = JobRun.objects.create(
        job="crashed",
        run_date=DAY,
        status=JobRunStatus.RUNNING,
        cursor=60,
        attempts=1,
        worker_id="dead-worker",
        heartbeat_at=now - datetime.timedelta(minutes=5),
    )
    # when: its heartbeat is still fresh
    busy = services.run_daily(DAY)
    # then: left alone
    assert [o.status for o in busy] == ["busy"] and job.calls == []
    # when: it is stale
    JobRun.objects.filter(pk=run.pk).update(heartbeat_at=now - datetime.timedelta(minutes=11))
    taken = services.run_daily(DAY)
    # then: resumed from its cursor
    assert [o.status for o in taken] == ["succeeded"]
    assert job.calls == [(DAY, 60)]
    assert _items_done("crashed") == [f"{DAY}:{i}" for i in range(60, ITEMS)]


@pytest.mark.django_db
def test_a_runner_whose_run_was_taken_over_stops_and_its_batch_rolls_back(clean_registry: Any) -> None:
    # given: while this runner works, another takes the run over
    def job(ctx: JobContext) -> None:
        from huibao.core import audit

        JobRun.objects.filter(job="stolen").update(worker_id="other-worker")
        with transaction.atomic():
            audit.record("test.stolen", "item", "0")
            ctx.save_cursor(1)

    register_job("stolen", job, order=10)
    # when
    outcomes = services.run_daily(DAY)
    # then
    assert [o.status for o in outcomes] == ["lost"]
    assert _items_done("stolen") == []
    run = JobRun.objects.get(job="stolen")
    assert run.cursor is None and run.worker_id == "other-worker" and run.status == JobRunStatus.RUNNING


@pytest.mark.django_db
def test_jobs_run_in_their_order_and_a_failure_does_not_stop_the_next(clean_registry: Any) -> None:
    # given
    seen: list[str] = []

    def failing(ctx: JobContext) -> None:
        seen.append("b")
        raise ValueError("boom")

    register_job("c-last", lambda ctx: seen.append("c"), order=30)
    register_job("a-first", lambda ctx: seen.append("a"), order=10)
    register_job("b-failing", failing, order=20)
    # when
    outcomes = services.run_daily(DAY)
    # then
    assert seen == ["a", "b", "c"]
    assert [(o.job, o.status) for o in outcomes] == [
        ("a-first", "succeeded"),
        ("b-failing", "failed"),
        ("c-last", "succeeded"),
    ]
    # when: run again, only the failed one runs (retried)
    again = services.run_daily(DAY)
    assert seen == ["a", "b", "c", "b"]
    assert [o.status for o in again] == ["skipped", "failed", "skipped"]
    assert JobRun.objects.get(job="b-failing").attempts == 2


@pytest.mark.django_db
def test_catch_up_runs_the_missed_dates_in_order(clean_registry: Any) -> None:
    # given: "daily" last succeeded on the 6th; "new" never ran
    dates: list[tuple[str, datetime.date]] = []
    register_job("daily", lambda ctx: dates.append(("daily", ctx.run_date)), order=10)
    register_job("new", lambda ctx: dates.append(("new", ctx.run_date)), order=20)
    services.run_daily(datetime.date(2026, 3, 6), only=["daily"])
    dates.clear()
    # when
    outcomes = services.catch_up(DAY)
    # then: the 7th to the 10th for "daily", only the 10th for "new"
    assert dates == [
        ("daily", datetime.date(2026, 3, 7)),
        ("daily", datetime.date(2026, 3, 8)),
        ("daily", datetime.date(2026, 3, 9)),
        ("daily", DAY),
        ("new", DAY),
    ]
    assert all(o.status == "succeeded" for o in outcomes)
    # when: again — nothing left to do
    dates.clear()
    assert services.catch_up(DAY) == []
    assert dates == []


@pytest.mark.django_db
def test_catch_up_stops_a_job_at_its_first_failed_date(clean_registry: Any) -> None:
    # given: the job fails on the 8th
    dates: list[datetime.date] = []

    def job(ctx: JobContext) -> None:
        dates.append(ctx.run_date)
        if ctx.run_date == datetime.date(2026, 3, 8):
            raise RuntimeError("down")

    register_job("flaky", job, order=10)
    services.run_daily(datetime.date(2026, 3, 6))
    dates.clear()
    # when
    services.catch_up(DAY)
    # then: not run for the 9th and 10th before the 8th succeeded
    assert dates == [datetime.date(2026, 3, 7), datetime.date(2026, 3, 8)]
    assert not JobRun.objects.filter(job="flaky", run_date__gt=datetime.date(2026, 3, 8)).exists()


@pytest.mark.django_db
def test_catch_up_goes_back_at_most_the_configured_days(clean_registry: Any, settings: Any) -> None:
    settings.JOBS_CATCH_UP_MAX_DAYS = 3
    dates: list[datetime.date] = []
    register_job("old", lambda ctx: dates.append(ctx.run_date), order=10)
    services.run_daily(datetime.date(2026, 1, 1))
    dates.clear()
    services.catch_up(DAY)
    assert dates == [datetime.date(2026, 3, 8), datetime.date(2026, 3, 9), DAY]


@pytest.mark.django_db
def test_a_stop_request_interrupts_between_batches_and_the_next_run_resumes(clean_registry: Any) -> None:
    # given: a stop is requested once two batches are done
    job = BatchJob("stopped")
    register_job("stopped", job, order=10)
    runner = services.Runner(stop=lambda: len(_items_done("stopped")) >= 20)
    # when
    outcome = runner.run_daily(DAY)
    # then
    run = JobRun.objects.get(job="stopped")
    assert outcome[0].status == "failed" and run.error.startswith("interrupted") and run.cursor == 20
    # when: a new runner
    services.run_daily(DAY)
    assert _items_done("stopped") == [f"{DAY}:{i}" for i in range(ITEMS)]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runners_run_each_job_date_once(clean_registry: Any) -> None:
    # given: two jobs that take a little while
    calls: list[str] = []
    lock = threading.Lock()

    def slow(name: str) -> Any:
        def fn(ctx: JobContext) -> None:
            with lock:
                calls.append(name)
            time.sleep(0.3)
            ctx.progress(1, 1)

        return fn

    register_job("slow-a", slow("slow-a"), order=10)
    register_job("slow-b", slow("slow-b"), order=20)
    barrier = threading.Barrier(2)
    results: list[list[services.RunOutcome]] = []

    def runner() -> None:
        try:
            barrier.wait()
            results.append(services.run_daily(DAY))
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=runner) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then: each job ran once; the other runner saw it busy or done
    assert sorted(calls) == ["slow-a", "slow-b"]
    statuses = sorted(o.status for r in results for o in r)
    assert statuses.count("succeeded") == 2
    assert set(statuses) <= {"succeeded", "busy", "skipped"}
    assert JobRun.objects.filter(status=JobRunStatus.SUCCEEDED).count() == 2
    assert all(r.attempts == 1 for r in JobRun.objects.all())


@pytest.mark.django_db
def test_a_claim_lost_to_another_runner_between_read_and_update_is_busy(
    clean_registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compare-and-set UPDATE is what keeps SQLite (no row locks) to one runner: a runner
    that read the row before another changed it sees no row changed."""
    register_job("raced", lambda ctx: None, order=10)
    run = JobRun.objects.create(job="raced", run_date=DAY)
    original_check = services.check_transition

    def check_then_other_runner_claims(*args: Any, **kwargs: Any) -> None:
        original_check(*args, **kwargs)
        JobRun.objects.filter(pk=run.pk).update(status=JobRunStatus.RUNNING, worker_id="other", attempts=1)

    monkeypatch.setattr(services, "check_transition", check_then_other_runner_claims)
    got, why = services.Runner(worker_id="me").claim("raced", DAY)
    assert (got, why) == (None, "busy")
    assert JobRun.objects.get(pk=run.pk).worker_id == "other"


@pytest.mark.django_db
def test_the_last_progress_reported_is_kept_whatever_the_throttle_skipped(clean_registry: Any) -> None:
    def chatty(ctx: JobContext) -> None:
        for i in range(1, 501):
            ctx.progress(i)

    register_job("chatty", chatty, order=10)
    outcome = services.run_daily(DAY)[0]
    run = JobRun.objects.get(job="chatty")
    assert (run.done, run.total) == (500, None)
    assert (outcome.done, outcome.total) == (500, None)
