from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _seed_rules_after_migrate(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """Version 1 of every registered rule that has no row yet: a rule registered in code is
    screened from the next `migrate` on, and a flushed test database gets its rules back (a
    flush sends post_migrate again; the data migration 0002 seeded the first set)."""
    from huibao.fraud.models import FraudRule
    from huibao.fraud.services import seed_rule_rows

    seed_rule_rows(FraudRule, using=using)


class FraudConfig(AppConfig):
    name = "huibao.fraud"
    label = "fraud"
    verbose_name = "风控"

    def ready(self) -> None:
        post_migrate.connect(_seed_rules_after_migrate, sender=self, dispatch_uid="huibao.fraud.seed_rules")
