"""`python -m bench daily`: the whole daily run (every registered job) for one business date over
N generated in-force policies, its time and peak memory, at two sizes.

A fresh database (PostgreSQL `huibao_bench_daily`, or var/bench/huibao_bench_daily.sqlite3) is migrated, then
`bench.policies` generates the first size for date D (a few thousand policies expiring on D, some
starting on D, a tenth paying monthly — their instalments due on D charged, a few overdue or
lapsing) and a fresh process runs the daily run for D; then it generates up to the second size
for D + 1 and runs the daily run for D + 1. Each run is measured in its own process: wall time,
and its peak resident memory above what it held once Django was set up (the number that must
not grow with the number of policies). Targets: at 1,000,000 policies ≤ 120 s; memory flat
(the larger size's increment ≤ 1.5 × the smaller's + 32 MB).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from typing import Any

from bench import harness

FULL_SIZES = (250_000, 1_000_000)
QUICK_SIZES = (20_000, 50_000)


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    # BENCH_DAILY_DB names the database (several people may run benches on one machine).
    url = harness.fresh_database(args.db, os.environ.get("BENCH_DAILY_DB", "huibao_bench_daily"))
    harness.log(f"migrating a fresh {args.db} database")
    harness.manage(url, "migrate", "--noinput", "-v", "0")
    today = datetime.date.today()
    first_day = today - datetime.timedelta(days=2)
    runs: list[dict[str, Any]] = []
    have = 0
    for n, size in enumerate(sizes):
        day = first_day + datetime.timedelta(days=n)
        harness.log(f"generating {size - have:,} policies (to {size:,}) for {day}")
        gen = harness.child_result(
            "bench.daily", url, "generate", "--count", str(size - have), "--date", day.isoformat()
        )
        have = size
        harness.log(f"generated in {gen['seconds']:.0f}s; the daily run for {day}")
        measured = harness.child_result("bench.daily", url, "measure", "--date", day.isoformat())
        measured.update(policies=size, generate_seconds=round(gen["seconds"], 1), generated_rows=gen["rows"])
        harness.log(
            f"{size:,} policies: {measured['seconds']:.1f}s, peak +{measured['peak_mb_over_base']:.0f} MB"
        )
        runs.append(measured)
    small, large = runs
    return {
        "sizes": list(sizes),
        "runs": runs,
        "targets": {
            f"daily_run_seconds_at_{large['policies']}": harness.target(large["seconds"], "<=", 120),
            "memory_flat_mb": harness.memory_flat(small, large),
        },
    }


# --- children ------------------------------------------------------------------------------------


def _generate(count: int, day: datetime.date) -> dict[str, Any]:
    from bench import policies

    spec = policies.Spec(
        count=count, run_date=day, expiring=3000, starting=1000, instalment_share=0.1, overdue=300
    )
    out = policies.generate(spec, log=harness.log)
    return {"seconds": out.seconds, "rows": out.rows, "monthly": out.monthly}


def _measure(day: datetime.date) -> dict[str, Any]:
    import gc

    from django.db import connection

    from huibao.jobs import services

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    gc.collect()
    base = harness.rss_mb()
    began = time.monotonic()
    outcomes = services.run_daily(day)
    seconds = time.monotonic() - began
    return {
        "date": day.isoformat(),
        "seconds": round(seconds, 2),
        **harness.memory_figures(base),
        "jobs": {
            o.job: {
                "status": o.status,
                "done": o.done,
                "seconds": round(o.seconds, 2),
                "error": o.error[:200],
            }
            for o in outcomes
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.daily")
    parser.add_argument("action", choices=["generate", "measure"])
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--date", required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huibao.settings")
    import django

    django.setup()
    day = datetime.date.fromisoformat(args.date)
    result = _generate(args.count, day) if args.action == "generate" else _measure(day)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
