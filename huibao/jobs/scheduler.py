"""The scheduler behind `manage.py run_scheduler`: Django's tasks framework runs tasks but
schedules nothing periodically, so one small loop does — at start it catches up (every date
whose run time has passed), then at the configured local time each day it starts the daily run,
by enqueueing `jobs.tasks.run_daily_task` for the workers (or running it in-process with
`inline`). Only one scheduler is active: it holds the lease "scheduler", renewed every tick; a
second one waits and takes over when the first stops renewing it."""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils import timezone

from huibao.jobs import rules, services
from huibao.jobs.tasks import run_daily_task

logger = logging.getLogger(__name__)

LEASE = "scheduler"


def parse_time(value: str) -> datetime.time:
    return datetime.time.fromisoformat(value)


def due_date(now: datetime.datetime, at: datetime.time) -> datetime.date:
    """The latest business date whose run time has come at local `now`."""
    return now.date() if now.time() >= at else now.date() - datetime.timedelta(days=1)


@dataclass
class Scheduler:
    at: datetime.time
    stop: threading.Event
    inline: bool = False
    tick: float = 5.0
    stale: datetime.timedelta = datetime.timedelta(seconds=60)
    say: Callable[[str], None] = print
    holder: str = field(default_factory=services.new_worker_id)

    def start_run(self, until: datetime.date) -> None:
        if self.inline:
            outcomes = services.catch_up(until, stop=self.stop.is_set)
            self.say(
                f"daily run up to {until}: " + ", ".join(f"{o.job} {o.run_date} {o.status}" for o in outcomes)
            )
        else:
            run_daily_task.enqueue(until=until.isoformat(), catch_up=True)
            self.say(f"daily run up to {until} enqueued")
        services.set_lease_value(LEASE, self.holder, until.isoformat())

    def wait_for_lease(self) -> bool:
        while not self.stop.is_set():
            if services.acquire_lease(LEASE, self.holder, stale=self.stale):
                self.say(f"scheduler {self.holder} active (daily run at {self.at:%H:%M} local time)")
                return True
            self.stop.wait(self.tick)
        return False

    def run(self) -> None:
        try:
            while self.wait_for_lease():
                # At start: catch up every date whose run time has passed (idempotent).
                self.start_run(due_date(timezone.localtime(), self.at))
                next_at = rules.next_run_at(timezone.localtime(), self.at)
                while not self.stop.is_set():
                    if not services.renew_lease(LEASE, self.holder):
                        self.say("scheduler lease lost: waiting to take it again")
                        break
                    now = timezone.localtime()
                    if now >= next_at:
                        day = due_date(now, self.at)
                        if services.lease_value(LEASE) != day.isoformat():
                            self.start_run(day)
                        next_at = rules.next_run_at(now, self.at)
                    self.stop.wait(self.tick)
        finally:
            services.release_lease(LEASE, self.holder)
            self.say("scheduler stopped")
