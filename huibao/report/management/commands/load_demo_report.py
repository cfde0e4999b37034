"""`manage.py load_demo_report`: yesterday's daily sales report to the demo's managers and finance
staff (idempotent), and where to look (see huibao/report/demo.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from huibao.report.demo import load_demo_report


class Command(BaseCommand):
    help = "Send yesterday's daily sales report in the demo (once) and print where the reports are."

    def handle(self, *args: Any, **options: Any) -> None:
        found = load_demo_report()
        self.stdout.write(
            f"Reports: /reports/ (back-office home), /reports/sales/ (charts, Excel), /reports/me/ (agents);"
            f" this month {found.month_policies} policies, premium ¥{found.month_premium};"
            f" {found.messages} daily-report messages written."
        )
