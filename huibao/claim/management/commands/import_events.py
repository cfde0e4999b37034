"""`manage.py import_events FILE --source NAME --kind flight|return`: events from a CSV or Excel
file, each row accepted (and paid) or refused with its reason; exit status 1 when any row was
refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from huibao.claim.events_intake import import_file
from huibao.core.errors import DomainError


class Command(BaseCommand):
    help = "Import flight-status or return events from a CSV/XLSX file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--source", required=True)
        parser.add_argument("--kind", choices=["flight", "return"], default="flight")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            outcomes = import_file(options["source"], options["kind"], path.name, path.read_bytes())
        except (OSError, DomainError) as exc:
            raise CommandError(str(exc)) from exc
        refused = 0
        for o in outcomes:
            if not o.accepted:
                refused += 1
                self.stdout.write(f"row {o.row} {o.event_id or '-'}: refused — {o.reason}")
            elif o.duplicate:
                self.stdout.write(f"row {o.row} {o.event_id}: duplicate, paid nobody again")
            else:
                self.stdout.write(f"row {o.row} {o.event_id}: accepted, {o.payouts} payout(s)")
        self.stdout.write(f"{len(outcomes) - refused} accepted, {refused} refused")
        if refused:
            raise CommandError(f"{refused} row(s) refused")
