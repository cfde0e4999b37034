"""`manage.py load_demo_providers`: the demo provider network (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from huibao.provider.demo import load_providers


class Command(BaseCommand):
    help = "Load the 20 demo service providers and link the demo provider log-in (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        report = load_providers()
        self.stdout.write(
            f"{report.providers_created} providers created; demo log-in "
            f"'{report.linked_user or '(none: run setup_demo)'}' works for {report.provider_name}."
        )
