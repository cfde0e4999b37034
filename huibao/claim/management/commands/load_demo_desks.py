"""`manage.py load_demo_desks`: the demo claims desks (idempotent), their log-ins printed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from huibao.claim.demo import create_demo_desks


class Command(BaseCommand):
    help = "Create the demo adjusters' desks (agency, insurer, senior) and print their log-ins."

    def handle(self, *args: Any, **options: Any) -> None:
        for login in create_demo_desks():
            self.stdout.write(
                f"{login.role:<18}  user {login.username:<18}  password {login.password}"
                f"  TOTP secret {login.totp_secret}"
            )
        self.stdout.write(
            "Claims desks at /claims/desk/: claims_adjuster and adjuster_agency see every insurer's"
            " claims, adjuster_insurer only its insurer's, adjuster_senior handles appeals."
        )
