"""Runs the platform's periodic sweeps: expiries, notification re-deliveries, issuance recovery.

`manage.py run_sweeps` runs each sweep once; `--loop 30` keeps running them every 30 seconds (what
`make demo` starts beside the task worker). In production, run it from a scheduler (cron, a
Kubernetes CronJob) or as one long-running process. Each sweep is idempotent and safe to run in
several processes at once (they lock the rows they change).
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

logger = logging.getLogger(__name__)

DEFAULT_SWEEPS = (
    "huibao.payment.tasks.expire_unpaid_payments",
    # Payouts due (first submission lost, back-off over), and submitted ones with no result.
    "huibao.payment.tasks.retry_due_payouts",
    "huibao.payment.tasks.query_stale_payouts",
    "huibao.identity.tasks.expire_face_checks",
    "huibao.application.tasks.expire_applications",
    "huibao.policy.tasks.recover_issuance",
    "huibao.policy.tasks.retry_due_deliveries",
    # Issuances whose finance booking job never ran (premium postings, commission entries).
    "huibao.finance.tasks.book_unbooked_issuances",
    # Claims to send to the insurers that decide them in their own systems (connector mode).
    "huibao.claim.insurer_tasks.retry_due_claim_deliveries",
    # The sandboxes' signed notifications that are due again (payment, face, insurer).
    "huibao.sandbox.tasks.resend_due_notifications",
    "huibao.policy.tasks.update_policy_statuses",
    # E-mails and SMS due again, and sends whose worker died.
    "huibao.notification.tasks.send_due_messages",
    # Webhooks to partners due again (back-off over), and attempts whose worker died.
    "huibao.webhook.tasks.deliver_due_webhooks",
    # Embedded-sale batches whose worker died part-way, resumed at their next chunk.
    "huibao.embedded.tasks.resume_stale_batches_task",
    # The coming months' partitions of the month-partitioned tables, and the retention purge
    # (a few catalog queries when there is nothing to do; a no-op on SQLite).
    "huibao.core.partitioning.maintain_partitions",
    # Last: links whatever the sweeps above wrote (`seal_audit --loop` does it continuously).
    "huibao.core.audit.seal_pending",
)


def _callable(path: str) -> Callable[[], Any] | None:
    module_name, _, name = path.rpartition(".")
    try:
        target = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        logger.warning("sweep %s is not available", path)
        return None
    # A Django task runs synchronously through `.call()`; a plain function is called as is.
    fn: Callable[[], Any] = getattr(target, "call", target)
    return fn


def run_all(paths: tuple[str, ...] | list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for path in paths:
        fn = _callable(path)
        if fn is None:
            continue
        try:
            results[path] = fn()
        except Exception:  # one failing sweep must not stop the others
            logger.exception("sweep %s failed", path)
            results[path] = "error"
    return results


class Command(BaseCommand):
    help = "Run the periodic sweeps once, or every N seconds with --loop N."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", type=float, default=0, help="repeat every N seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        paths = list(getattr(settings, "HUIBAO_SWEEPS", DEFAULT_SWEEPS))
        while True:
            results = run_all(paths)
            if options["verbosity"] > 1 or not options["loop"]:
                for path, result in results.items():
                    self.stdout.write(f"{path}: {result}")
            if not options["loop"]:
                return
            time.sleep(options["loop"])
