"""The daily run: each registered job once per business date, resumed after a crash, in date
order when catching up, and in one runner only when several run at once.

Claiming a (job, date): its `JobRun` row is locked (`select_for_update(skip_locked=True)` on
PostgreSQL: a second runner passes by instead of waiting) and moved to `running` by a
compare-and-set UPDATE on its status, attempt count and worker — on SQLite, which has no row
locks, that UPDATE is the lock: of two runners, one changes the row and the other sees no row
changed. A claimed run belongs to its worker while its heartbeat is fresh (every saved cursor and
progress report renews it, each an UPDATE guarded by the worker id: a runner whose run was taken
over gets `LeaseLost` and its batch rolls back). A run whose heartbeat is older than
`JOBS_STALE_AFTER` seconds (a crashed runner) is taken over and resumed from its cursor.
"""

from __future__ import annotations

import datetime
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from huibao.core import audit
from huibao.core.masking import scrub
from huibao.core.states import check_transition
from huibao.jobs import rules
from huibao.jobs.models import JobRun, Lease
from huibao.jobs.registry import Job, JobContext, JobInterrupted, LeaseLost, registered_jobs
from huibao.jobs.states import JOB_RUN_TRANSITIONS, JobRunStatus

logger = logging.getLogger(__name__)

OBJ_TYPE = "job_run"
ACTOR = "system:jobs"
ERROR_MAX = 2000
PROGRESS_EVERY = 1.0  # seconds between two progress writes (the last one is always written)

ProgressFn = Callable[[str, datetime.date, int, "int | None"], None]


def stale_after() -> datetime.timedelta:
    return datetime.timedelta(seconds=float(getattr(settings, "JOBS_STALE_AFTER", 600)))


def catch_up_max_days() -> int:
    return int(getattr(settings, "JOBS_CATCH_UP_MAX_DAYS", 31))


