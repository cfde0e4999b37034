"""`manage.py backfill_trigger_index`: index the flight-delay and return-shipping policies issued
before the trigger index existed (run again: adds nothing)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from huibao.claim.triggers import backfill_index


class Command(BaseCommand):
    help = "Index event-triggered policies issued before the trigger index (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        added = backfill_index()
        self.stdout.write(f"indexed {added} policies")
