"""`manage.py load_demo_claims`: the demo claims — one fast-tracked and paid, one in fraud review,
one blocked, one on hold — and the demo customer's flight-delay policy (see
`huibao/sandbox/demo_claims.py`); prints what each shows. Run by `setup_demo` after the demo
policies; idempotent."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from huibao.sandbox.demo_claims import DEMO_FLIGHT, RISK_PHONE, load_demo_claims


class Command(BaseCommand):
    help = "Give the demo customers claims in each state and a flight-delay policy (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        claims = load_demo_claims()
        if options["verbosity"] > 1:
            self.stdout.write(f"demo claims ready in {time.monotonic() - started:.1f} s")
        if not claims:
            return
        self.stdout.write(
            f"Demo claims (the claims desk /claims/desk/, the fraud queue /fraud/; customer {RISK_PHONE}"
            " holds the ones the fraud team looks at):"
        )
        for c in claims:
            self.stdout.write(f"  {c.number:<22} {c.what}")
        self.stdout.write(
            f"Flight delay: the demo customer's flight {DEMO_FLIGHT} today — set it delayed at"
            " /sandbox/flight-feed/ and the benefit is paid without a claim (/claims/auto/)."
        )
