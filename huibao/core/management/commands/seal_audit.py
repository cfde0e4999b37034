"""`manage.py seal_audit [--loop SECONDS]`: the audit chain's sealer.

Entries are written unsealed inside the business transactions; this links and hashes what has
committed (`huibao.core.audit.seal_pending`), once or every SECONDS. Run one or more beside the
app servers (several are safe: one seals while the others skip); readers of the chain seal
first anyway, so a stopped sealer delays the hashing, never the completeness of what is shown.
An entry dated too far before the newest sealed one (or after the sealer's clock) is refused and
left unsealed (see `huibao.core.audit.seal_pending`): logged by the loop, listed by a single run,
which then exits with status 3.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from huibao.core.audit import refused_entries, seal_pending

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Seal the audit entries committed since the last seal (once, or every N seconds with --loop N)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", type=float, default=0, help="seal every N seconds (e.g. 0.2)")

    def handle(self, *args: Any, **options: Any) -> None:
        interval = options["loop"]
        if not interval:
            self.stdout.write(f"sealed: {seal_pending()}")
            refused = refused_entries()
            for entry in refused:
                self.stderr.write(f"refused: audit entry {entry.id} left unsealed: {entry.problem}")
            if refused:
                raise CommandError(
                    f"{len(refused)} audit entries left unsealed: their times are off by more than the "
                    "allowed clock skew (check the servers' clocks; `verify_audit` lists them)",
                    returncode=3,
                )
            return
        while True:
            try:
                sealed = seal_pending(wait=False)
                if sealed and options["verbosity"] > 1:
                    self.stdout.write(f"sealed: {sealed}")
            except Exception:  # a lost connection or a restart of the database: try again
                logger.exception("audit sealing failed; retrying")
                close_old_connections()
            time.sleep(interval)
