"""`manage.py load_demo_claim_insurers`: how the demo insurers decide their claims (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from huibao.claim.insurer_demo import load_insurer_settings


class Command(BaseCommand):
    help = "Set how each demo insurer decides its claims (connector or back office); keeps existing settings."

    def handle(self, *args: Any, **options: Any) -> None:
        count = load_insurer_settings()
        if options["verbosity"]:
            self.stdout.write(f"Claim settings of {count} insurer(s) set.")
