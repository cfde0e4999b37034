"""`manage.py run_daily [--date YYYY-MM-DD] [--job NAME ...] [--catch-up] [--list]`: the daily
jobs for a business date (today by default), by hand. A (job, date) that succeeded is not run
again; a failed or crashed one is resumed from where it got to. `--catch-up` runs every date
missed since each job's last success up to the date. SIGTERM/Ctrl-C stop it between batches."""

from __future__ import annotations

import datetime
import signal
import threading
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from huibao.jobs import services
from huibao.jobs.registry import registered_jobs


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--date: {value!r} is not a date (YYYY-MM-DD)") from exc


class Command(BaseCommand):
    help = "Run the daily jobs for a business date (today by default), or list them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="business date YYYY-MM-DD (default: today, local time)")
        parser.add_argument(
            "--job", action="append", dest="jobs", metavar="NAME", help="only this job (repeatable)"
        )
        parser.add_argument("--catch-up", action="store_true", help="first run every missed date")
        parser.add_argument("--list", action="store_true", help="list the jobs and their state for the date")

    def handle(self, *args: Any, **options: Any) -> None:
        today = timezone.localdate()
        day = _date(options["date"]) if options["date"] else today
        if day > today:
            raise CommandError(f"--date: {day} is in the future (today is {today})")
        try:
            jobs = registered_jobs(options["jobs"])
        except KeyError as exc:
            raise CommandError(str(exc.args[0])) from exc
        if options["list"]:
            runs = services.last_runs(day)
            for job in jobs:
                run = runs.get(job.name)
                state = (
                    f"{run.status} {run.done}/{run.total if run.total is not None else '?'}"
                    if run
                    else "not run"
                )
                self.stdout.write(f"{job.order:>4}  {job.name:36} {state:20} {job.description}")
            return
        stop = threading.Event()
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
        if threading.current_thread() is threading.main_thread():
            for sig in previous:
                signal.signal(sig, lambda *_: stop.set())
        last_print: dict[str, float] = {}

        def progress(job: str, run_date: datetime.date, done: int, total: int | None) -> None:
            now = time.monotonic()
            if now - last_print.get(job, 0.0) >= 1.0 or (total is not None and done >= total):
                last_print[job] = now
                self.stdout.write(f"  {job} {run_date}: {done}/{total if total is not None else '?'}")

        try:
            runner = services.Runner(stop=stop.is_set, on_progress=progress)
            names = [j.name for j in jobs] if options["jobs"] else None
            outcomes = (
                runner.catch_up(day, only=names) if options["catch_up"] else runner.run_daily(day, only=names)
            )
        finally:
            if threading.current_thread() is threading.main_thread():
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
        failed = 0
        for o in outcomes:
            line = f"{o.job} {o.run_date}: {o.status}"
            if o.status in ("succeeded", "failed"):
                total = o.total if o.total is not None else "?"
                line += f" ({o.done}/{total}, {o.seconds:.1f}s, attempt {o.attempts}"
                line += ", resumed)" if o.resumed else ")"
            if o.error:
                line += f" — {o.error}"
            self.stdout.write(line)
            failed += o.status == "failed"
        if stop.is_set():
            self.stdout.write("stopped before the end: run it again to resume")
        if failed:
            raise CommandError(f"{failed} job run(s) failed")
