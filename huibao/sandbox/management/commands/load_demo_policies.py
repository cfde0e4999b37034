"""`manage.py load_demo_policies [--phone 13800138000]`: the demo customer's five policies (see
`huibao/sandbox/demo.py`), bought through the sandbox gateway and issued at their stories' dates;
prints what each shows. Run by `setup_demo` after the demo log-ins; idempotent."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from huibao.account.demo import DEMO_CUSTOMER_PHONE
from huibao.account.selectors import customer_by_phone
from huibao.sandbox.demo import STORIES, load_demo_policies


class Command(BaseCommand):
    help = "Give the demo customer policies at each point of a policy's life (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--phone", default=DEMO_CUSTOMER_PHONE, help="the demo customer's mobile number")

    def handle(self, *args: Any, **options: Any) -> None:
        user = customer_by_phone(options["phone"])
        if user is None:
            raise CommandError(f"no customer with the mobile number {options['phone']} (run setup_demo)")
        started = time.monotonic()
        policies = load_demo_policies(user)
        if options["verbosity"] > 1:
            self.stdout.write(f"demo policies ready in {time.monotonic() - started:.1f} s")
        self.stdout.write(f"The demo customer's policies (log in as {options['phone']}, /policy/mine/):")
        if len(policies) < len(STORIES):
            self.stdout.write(
                f"  (the market has no medical product for {len(STORIES) - len(policies)} of them)"
            )
        for p in policies:
            self.stdout.write(f"  {p.number:<22} {p.status_label:<6} {p.product_name}")
            if p.what:
                self.stdout.write(f"  {'':<22} {p.what}")
