"""`python -m bench fraud`: the claim screen (`fraud.services.screen_claim`, every claim rule on)
over N stored historical claims: p50/p99 of one screening in its own transaction, and
screenings per second in one process.

A fresh database (PostgreSQL `huibao_bench_fraud`, or var/bench/huibao_bench_fraud.sqlite3) is
migrated; a child generates N screened claims (an insured among N/3 people, a region among 3,000
codes, an institution among 5,000, reported over two years, one invoice number and one file
digest each) straight into the fraud tables; another child screens 300 new claims (a tenth of them
re-using an earlier invoice, a tenth by a frequent claimant) and times each. Target (the claims
issue, fraud screen inside the fast-track decision): p99 ≤ 300 ms at 1,000,000 claims.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from typing import Any

from bench import harness

FULL_SIZE = 1_000_000
QUICK_SIZE = 100_000
SCREENINGS = 300
START = datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC)
SPAN_DAYS = 730


def run(args: argparse.Namespace) -> dict[str, Any]:
    size = QUICK_SIZE if args.quick else FULL_SIZE
    url = harness.fresh_database(args.db, "huibao_bench_fraud")
    harness.log(f"migrating a fresh {args.db} database")
    harness.manage(url, "migrate", "--noinput", "-v", "0")
    harness.log(f"generating {size:,} screened claims")
    gen = harness.child_result("bench.fraud", url, "generate", "--count", str(size))
    harness.log(f"generated in {gen['seconds']:.0f}s; screening {SCREENINGS} new claims")
    measured = harness.child_result("bench.fraud", url, "measure", "--count", str(size))
    measured.update(claims=size, generate_seconds=gen["seconds"])
    return {
        "bench": "fraud",
        "db": args.db,
        **measured,
        "targets": {"p99_ms": harness.target(measured["p99_ms"], "<=", 300)},
    }


def _hash(kind: str, n: int) -> str:
    return hashlib.sha256(f"{kind}:{n}".encode()).hexdigest()


def _generate(count: int) -> dict[str, Any]:
    from huibao.fraud.models import ScreenedClaim, ScreenedInvoice

    rng = random.Random(11)
    people = max(count // 3, 1)
    began = time.monotonic()
    batch = 10_000
    for offset in range(0, count, batch):
        claims = []
        for i in range(offset, min(offset + batch, count)):
            person = _hash("person", rng.randrange(people))
            reported = START + datetime.timedelta(seconds=rng.randrange(SPAN_DAYS * 86400))
            claims.append(
                ScreenedClaim(
                    reference=f"H{i:09d}",
                    policy_reference=f"P{rng.randrange(people):09d}",
                    insurer_code=rng.choice(["PICC", "CPIC", "PING", "ZA", "TK"]),
                    product_code="med-1",
                    claimant_id_hash=person,
                    insured_id_hash=person,
                    region_code=f"{110000 + rng.randrange(3000):06d}",
                    institution=f"医院{rng.randrange(5000)}",
                    institution_key=f"医院{rng.randrange(5000)}",
                    claim_type="medical",
                    amount=Decimal(rng.randrange(10_000, 500_000)) / 100,
                    incident_date=(reported - datetime.timedelta(days=3)).date(),
                    reported_at=reported,
                    policy_effective_date=datetime.date(2024, 1, 1),
                    subject_digest=_hash("digest", i),
                )
            )
        created = ScreenedClaim.objects.bulk_create(claims)
        ScreenedInvoice.objects.bulk_create(
            [ScreenedInvoice(claim=c, kind="number", value=f"INV{c.reference}") for c in created]
            + [
                ScreenedInvoice(claim=c, kind="digest", value=_hash("file", int(c.reference[1:])))
                for c in created
            ]
        )
        harness.log(f"  {offset + len(claims):,} claims")
    return {"seconds": round(time.monotonic() - began, 1)}


def _measure(count: int) -> dict[str, Any]:
    from django.db import connection, transaction

    from huibao.fraud.rules import ClaimSubject
    from huibao.fraud.services import screen_claim

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    rng = random.Random(7)
    people = max(count // 3, 1)
    now = START + datetime.timedelta(days=SPAN_DAYS)
    times: list[float] = []
    routes: dict[str, int] = {}
    for n in range(SCREENINGS + 20):
        person = _hash("person", 42 if n % 10 == 1 else rng.randrange(people))
        earlier = rng.randrange(count)
        subject = ClaimSubject(
            reference=f"NEW{n:06d}",
            policy_reference=f"PN{n}",
            insurer_code="PICC",
            product_code="med-1",
            claimant_id_hash=person,
            insured_id_hash=person,
            region_code=f"{110000 + rng.randrange(3000):06d}",
            claim_type="medical",
            amount_claimed=Decimal(rng.randrange(10_000, 200_000)) / 100,
            incident_date=(now - datetime.timedelta(days=2)).date(),
            reported_at=now - datetime.timedelta(minutes=SCREENINGS - n),
            policy_effective_date=datetime.date(2025, 1, 1),
            waiting_period_end=datetime.date(2025, 1, 31),
            medical_institution=f"医院{rng.randrange(5000)}",
            invoice_numbers=(f"INVH{earlier:09d}" if n % 10 == 0 else f"INVNEW{n}",),
            file_digests=(_hash("file", earlier if n % 10 == 0 else count + n),),
        )
        began = time.perf_counter()
        with transaction.atomic():
            screening = screen_claim(subject)
        elapsed = time.perf_counter() - began
        if n >= 20:  # the first ones warm the connection and the caches
            times.append(elapsed * 1000)
            routes[screening.route] = routes.get(screening.route, 0) + 1
    times.sort()
    return {
        "screenings": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "p99_ms": round(times[int(len(times) * 0.99) - 1], 1),
        "max_ms": round(times[-1], 1),
        "per_second": round(1000 / statistics.mean(times), 1),
        "routes": routes,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fraud")
    parser.add_argument("action", choices=["generate", "measure"])
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huibao.settings")
    import django

    django.setup()
    result = _generate(args.count) if args.action == "generate" else _measure(args.count)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
