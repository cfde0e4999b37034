"""`manage.py maintain_partitions`: create the next months' partitions of every table partitioned
by month and drop the months past their retention (`huibao.core.partitioning`). Run it daily (it
is also one of `run_sweeps`' sweeps); idempotent, and a no-op on SQLite."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from huibao.core import partitioning


class Command(BaseCommand):
    help = "Create the coming months' partitions; drop the months past their retention."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--months-ahead", type=int, default=partitioning.MONTHS_AHEAD)
        parser.add_argument("--no-purge", action="store_true", help="only create partitions")

    def handle(self, *args: Any, **options: Any) -> None:
        for name in partitioning.ensure_partitions(options["months_ahead"]):
            self.stdout.write(f"created {name}")
        if not options["no_purge"]:
            for table, dropped in partitioning.purge_expired().items():
                for name in dropped:
                    self.stdout.write(f"dropped {name} ({table})")
        for part in partitioning.partitioned_tables():
            months = partitioning.month_partitions(part.table)
            span = f"{months[0][0]} … {months[-1][0]}" if months else "no month partitions"
            self.stdout.write(f"{part.table} by {part.column}: {len(months)} months ({span})")
