"""`manage.py load_demo_reconciliation`: last month's sandbox insurer statement imported, its
differences open for the demo finance user to resolve (/finance/reconciliation/). Idempotent."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from huibao.finance.reconciliation import totals
from huibao.sandbox.insurer_statement import load_demo_reconciliation


class Command(BaseCommand):
    help = "Import a sandbox insurer's statement for last month with its differences (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        rec = load_demo_reconciliation()
        if rec is None:
            self.stdout.write("no policies yet: no reconciliation demo")
            return
        figures = ", ".join(f"{t.label} {t.count}" for t in totals(rec))
        self.stdout.write(f"Reconciliation {rec.month} ({rec.insurer}): {figures} — /finance/reconciliation/")
