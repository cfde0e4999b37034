"""`manage.py insurer_statement --insurer CODE --month 2026-11 [--format csv|xlsx] [--out FILE]`:
the sandbox insurer's statement for a month, made from the platform's records with realistic
differences (huibao/sandbox/insurer_statement.py); CSV in GBK, or Excel."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from huibao.catalog.models import Insurer
from huibao.sandbox import insurer_statement


class Command(BaseCommand):
    help = "Write a sandbox insurer's statement file for a month (CSV GBK or XLSX)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--insurer", required=True, help="the insurer's code")
        parser.add_argument("--month", required=True, help="YYYY-MM")
        parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
        parser.add_argument("--seed", type=int, default=12)
        parser.add_argument("--out", default="", help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        insurer = Insurer.objects.filter(code=options["insurer"]).first()
        if insurer is None:
            raise CommandError(f"no insurer with the code {options['insurer']!r}")
        try:
            data = insurer_statement.statement_file(
                insurer, options["month"], options["format"], seed=options["seed"]
            )
        except ValueError as exc:
            raise CommandError("--month is YYYY-MM") from exc
        if options["out"]:
            Path(options["out"]).write_bytes(data)
            self.stdout.write(f"wrote {len(data):,} bytes to {options['out']}")
        else:
            sys.stdout.buffer.write(data)
