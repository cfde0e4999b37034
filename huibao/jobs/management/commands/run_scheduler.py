"""`manage.py run_scheduler [--at HH:MM] [--inline]`: starts the daily run every day at the
configured local time (`JOBS_DAILY_AT`, default 00:30), and at start for every missed date; one
scheduler at a time (a second one waits as a stand-by). SIGTERM/Ctrl-C stop it cleanly. By
default it enqueues `jobs.tasks.run_daily_task` for the task workers; `--inline` runs it here."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from huibao.jobs.scheduler import Scheduler, parse_time


class Command(BaseCommand):
    help = "Run the daily jobs every day at a set local time (and catch up at start)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--at", default=getattr(settings, "JOBS_DAILY_AT", "00:30"), help="local time HH:MM"
        )
        parser.add_argument("--inline", action="store_true", help="run the jobs in this process")
        parser.add_argument("--tick", type=float, default=5.0, help="seconds between two checks")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            at = parse_time(options["at"])
        except ValueError as exc:
            raise CommandError(f"--at: {options['at']!r} is not a time (HH:MM)") from exc
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
        Scheduler(
            at=at,
            stop=stop,
            inline=options["inline"],
            tick=options["tick"],
            say=lambda text: self.stdout.write(text),
        ).run()
