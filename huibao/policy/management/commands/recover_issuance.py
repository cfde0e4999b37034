"""`manage.py recover_issuance`: issue paid-but-unissued applications, render missing e-policies,
re-enqueue due insurer deliveries (idempotent; safe beside a running worker)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from huibao.policy.services import recover_issuance


class Command(BaseCommand):
    help = "Finish issuance work a crash or a lost task left undone (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        result = recover_issuance()
        self.stdout.write(json.dumps(result, ensure_ascii=False, default=str))
        if result["errors"]:
            self.stderr.write(f"{len(result['errors'])} error(s); see the log")
