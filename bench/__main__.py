"""`python -m bench [NAME] [--quick] [--db sqlite|postgres]`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from bench import (
    daily,
    embedded,
    fasttrack,
    flight,
    fraud,
    issue,
    pdf,
    quote,
    reconcile,
    renewal,
    sealer,
    search,
    settlement,
)

Bench = Callable[[argparse.Namespace], dict[str, Any]]

REGISTRY: dict[str, tuple[Bench, str]] = {
    "quote": (quote.run, "rating: in-process quotes/s and POST /api/v1/quotes over HTTP"),
    "quote-engine": (quote.run_engine_only, "rating: in-process quotes/s only (no database, no server)"),
    "search": (search.run, "catalog: GET /api/v1/products?q=… latency over the demo catalog"),
    "issue": (
        issue.run,
        "application: quote → … → policy issued over HTTP, beside its floor (the least a step must do)",
    ),
    "sealer": (sealer.run, "audit: the sealer's entries per second and its lock hold per batch"),
    "daily": (
        daily.run,
        "jobs: the whole daily run for one date over 1,000,000 generated in-force policies (two sizes)",
    ),
    "renewal": (
        renewal.run,
        "renewal: offers for 100,000 policies expiring together (each re-rated) of 1,000,000 (two sizes)",
    ),
    "fraud": (fraud.run, "fraud: one claim screening (every rule) over 1,000,000 stored claims, p50/p99"),
    "flight": (
        flight.run,
        "claim: a delay event for a flight with 300 insured travellers paid out (payout requests made)",
    ),
    "fasttrack": (
        fasttrack.run,
        "claim: a complete small claim submitted → fast-track decision, 1,000,000 claims, p50/p99",
    ),
    "reconcile": (
        reconcile.run,
        "finance: an insurer's 1,000,000-line statement imported and matched with our side (two sizes)",
    ),
    "pdf": (pdf.run, "esign: signed application forms and e-policies per second (render + PAdES sign)"),
    "embedded": (
        embedded.run,
        "embedded: bulk issuance 1,000 per call (policies/s, ratio to COPY) and one-policy p50/p99 at 200/s",
    ),
    "settlement": (
        settlement.run,
        "finance: the month's commission run and 60 insurers' settlement statements, 1,000,000 policies",
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", nargs="?", help="benchmark to run; omit to list them")
    parser.add_argument("--quick", action="store_true", help="short runs (< 60 s)")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--products", type=int, default=0, help="products to create when no demo loader exists"
    )
    parser.add_argument(
        "--duration", type=float, default=0, help="seconds per HTTP run (default 5 quick, 20 full)"
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--customers", type=int, default=0, help="issue: customers at once (default 48 quick, 96 full)"
    )
    parser.add_argument(
        "--serial-flows", type=int, default=0, help="issue: flows run alone first (default 5 quick, 10 full)"
    )
    parser.add_argument(
        "--insurers",
        type=int,
        default=4,
        help="issue: the bench's own copies of the simplest product without reading minimums, one per "
        "insurer, the customers spread over them (default 4; 0: the demo's product, reading times and all)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="issue: profile serial flows, report the 3 costliest steps"
    )
    parser.add_argument(
        "--http",
        action="store_true",
        help="embedded: also (b) over HTTP, signed one-policy calls to the partner API on granian",
    )
    args = parser.parse_args(argv)
    if not args.name:
        for name, (_, text) in REGISTRY.items():
            print(f"{name:14} {text}")
        return 0
    if args.name not in REGISTRY:
        parser.error(f"unknown benchmark {args.name!r}; choose from {', '.join(REGISTRY)}")
    result = REGISTRY[args.name][0](args)
    result = {"bench": args.name, "db": args.db, "quick": args.quick, **result}
    result["ok"] = all(t["met"] for t in result.get("targets", {}).values())
    print(json.dumps(result, ensure_ascii=False, sort_keys=False))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
