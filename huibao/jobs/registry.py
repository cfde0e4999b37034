"""The daily jobs' registry and the context a job runs with (no Django: apps import it in their
`AppConfig.ready()`).

A job is `fn(ctx: JobContext) -> None` for the business date `ctx.run_date` (a past date when
catching up). It must be idempotent — run twice for the same date, the second run changes
nothing — and resumable: it works in batches, each in its own transaction, calling
`ctx.save_cursor(value)` inside that transaction so that where it got to commits with what it
did; after a crash the next run starts with `ctx.cursor` at the last committed batch. It reports
`ctx.progress(done, total)` and calls `ctx.check_stop()` between batches (graceful shutdown).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any


class JobInterrupted(Exception):
    """Raised by `JobContext.check_stop()` when the runner is asked to stop: the run is left
    failed (to be resumed from its cursor by the next runner)."""


class LeaseLost(Exception):
    """The run was taken over by another runner (its heartbeat was stale): this one must stop,
    and what its current batch did is rolled back."""


@dataclass(slots=True)
class JobContext:
    """What a running job sees of its run. The runner supplies the callbacks."""

    job: str
    run_date: datetime.date
    cursor: Any
    _save: Callable[[Any], None] = field(repr=False)
    _progress: Callable[[int, int | None], None] = field(repr=False)
    _stop: Callable[[], bool] = field(repr=False, default=lambda: False)

    def save_cursor(self, value: Any) -> None:
        """Records where the job got to (JSON-serialisable). Call it inside the batch's
        transaction: it commits (or rolls back) with the batch. Raises `LeaseLost` if another
        runner took the run over."""
        self._save(value)
        self.cursor = value

    def progress(self, done: int, total: int | None = None) -> None:
        self._progress(done, total)

    @property
    def should_stop(self) -> bool:
        return self._stop()

    def check_stop(self) -> None:
        """Between batches: raises `JobInterrupted` if the runner is shutting down."""
        if self._stop():
            raise JobInterrupted(self.job)


JobFn = Callable[[JobContext], None]


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    fn: JobFn
    order: int
    description: str = ""


_JOBS: dict[str, Job] = {}


def register_job(name: str, fn: JobFn, *, order: int, description: str = "") -> Job:
    """Registers (or replaces, under the same name) a daily job; jobs run by `order`, then name."""
    if not name or len(name) > 100:
        raise ValueError("register_job(): name must be 1 to 100 characters")
    job = Job(name=name, fn=fn, order=order, description=description)
    _JOBS[name] = job
    return job


def unregister_job(name: str) -> None:
    _JOBS.pop(name, None)


def registered_jobs(only: Collection[str] | None = None) -> list[Job]:
    """The registered jobs in running order (those named in `only`; an unknown name raises)."""
    if only is not None:
        unknown = sorted(set(only) - set(_JOBS))
        if unknown:
            raise KeyError(f"unknown job(s): {', '.join(unknown)} (registered: {', '.join(sorted(_JOBS))})")
    jobs = [j for j in _JOBS.values() if only is None or j.name in only]
    return sorted(jobs, key=lambda j: (j.order, j.name))


def get_job(name: str) -> Job:
    return _JOBS[name]
