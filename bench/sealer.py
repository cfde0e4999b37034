"""The audit chain's sealer at its limit: entries per second one sealer links and hashes.

A child process (Django, the bench database) writes a backlog of unsealed entries shaped like
the ones a sale writes (copied from the latest sealed entries of the bench database, the `issue`
bench's, or made up when there are none), `ENTRIES_PER_TRANSACTION` per transaction as a flow's
requests write them; then it times `core.audit.seal_pending()` over the whole backlog. The
sealer works in batches of `SEAL_BATCH` entries, each one short transaction holding the chain's
head row; the head is the only lock it takes, so one batch's time is also how long it makes a
second sealer wait. Printed: entries sealed per second, milliseconds per batch (= head lock
hold), the sealer's CPU split between the Python process and its database backend, and for
comparison the writers' cost per entry.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from bench import harness

ENTRIES_PER_TRANSACTION = 2
TARGET_ENTRIES_PER_S = 2000


def _backend_cpu_ms() -> float:
    from django.db import connection

    from bench.issue import _proc_cpu_ms

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return _proc_cpu_ms(int(cursor.fetchone()[0]))


def _child(count: int) -> None:
    from django.db import transaction

    from huibao.core import audit
    from huibao.core.models import AuditEntry

    audit.seal_pending()
    samples = list(
        AuditEntry.objects.filter(seq__isnull=False)
        .exclude(action__startswith="bench.")
        .order_by("-id")
        .values("action", "object_type", "object_id", "actor_id", "before", "after", "ip", "user_agent")[:400]
    )
    if not samples:
        samples = [
            {
                "action": "application.data_saved",
                "object_type": "application.application",
                "object_id": "4f1c2d8e-0000-4000-8000-000000000000",
                "actor_id": 1,
                "before": {"status": "draft", "data_revision": 1},
                "after": {"status": "draft", "data_revision": 2, "applicant_name": "王小明"},
                "ip": "127.0.0.1",
                "user_agent": "python-httpx/0.28.1",
            }
        ]
    harness.log(f"writing {count} unsealed entries ({len(samples)} shapes from the bench database)")
    began = time.perf_counter()
    written = 0
    while written < count:
        with transaction.atomic():
            for _ in range(min(ENTRIES_PER_TRANSACTION, count - written)):
                s = samples[written % len(samples)]
                entry = audit.record(
                    s["action"],
                    s["object_type"],
                    s["object_id"],
                    actor=s["actor_id"],
                    before=s["before"],
                    after=s["after"],
                )
                written += 1
        del entry
    write_s = time.perf_counter() - began
    harness.log("sealing")
    cpu_before, db_before = time.process_time(), _backend_cpu_ms()
    began = time.perf_counter()
    sealed = audit.seal_pending()
    seal_s = time.perf_counter() - began
    cpu_s, db_ms = time.process_time() - cpu_before, _backend_cpu_ms() - db_before
    batches = -(-sealed // audit.SEAL_BATCH)
    print(
        json.dumps(
            {
                "entries": sealed,
                "batch_size": audit.SEAL_BATCH,
                "batches": batches,
                "seconds": round(seal_s, 2),
                "entries_per_s": round(sealed / seal_s) if seal_s else 0,
                "ms_per_batch": round(seal_s * 1000 / max(batches, 1), 1),
                "sealer_python_cpu_ms_per_1000": round(cpu_s * 1_000_000 / max(sealed, 1), 1),
                "sealer_db_cpu_ms_per_1000": round(db_ms * 1000 / max(sealed, 1), 1),
                "writer_ms_per_entry": round(write_s * 1000 / max(written, 1), 3),
                "chain_ok": audit.verify_chain().ok if sealed < 50_000 else None,
            }
        )
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    url = harness.prepare(args.db, products=args.products)
    count = 20_000 if args.quick else 100_000
    runs = []
    for _ in range(1 if args.quick else 3):
        out = subprocess.run(
            [harness.PYTHON, "-m", "bench.sealer", "--child", str(count)],
            env=harness.child_env(url),
            cwd=harness.ROOT,
            check=True,
            text=True,
            stdout=subprocess.PIPE,
        ).stdout
        runs.append(json.loads([line for line in out.splitlines() if line.startswith("{")][-1]))
        harness.log(json.dumps(runs[-1]))
    best = sorted(runs, key=lambda r: r["entries_per_s"])[len(runs) // 2]
    return {
        **best,
        "runs_entries_per_s": [r["entries_per_s"] for r in runs],
        "targets": {"entries_per_s": harness.target(best["entries_per_s"], ">=", TARGET_ENTRIES_PER_S)},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", type=int, required=True, help="entries to write, then seal")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huibao.settings")
    import django

    django.setup()
    _child(args.child)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
