"""`manage.py load_demo_settlement`: the demo settlement statements (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from huibao.finance.settlement_demo import load_demo_settlement


class Command(BaseCommand):
    help = "Create demo premium, commission and settlement statements of the last two months."

    def handle(self, *args: Any, **options: Any) -> None:
        result = load_demo_settlement()
        self.stdout.write(
            f"Settlement statements at /finance/statements/ ({result.statements} of the last two months;"
            " the finance log-in approves the submitted one, the month before's are overdue)."
        )