def new_worker_id() -> str:
    import os
    import socket

    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def error_text(exc: BaseException) -> str:
    """The exception's class and first lines of its message, personal data masked."""
    message = str(exc).strip()
    return scrub(f"{type(exc).__qualname__}: {message}" if message else type(exc).__qualname__)[:ERROR_MAX]


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What became of one (job, date) in this runner: `succeeded` or `failed` here, `skipped`
    (already succeeded), `busy` (another runner holds it) or `lost` (taken over meanwhile)."""

    job: str
    run_date: datetime.date
    status: str
    done: int = 0
    total: int | None = None
    seconds: float = 0.0
    attempts: int = 0
    resumed: bool = False
    error: str = ""


def _record(action: str, run: JobRun, **after: Any) -> None:
    audit.record(
        f"jobs.run.{action}",
        OBJ_TYPE,
        f"{run.job}:{run.run_date.isoformat()}",
        actor=ACTOR,
        after={"attempt": run.attempts, **after},
    )


class Runner:
    """Runs daily jobs as one worker. `stop()` says whether to shut down (checked between
    batches through `JobContext.check_stop` and between jobs); `on_progress` sees every report."""

    def __init__(
        self,
        *,
        worker_id: str | None = None,
        stop: Callable[[], bool] | None = None,
        on_progress: ProgressFn | None = None,
    ) -> None:
        self.worker_id = worker_id or new_worker_id()
        self._stop = stop or (lambda: False)
        self._on_progress = on_progress

    # --- claiming ---------------------------------------------------------------------------

    def claim(self, name: str, run_date: datetime.date) -> tuple[JobRun | None, str]:
        """Takes the run of `name` for `run_date` for this worker: (the run, "") or (None, why
        not: "skipped" when it already succeeded, "busy" when another runner holds it)."""
        run, _ = JobRun.objects.get_or_create(job=name, run_date=run_date)
        now = timezone.now()
        with transaction.atomic():
            rows = JobRun.objects.filter(pk=run.pk)
            if connection.features.has_select_for_update_skip_locked:
                rows = rows.select_for_update(skip_locked=True)
            else:
                rows = rows.select_for_update()
            row = rows.first()
            if row is None:
                return None, "busy"
            if row.status == JobRunStatus.SUCCEEDED:
                return None, "skipped"
            if row.status == JobRunStatus.RUNNING and not rules.is_stale(
                row.heartbeat_at, now, after=stale_after()
            ):
                return None, "busy"
            check_transition(JOB_RUN_TRANSITIONS, row.status, JobRunStatus.RUNNING, what="job run")
            taken = JobRun.objects.filter(
                pk=row.pk, status=row.status, attempts=row.attempts, worker_id=row.worker_id
            ).update(
                status=JobRunStatus.RUNNING,
                worker_id=self.worker_id,
                heartbeat_at=now,
                started_at=row.started_at or now,
                finished_at=None,
                attempts=F("attempts") + 1,
            )
            if taken != 1:
                return None, "busy"
            row.refresh_from_db()
            _record(
                "resumed" if row.attempts > 1 else "started",
                row,
                worker=self.worker_id,
                cursor=row.cursor,
                previous_error=row.error[:200],
            )
        return row, ""

    # --- the job's callbacks ----------------------------------------------------------------

    def _mine(self, pk: int) -> Any:
        return JobRun.objects.filter(pk=pk, worker_id=self.worker_id, status=JobRunStatus.RUNNING)

    def _save_cursor(self, run: JobRun, value: Any) -> None:
        if self._mine(run.pk).update(cursor=value, heartbeat_at=timezone.now()) != 1:
            raise LeaseLost(f"{run.job} {run.run_date}: taken over by another runner")

    def _progress_fn(self, run: JobRun) -> Callable[[int, int | None], None]:
        last = [0.0]

        def progress(done: int, total: int | None) -> None:
            run.done, run.total = done, total  # written at the end whatever the throttle skipped
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY or (total is not None and done >= total):
                last[0] = now
                if self._mine(run.pk).update(done=done, total=total, heartbeat_at=timezone.now()) != 1:
                    raise LeaseLost(f"{run.job} {run.run_date}: taken over by another runner")
            if self._on_progress is not None:
                self._on_progress(run.job, run.run_date, done, total)

        return progress

    # --- running ----------------------------------------------------------------------------

    def _finish(self, run: JobRun, target: str, *, error: str = "") -> bool:
        with transaction.atomic():
            row = self._mine(run.pk).select_for_update().first()
            if row is None:
                return False
            check_transition(JOB_RUN_TRANSITIONS, row.status, target, what="job run")
            row.status = target
            row.error = error
            row.done, row.total = run.done, run.total
            row.finished_at = timezone.now()
            row.heartbeat_at = row.finished_at
            row.save(update_fields=["status", "error", "done", "total", "finished_at", "heartbeat_at"])
            _record(target, row, done=row.done, total=row.total, error=error[:200])
        return True

    def run_job(self, job: Job, run_date: datetime.date) -> RunOutcome:
        """Runs `job` for `run_date` unless it already succeeded or another runner holds it."""
        run, why = self.claim(job.name, run_date)
        if run is None:
            return RunOutcome(job.name, run_date, why)
        started = time.monotonic()
        resumed = run.cursor is not None
        ctx = JobContext(
            job=job.name,
            run_date=run_date,
            cursor=run.cursor,
            _save=lambda value: self._save_cursor(run, value),
            _progress=self._progress_fn(run),
            _stop=self._stop,
        )
        status, error = JobRunStatus.SUCCEEDED, ""
        try:
            job.fn(ctx)
        except LeaseLost:
            logger.warning("job %s for %s was taken over by another runner", job.name, run_date)
            return RunOutcome(job.name, run_date, "lost", seconds=time.monotonic() - started)
        except JobInterrupted:
            status, error = JobRunStatus.FAILED, "interrupted: the runner was stopped"
        except Exception as exc:  # a failing job is recorded and retried; the others still run
            logger.exception("job %s for %s failed", job.name, run_date)
            status, error = JobRunStatus.FAILED, error_text(exc)
        if not self._finish(run, status, error=error):
            return RunOutcome(job.name, run_date, "lost", seconds=time.monotonic() - started)
        return RunOutcome(
            job.name,
            run_date,
            str(status),
            done=run.done,
            total=run.total,
            seconds=time.monotonic() - started,
            attempts=run.attempts,
            resumed=resumed,
            error=error,
        )

    def run_daily(self, run_date: datetime.date, *, only: Sequence[str] | None = None) -> list[RunOutcome]:
        """Every registered job (those in `only`) for `run_date`, in order. A failing job does not
        stop the next ones; a stop request does."""
        outcomes = []
        for job in registered_jobs(only):
            if self._stop():
                break
            outcomes.append(self.run_job(job, run_date))
        return outcomes

    def catch_up(self, until: datetime.date, *, only: Sequence[str] | None = None) -> list[RunOutcome]:
        """For each job, every date from the day after its last succeeded one (at most
        `JOBS_CATCH_UP_MAX_DAYS` back; `until` for a job that never ran) to `until`, dates in
        order. A job that fails (or is busy elsewhere) for a date is not run for later dates."""
        jobs = registered_jobs(only)
        if not jobs:
            return []
        last = dict(
            JobRun.objects.filter(
                job__in=[j.name for j in jobs], status=JobRunStatus.SUCCEEDED, run_date__lte=until
            )
            .values("job")
            .annotate(last=Max("run_date"))
            .values_list("job", "last")
        )
        starts = {
            j.name: rules.catch_up_start(last.get(j.name), until, max_days=catch_up_max_days()) for j in jobs
        }
        blocked: set[str] = set()
        outcomes: list[RunOutcome] = []
        for day in rules.dates_between(min(starts.values()), until):
            for job in jobs:
                if job.name in blocked or starts[job.name] > day:
                    continue
                if self._stop():
                    return outcomes
                outcome = self.run_job(job, day)
                outcomes.append(outcome)
                if outcome.status not in (JobRunStatus.SUCCEEDED, "skipped"):
                    blocked.add(job.name)
        return outcomes


def run_daily(
    run_date: datetime.date, *, only: Sequence[str] | None = None, **runner: Any
) -> list[RunOutcome]:
    return Runner(**runner).run_daily(run_date, only=only)


def catch_up(until: datetime.date, *, only: Sequence[str] | None = None, **runner: Any) -> list[RunOutcome]:
    return Runner(**runner).catch_up(until, only=only)


def last_runs(run_date: datetime.date) -> dict[str, JobRun]:
    return {r.job: r for r in JobRun.objects.filter(run_date=run_date)}


# --- leases (one scheduler at a time) ----------------------------------------------------------


def acquire_lease(name: str, holder: str, *, stale: datetime.timedelta) -> bool:
    """Takes the lease `name` for `holder` if it is free, already its own, or its holder's
    heartbeat is older than `stale`; one compare-and-set UPDATE, so two takers never both win."""
    Lease.objects.get_or_create(name=name)
    now = timezone.now()
    free = Q(holder="") | Q(holder=holder) | Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - stale)
    return Lease.objects.filter(free, name=name).update(holder=holder, heartbeat_at=now) == 1


def renew_lease(name: str, holder: str) -> bool:
    return Lease.objects.filter(name=name, holder=holder).update(heartbeat_at=timezone.now()) == 1


def release_lease(name: str, holder: str) -> None:
    Lease.objects.filter(name=name, holder=holder).update(holder="", heartbeat_at=None)


def lease_value(name: str) -> str:
    return Lease.objects.filter(name=name).values_list("value", flat=True).first() or ""


def set_lease_value(name: str, holder: str, value: str) -> bool:
    return Lease.objects.filter(name=name, holder=holder).update(value=value) == 1
