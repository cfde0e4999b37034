"""`manage.py load_demo_commissions`: the demo commission plans and the demo policies' entries."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from huibao.finance.commission_demo import load_demo_commission


class Command(BaseCommand):
    help = "Load the demo commission plans (once) and book the commission entries of the demo policies."

    def handle(self, *args: Any, **options: Any) -> None:
        made = load_demo_commission()
        self.stdout.write(
            f"Commission plans: {made['inbound']} inbound, {made['outbound']} outbound new; "
            f"{made['entries']} commission entries booked."
        )
