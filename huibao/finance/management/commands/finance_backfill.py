"""`manage.py finance_backfill`: posts to the ledger every paid payment's premium and every
succeeded refund it lacks (payments made before the ledger listened, or while a hook was not
registered). Idempotent: run it again and it posts nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from huibao.finance import postings


class Command(BaseCommand):
    help = "Post the premium and refunds missing from the ledger (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        result = postings.backfill()
        self.stdout.write(
            f"payments read: {result.payments}; premium transactions posted: {result.premium}; "
            f"refunds posted: {result.refunds}"
        )
