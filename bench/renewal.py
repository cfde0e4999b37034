"""`python -m bench renewal`: renewal offers for the policies expiring on one date (each re-rated
at the insured's new age), over N generated in-force policies, at two sizes: time and peak memory
of `renewal.services.make_offers` for that date.

A fresh database (PostgreSQL `huibao_bench_renewal`, or var/bench/huibao_bench_renewal.sqlite3) is migrated;
`bench.policies` generates the first size with a share expiring on date E1 (a renewable one-year
product priced by an age-band table; the insured's birth dates are then spread over 40 years so
that ratings differ), and a fresh process makes the offers for E1 − 30 days (the product's
`renewal_offer_days`); then it generates up to the second size with more expiring on E2 = E1 + 1
and makes the offers for E2 − 30. Each run is measured in its own process: wall time, offers
written, distinct ratings, and peak resident memory above what it held once Django was set up.
Targets: 100,000 offers (of 1,000,000 policies) ≤ 120 s; memory flat (the larger run's increment
≤ 1.5 × the smaller's + 32 MB).
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

# (total policies, expiring together on the measured date)
FULL_SIZES = ((250_000, 25_000), (1_000_000, 100_000))
QUICK_SIZES = ((20_000, 2_000), (50_000, 8_000))
OFFER_DAYS = 30
# BENCH_RENEWAL_DB names the database (several people may run benches on one machine).
DB_NAME = os.environ.get("BENCH_RENEWAL_DB", "huibao_bench_renewal")


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    url = harness.fresh_database(args.db, DB_NAME)
    harness.log(f"migrating a fresh {args.db} database")
    harness.manage(url, "migrate", "--noinput", "-v", "0")
    first = datetime.date.today() + datetime.timedelta(days=OFFER_DAYS + 30)
    runs: list[dict[str, Any]] = []
    have = 0
    for n, (size, expiring) in enumerate(sizes):
        expiry = first + datetime.timedelta(days=n)
        harness.log(f"generating {size - have:,} policies (to {size:,}), {expiring:,} expiring on {expiry}")
        gen = harness.child_result(
            "bench.renewal",
            url,
            "generate",
            "--count",
            str(size - have),
            "--expiring",
            str(expiring),
            "--date",
            expiry.isoformat(),
        )
        have = size
        offer_day = expiry - datetime.timedelta(days=OFFER_DAYS)
        harness.log(f"generated in {gen['seconds']:.0f}s; renewal offers on {offer_day}")
        measured = harness.child_result("bench.renewal", url, "measure", "--date", offer_day.isoformat())
        measured.update(policies=size, expiring=expiring, generate_seconds=round(gen["seconds"], 1))
        harness.log(
            f"{size:,} policies: {measured['offers']:,} offers in {measured['seconds']:.1f}s "
            f"({measured['ratings']} ratings), peak +{measured['peak_mb_over_base']:.0f} MB"
        )
        runs.append(measured)
    small, large = runs
    return {
        "sizes": [list(s) for s in sizes],
        "runs": runs,
        "targets": {
            f"offers_seconds_at_{large['policies']}": harness.target(large["seconds"], "<=", 120),
            "every_expiring_policy_offered": harness.target(
                min(r["offers"] - r["expiring"] for r in runs), ">=", 0
            ),
            "memory_flat_mb": harness.memory_flat(small, large),
        },
    }


# --- children ------------------------------------------------------------------------------------


def _age_priced_templates() -> Any:
    """The generator's templates, of a renewable one-year product priced by age band."""
    from bench import policies
    from huibao.policy.tests import factories as f
    from huibao.renewal.tests.factories import AGE_PRICING

    found = policies.find_templates()
    if found is not None:
        return found
    version = f.product_version(name=policies.TEMPLATE_PRODUCT, line="medical", cooling_off_days=0)
    version.pricing = AGE_PRICING
    version.renewal = {"renewable": True, "guaranteed_years": 3, "max_renewal_age": 99, "note": ""}
    version.servicing = {"renewal_offer_days": OFFER_DAYS, "grace_days": 15, "auto_renewal": True}
    version.save()
    return policies.make_templates(version)


def _spread_ages() -> None:
    """Insured birth dates spread over 40 years (by policy id): ratings differ by age band."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "UPDATE policy_policyparty SET birth_date = birth_date - ((policy_id % 40)::int * 365) "
                "WHERE role = 'insured' AND birth_date IS NOT NULL"
            )
        else:
            cursor.execute(
                "UPDATE policy_policyparty SET birth_date = date(birth_date, '-' || ((policy_id % 40) * 365) "
                "|| ' days') WHERE role = 'insured' AND birth_date IS NOT NULL"
            )


def _generate(count: int, expiring: int, day: datetime.date) -> dict[str, Any]:
    from bench import policies

    templates = _age_priced_templates()
    spec = policies.Spec(
        count=count, run_date=day, expiring=expiring, starting=1000, instalment_share=0.1, overdue=0
    )
    out = policies.generate(spec, templates, log=harness.log)
    began = time.monotonic()
    _spread_ages()
    return {"seconds": out.seconds + time.monotonic() - began, "rows": out.rows}


def _measure(day: datetime.date) -> dict[str, Any]:
    import gc

    from django.db import connection

    from huibao.renewal import services
    from huibao.renewal.models import RenewalOffer

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    before = RenewalOffer.objects.count()
    services.renewable_versions()  # imports and the catalogue warm, as in a running worker
    gc.collect()
    base = harness.rss_mb()
    began = time.monotonic()
    made = services.make_offers(day)
    seconds = time.monotonic() - began
    priced = RenewalOffer.objects.filter(offered_on=day, premium__isnull=False)
    # distinct (version, age, premium): what the run had to rate at least once
    distinct = priced.values("product_version_id", "insured_age", "premium").distinct().count()
    return {
        "date": day.isoformat(),
        "seconds": round(seconds, 2),
        "offers": made,
        "offers_in_table": RenewalOffer.objects.count() - before,
        "ratings": distinct,
        "per_second": round(made / seconds) if seconds else 0,
        **harness.memory_figures(base),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.renewal")
    parser.add_argument("action", choices=["generate", "measure"])
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--expiring", type=int, default=0)
    parser.add_argument("--date", required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huibao.settings")
    import django

    django.setup()
    day = datetime.date.fromisoformat(args.date)
    result = _generate(args.count, args.expiring, day) if args.action == "generate" else _measure(day)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
