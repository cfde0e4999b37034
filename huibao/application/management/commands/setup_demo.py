"""`manage.py setup_demo`: migrate, load the demo market once, create the demo log-ins, give the
demo customer their policies (`load_demo_policies`), print them.

It sets up every app, so it lives in the application, the app that may know all the others.
"""

from __future__ import annotations

import time
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from huibao.account.demo import create_demo_users
from huibao.catalog.models import Product
from huibao.distribution.demo import load_demo_distribution
from huibao.provider.demo import load_providers


class Command(BaseCommand):
    help = "Migrate the database, load the demo market (once) and print the demo log-ins."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seed", type=int, default=20261122)
        parser.add_argument(
            "--no-policies", action="store_true", help="do not give the demo customer their policies"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        call_command("migrate", interactive=False, verbosity=0)
        call_command("setup_roles", verbosity=0)
        if Product.objects.exists():
            self.stdout.write(f"Demo market already loaded ({Product.objects.count()} products).")
        else:
            self.stdout.write("Loading the demo market…")
            call_command("load_demo", seed=options["seed"], verbosity=1)
        # Who decides each insurer's claims (connector or back office): kept once set.
        call_command("load_demo_claim_insurers", verbosity=0)
        logins = create_demo_users()
        network = load_providers()
        # The agency, its agreements and sales hierarchy (before the policies: the demo
        # customer's are sold by the demo agent).
        distribution = load_demo_distribution()
        # The demo customer's policies, at each point of a policy's life (bought through the
        # sandbox gateway: the command lives in the sandbox app; see huibao/sandbox/demo.py).
        policies = StringIO()
        if not options["no_policies"]:
            call_command("load_demo_policies", stdout=policies)
        # The ledger: every demo payment's premium and refund booked (the finance app's command,
        # idempotent; the paid hooks booked most of them already).
        call_command("finance_backfill", verbosity=0, stdout=StringIO())
        # Commission plans per insurer and sales unit, and the policies' commission entries
        # (the finance app's command: application does not import finance).
        call_command("load_demo_commissions", verbosity=0, stdout=StringIO())
        if not options["no_policies"]:
            # Reconciliation: last month's sandbox insurer statement, differences open (sandbox app).
            call_command("load_demo_reconciliation", stdout=policies)
            # Claims in each state on the claims desk and in the fraud queue, and the demo
            # customer's flight-delay policy (sandbox app: it buys and pays at the sandboxes).
            call_command("load_demo_claims", stdout=policies)
        elapsed = time.monotonic() - started
        self.stdout.write(self.style.SUCCESS(f"Ready in {elapsed:.0f} s."))
        self.stdout.write("")
        self.stdout.write("Demo log-ins")
        self.stdout.write("-" * 100)
        for login in logins:
            self.stdout.write(self._format(login))
        # The claims desks (the claim app's command: application does not import claim).
        call_command("load_demo_desks", stdout=self.stdout)
        # Settlement statements with insurers, channels and agents (the finance app's command).
        call_command("load_demo_settlement", stdout=self.stdout)
        # The reports (the report app's command: application does not import report).
        call_command("load_demo_report", stdout=self.stdout)
        # The partner API's demo partners and their keys (the partner app's command).
        call_command("load_demo_partners", stdout=self.stdout)
        self.stdout.write("-" * 100)
        if policies.getvalue():
            self.stdout.write(policies.getvalue().rstrip())
            self.stdout.write("-" * 100)
        self.stdout.write(
            "Customers log in at /account/login/; staff at /account/staff/login/ or /admin/"
            " with the TOTP code of their secret (add it to an authenticator app, or run: "
            ".venv/bin/python -c \"import pyotp; print(pyotp.TOTP('SECRET').now())\")."
        )
        self.stdout.write(
            f"Distribution: {distribution.agreements} agreements, {distribution.units} sales units"
            f" (/distribution/); the agent log-in is agent {distribution.agent_code}, the"
            f" channel_manager log-in manages channel {distribution.channel_code}."
        )
        self.stdout.write(
            f"The provider log-in works for {network.provider_name}: its tasks at /provider/"
            " (operators manage providers at /provider/staff/providers/)."
        )

    @staticmethod
    def _format(login: Any) -> str:
        parts = [f"{getattr(login, 'role', ''):<18}", f"user {getattr(login, 'username', ''):<18}"]
        parts.append(f"password {getattr(login, 'password', '')}")
        secret = getattr(login, "totp_secret", None)
        if secret:
            parts.append(f"TOTP secret {secret}")
        return "  ".join(parts)
