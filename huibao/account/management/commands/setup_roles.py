"""`manage.py setup_roles`: create the staff role groups and their permissions (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from huibao.account.roles import role_label
from huibao.account.services import sync_roles


class Command(BaseCommand):
    help = "Create the staff role groups (operator, underwriter, …) with the permissions in account/roles.py."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, **options: Any) -> None:
        # verbosity 0 (as setup_demo calls it) prints nothing: the table only pushed the demo
        # log-ins off a new user's first screen.
        if options["verbosity"] < 1:
            sync_roles(using=options["database"])
            return
        for line in sync_roles(using=options["database"]):
            self.stdout.write(f"{line.role:<18} {role_label(line.role):<4} {line.granted:>4} permissions")
            if line.missing:
                self.stdout.write(
                    self.style.WARNING(f"{'':<18} not yet defined, skipped: {', '.join(line.missing)}")
                )
