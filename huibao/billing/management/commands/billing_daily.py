"""`manage.py billing_daily [--date YYYY-MM-DD]`: overdue marks, lapses and mandate charges for
one day (idempotent: run it again, or for a past date to catch up)."""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from huibao.billing.services import run_daily


class Command(BaseCommand):
    help = "Run billing's daily work for a date (default today); idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=datetime.date.fromisoformat, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        result = run_daily(options["date"] or timezone.localdate())
        self.stdout.write(json.dumps(dataclasses.asdict(result), default=str))
