"""`manage.py reconcile_gateway_bill --provider alipay --date 2026-12-03`: one gateway's daily
file against the platform's payments and refunds; lists what differs (exit status 1 then)."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from huibao.payment.gateways import reconcile


class Command(BaseCommand):
    help = "Compares a payment gateway's reconciliation file of one day with the platform's payments."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", required=True, choices=reconcile.gateways_with_bills() or None)
        parser.add_argument("--date", required=True, type=datetime.date.fromisoformat, help="YYYY-MM-DD")

    def handle(self, *args: Any, **options: Any) -> None:
        result = reconcile.reconcile_day(options["provider"], options["date"])
        self.stdout.write(f"{result.provider} {result.day}: {result.rows} row(s) in the file")
        for d in result.differences:
            amounts = f"gateway {d.gateway_fen}, platform {d.platform_fen} fen"
            self.stdout.write(f"  {d.merchant_ref} {d.kind}: {d.problem} ({amounts})")
        if not result.balanced:
            raise CommandError(f"{len(result.differences)} difference(s)", returncode=1)
        self.stdout.write("balanced")
