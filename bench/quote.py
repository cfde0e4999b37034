"""Quote benchmarks: (a) in-process quotes/s through `rules.price`, (b) POST /api/v1/quotes.

Targets: ≥ 10,000 quotes/s in-process for a typical spec; over HTTP (granian, 2 workers) ≥ 500
req/s, p99 ≤ 50 ms, no errors.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from bench import harness

ENGINE_TARGET = 10_000
HTTP_RPS_TARGET = 500
HTTP_P99_TARGET_MS = 50


def engine_rates(seconds: float) -> dict[str, float]:
    """Quotes/s per fixture spec (inputs validated, steps recorded, premium rounded)."""
    from huibao.rating.rules import price
    from huibao.rating.tests import specs

    cases: dict[str, tuple[Any, str, dict[str, object]]] = {
        "term_life": (
            specs.term_life_product(),
            "standard",
            {"age": 35, "sex": "M", "sum_insured": 500000, "term": "20y", "payment_mode": "monthly"},
        ),
        "auto": (
            specs.auto_product(),
            "basic",
            {
                "age": 35,
                "sum_insured": 200000,
                "vehicle_class": "suv",
                "no_claim_years": 2,
                "region": "310000",
            },
        ),
        "travel": (
            specs.travel_product(),
            "plus",
            {"age": 30, "destination_zone": "europe", "trip_days": 12},
        ),
        "accident": (
            specs.accident_product(),
            "basic",
            {"age": 45, "occupation_class": 2, "sum_insured": 300000},
        ),
    }
    rates: dict[str, float] = {}
    per_case = seconds / len(cases)
    for name, (product, plan, inputs) in cases.items():
        n = 0
        started = time.perf_counter()
        deadline = started + per_case
        while True:
            for _ in range(500):
                price(product, plan, inputs)
            n += 500
            now = time.perf_counter()
            if now >= deadline:
                break
        rates[name] = n / (now - started)
    return rates


def _engine_section(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    import django

    django.setup()
    rates = engine_rates(2.0 if args.quick else 8.0)
    typical = rates["auto"]  # 5 steps, 3 table lookups
    figures = {f"engine_{k}_quotes_per_s": round(v) for k, v in rates.items()}
    targets = {"engine_quotes_per_s": harness.target(typical, ">=", ENGINE_TARGET)}
    return figures, targets


def run_engine_only(args: argparse.Namespace) -> dict[str, Any]:
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huibao.settings")
    figures, targets = _engine_section(args)
    return {"figures": figures, "targets": targets}


def run(args: argparse.Namespace) -> dict[str, Any]:
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huibao.settings")
    figures, targets = _engine_section(args)
    db_url = harness.prepare(args.db, products=args.products)
    bodies = [
        json.dumps(b, ensure_ascii=False) for b in harness.sample_quotes(db_url, 100 if args.quick else 400)
    ]
    if not bodies:
        raise SystemExit("no product on sale could be priced: nothing to benchmark")
    seconds = args.duration or (5 if args.quick else 20)
    with harness.server(db_url) as srv:
        # Warm-up: every worker compiles the specs it meets and opens its connection.
        harness.load(srv.url, method="POST", path="/api/v1/quotes", items=bodies, seconds=2, connections=4)
        result = harness.load(
            srv.url,
            method="POST",
            path="/api/v1/quotes",
            items=bodies,
            seconds=seconds,
            connections=args.connections,
        )
    figures.update({f"http_{k}": v for k, v in result.as_dict().items()})
    figures["http_distinct_bodies"] = len(bodies)
    targets["http_rps"] = harness.target(result.rps, ">=", HTTP_RPS_TARGET)
    targets["http_p99_ms"] = harness.target(result.p99_ms, "<=", HTTP_P99_TARGET_MS)
    targets["http_errors"] = harness.target(result.errors, "<=", 0)
    return {"figures": figures, "targets": targets}
