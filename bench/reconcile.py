"""`python -m bench reconcile`: an insurer's month reconciled — a statement file of N lines
imported (streamed, staged with COPY) and matched set-based in SQL against N policies of our
side — its time and peak memory, at two sizes.

A fresh database (PostgreSQL `huibao_bench_reconcile`, or var/bench/huibao_bench_reconcile.sqlite3)
is migrated; for each size a child seeds one insurer's month set-based (N policies copied from a
template row by INSERT … SELECT over a generated series, one premium-payable ledger line and one
inbound commission entry each) and writes that insurer's statement (GB18030 CSV, every 1,000th
commission off by ¥1, every 5,000th policy left out, 100 policy numbers we never issued); a
fresh process then imports and matches it, measured: wall time and peak resident memory above
what it held once Django was set up. Targets: at 1,000,000 lines ≤ 120 s; memory flat (the larger
size's increment ≤ 1.5 × the smaller's + 32 MB).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import sys
import time
from typing import Any, cast

from bench import harness

FULL_SIZES = (100_000, 1_000_000)
QUICK_SIZES = (10_000, 50_000)
MONTH = "2026-11"
EXTRA_THEIRS = 100


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    url = harness.fresh_database(args.db, os.environ.get("BENCH_RECONCILE_DB", "huibao_bench_reconcile"))
    harness.log(f"migrating a fresh {args.db} database")
    harness.manage(url, "migrate", "--noinput", "-v", "0")
    runs: list[dict[str, Any]] = []
    harness.VAR.mkdir(parents=True, exist_ok=True)
    for n, size in enumerate(sizes):
        path = harness.VAR / f"reconcile-{size}.csv"
        harness.log(f"seeding {size:,} policies of insurer {n} and writing its statement")
        seeded = harness.child_result(
            "bench.reconcile",
            url,
            "seed",
            "--count",
            str(size),
            "--insurer",
            f"bench-r{n}",
            "--out",
            str(path),
        )
        harness.log(f"seeded in {seeded['seconds']:.0f}s; importing and matching {seeded['lines']:,} lines")
        measured = harness.child_result(
            "bench.reconcile", url, "measure", "--insurer", f"bench-r{n}", "--file", str(path)
        )
        measured.update(policies=size, seed_seconds=round(seeded["seconds"], 1), file_mb=seeded["file_mb"])
        harness.log(
            f"{size:,}: {measured['seconds']:.1f}s, peak +{measured['peak_mb_over_base']:.0f} MB,"
            f" {measured['items']}"
        )
        runs.append(measured)
        path.unlink(missing_ok=True)
    small, large = runs
    return {
        "sizes": list(sizes),
        "runs": runs,
        "targets": {
            f"import_and_match_seconds_at_{large['lines']}": harness.target(large["seconds"], "<=", 120),
            "memory_flat_mb": harness.memory_flat(small, large),
        },
    }


# --- children ------------------------------------------------------------------------------------


def _series(vendor: str, count: int) -> str:
    if vendor == "postgresql":
        return f"generate_series(1, {int(count)}) AS g(n)"
    return (
        "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s"
        f" WHERE n < {int(count)}) SELECT n FROM s) AS g"
    )


def _seed(count: int, code: str, out: str) -> dict[str, Any]:
    from decimal import Decimal

    from django.db import connection, transaction
    from django.utils import timezone

    from huibao.catalog.models import Insurer, Plan, ProductVersion
    from huibao.catalog.tests.factories import (
        InsurerFactory,
        PlanFactory,
        ProductFactory,
        ProductVersionFactory,
    )
    from huibao.finance import accounts, ledger
    from huibao.finance.models import CommissionEntry, JournalLine, JournalTransaction
    from huibao.finance.reconciliation_rules import parse_month
    from huibao.policy.models import Policy

    began = time.monotonic()
    start, _end = parse_month(MONTH)
    vendor = connection.vendor
    with transaction.atomic():
        # Names given: each seeding runs in a fresh process, where the factories' sequences restart.
        insurer = cast(Insurer, InsurerFactory(code=code, name=f"基准保险{code}", short_name=code))
        version = cast(
            ProductVersion,
            ProductVersionFactory(product=ProductFactory(insurer=insurer, code=f"{code}-product")),
        )
        plan = cast(Plan, PlanFactory(version=version, code=f"{code}-plan"))
        at = timezone.make_aware(datetime.datetime.combine(start, datetime.time(10)))
        template = Policy.objects.create(
            number=f"{code}-T",
            insurer=insurer,
            product_version=version,
            plan=plan,
            channel="web",
            holder_name="基准",
            holder_id_hash="h" * 64,
            insured_name="基准",
            insured_id_hash="i" * 64,
            schedule="{}",
            premium=Decimal("0.00"),
            effective_at=at,
            issued_at=at,
            retention_until=datetime.date(2040, 1, 1),
        )
        prefix = code.upper()
        varying = {"id", "public_id", "number", "verification_code", "premium"}
        fields = [str(f.column) for f in Policy._meta.concrete_fields if f.column not in varying]
        table = Policy._meta.db_table
        q = connection.ops.quote_name
        if vendor == "postgresql":
            uuid_sql = "gen_random_uuid()"
            number_sql = f"'{prefix}-' || lpad(g.n::text, 9, '0')"
            code_sql = "md5(g.n::text || %s)"
            day_sql = "(CAST(%s AS DATE) + CAST(p.id %% 30 AS INTEGER))"
        else:
            uuid_sql = "lower(hex(randomblob(16)))"
            number_sql = f"'{prefix}-' || substr('000000000' || g.n, -9, 9)"
            code_sql = "lower(hex(randomblob(12))) || %s"
            day_sql = "date(%s, '+' || (p.id %% 30) || ' days')"
        premium_sql = "CAST(100 + (g.n %% 4000) AS NUMERIC) + 0.5"
        cols = ", ".join(q(c) for c in fields)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {q(table)} (public_id, number, verification_code, premium, {cols}) "
                f"SELECT {uuid_sql}, {number_sql}, {code_sql}, {premium_sql}, "
                + ", ".join(f"t.{q(c)}" for c in fields)
                + f" FROM {_series(vendor, count)} CROSS JOIN {q(table)} t WHERE t.id = %s",
                [code, template.pk],
            )
            payable = ledger.account(accounts.premium_payable(insurer))
            cash = ledger.account(accounts.cash())
            txn = JournalTransaction.objects.create(
                key=f"bench:{code}", posted_on=start, description="bench premium"
            )
            lines = JournalLine._meta.db_table
            line_cols = "(transaction_id, account_id, debit, credit, posted_on, policy_id, memo)"
            cursor.execute(
                f"INSERT INTO {q(lines)} {line_cols} "
                f"SELECT %s, %s, 0, p.premium, {day_sql}, p.id, '' FROM {q(table)} p "
                "WHERE p.insurer_id = %s AND p.id <> %s",
                [txn.pk, payable.pk, start, insurer.pk, template.pk],
            )
            cursor.execute(
                f"INSERT INTO {q(lines)} {line_cols} "
                f"SELECT %s, %s, SUM(credit), 0, %s, NULL, '' FROM {q(lines)} WHERE transaction_id = %s",
                [txn.pk, cash.pk, start, txn.pk],
            )
            entries = CommissionEntry._meta.db_table
            cursor.execute(
                f"INSERT INTO {q(entries)} (key, direction, event, policy_id, insurer_id, "
                "sales_unit_id, policy_year, base, rate, amount, explanation, occurred_on, settlement_ref, "
                "paid_at, created_at) SELECT 'bench:' || p.id, 'inbound', 'issued', p.id, p.insurer_id, "
                "NULL, 1, p.premium, 0.15, "
                f"ROUND(p.premium * 0.15, 2), '{{}}', {day_sql}, '', NULL, %s FROM {q(table)} p "
                "WHERE p.insurer_id = %s AND p.id <> %s",
                [start, timezone.now(), insurer.pk, template.pk],
            )
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    # The insurer's statement, streamed out of our side with its differences.
    written = 0
    with open(out, "w", encoding="gb18030", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["保单号", "险种", "保费", "手续费", "业务日期", "业务类型"])
        rows = (
            CommissionEntry.objects.filter(insurer=insurer)
            .order_by()
            .values_list("policy__number", "base", "amount", "occurred_on")
            .iterator(chunk_size=10_000)
        )
        for n, (number, premium, amount, day) in enumerate(rows, start=1):
            if n % 5000 == 0:
                continue  # left out of theirs
            if n % 1000 == 0:
                amount -= Decimal("1.00")
            writer.writerow(
                [number, "意外险", f"{premium:,.2f}", f"{amount:,.2f}", f"{day:%Y-%m-%d}", "承保"]
            )
            written += 1
        for n in range(EXTRA_THEIRS):
            writer.writerow([f"{prefix}-X{n:08d}", "意外险", "880.00", "132.00", f"{start:%Y-%m-%d}", "承保"])
            written += 1
    return {
        "seconds": time.monotonic() - began,
        "lines": written,
        "file_mb": round(os.path.getsize(out) / 2**20, 1),
    }


def _measure(code: str, path: str) -> dict[str, Any]:
    import gc

    from huibao.catalog.models import Insurer
    from huibao.finance import reconciliation as recon
    from huibao.finance.reconciliation_rules import parse_month

    insurer = Insurer.objects.get(code=code)
    spec = recon.MappingSpec(
        columns={
            "policy_number": "保单号",
            "premium": "保费",
            "commission": "手续费",
            "date": "业务日期",
            "event": "业务类型",
        },
        encoding="gb18030",
    )
    gc.collect()
    base = harness.rss_mb()
    began = time.monotonic()
    with open(path, "rb") as handle:
        rec = recon.import_statement(
            recon.Party.of_insurer(insurer), parse_month(MONTH), path, handle, spec=spec
        )
    seconds = time.monotonic() - began
    return {
        "seconds": round(seconds, 2),
        "lines": rec.lines,
        "items": {t.category: t.count for t in recon.totals(rec)},
        **harness.memory_figures(base),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile")
    parser.add_argument("action", choices=["seed", "measure"])
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--insurer", required=True)
    parser.add_argument("--out", default="")
    parser.add_argument("--file", default="")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huibao.settings")
    import django

    django.setup()
    result = (
        _seed(args.count, args.insurer, args.out)
        if args.action == "seed"
        else _measure(args.insurer, args.file)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
