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
        for line in sync_roles(using=options["database"]):
            self.stdout.write(f"{line.role:<18} {role_label(line.role):<4} {line.granted:>4} permissions")
            if line.missing and options["verbosity"] >= 1:
                self.stdout.write(
                    self.style.WARNING(f"{'':<18} not yet defined, skipped: {', '.join(line.missing)}")
                )
