"""The issuance's booking job in tests: the tests' transaction never commits, so the jobs the
policy would queue after the commit are recorded here instead (the very calls the finance
listener answers, `tasks.on_policies_issued`), and `run_booking_jobs()` does what the worker
does with them. The `booking_jobs` fixture records while a test runs (autouse in the finance and
report tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from huibao.core.taskqueue import Call
from huibao.finance import tasks
from huibao.policy.services import PoliciesIssued, policies_issued


class BookingJobs:
    def __init__(self) -> None:
        self.queued: list[Call] = []

    def listen(self, event: PoliciesIssued) -> None:
        self.queued.extend(tasks.on_policies_issued(event))

    def run(self) -> int:
        """Runs every booking job queued so far, in order, once; answers how many policies
        they booked."""
        calls, self.queued = self.queued, []
        return sum(int(task.call(*args, **kwargs) or 0) for task, args, kwargs in calls)


_recording: list[BookingJobs] = []


def run_booking_jobs() -> int:
    """What the worker does after the issuing commit: the booking jobs queued so far, run."""
    if not _recording:
        raise RuntimeError("no booking jobs are recorded: use the `booking_jobs` fixture")
    return _recording[-1].run()


@pytest.fixture
def booking_jobs() -> Iterator[BookingJobs]:
    """The booking jobs queued while the test runs; `booking_jobs.run()` runs them."""
    jobs = BookingJobs()
    policies_issued.register(jobs.listen)
    _recording.append(jobs)
    try:
        yield jobs
    finally:
        _recording.remove(jobs)
        policies_issued.unregister(jobs.listen)
