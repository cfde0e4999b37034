"""`python -m bench settlement`: the month's commission run and the settlement statements of 60
insurers over N generated policies and their payments (default 1,000,000; --quick 20,000).

A fresh database (PostgreSQL `huibao_bench_settlement`, or var/bench/huibao_bench_settlement.sqlite3)
is migrated; `bench.policies` clones N policies, which are spread over 60 insurers (each with a
net-settled monthly agreement), issued one day after another over the twelve months that end
with the measured month, two in three sold by one of six channels; each policy's payment is
posted to the ledger (Dr cash / Cr premium payable to its insurer, two lines per policy,
set-based SQL). The eleven months before are settled first (each insurer's statement generated,
not measured), so the measured month is an ordinary month-end. A fresh process then measures:

- the month's commission run (`finance.settlement.bulk_commission_run`: inbound entries for
  every policy issued in the month, outbound for those with a seller, from a rate table);
- the month's statements of the 60 insurers (`generate_insurer_statement`) and of the six
  channels (`generate_unit_statement`);

its wall time and its peak resident memory above what it held once Django was set up. Targets:
the whole ≤ 120 s at 1,000,000 policies; memory ≤ 64 MB over base (set-based SQL: the lines
never come into Python, so memory does not grow with them).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import time
from decimal import Decimal
from typing import Any

from bench import harness

FULL = 1_000_000
QUICK = 20_000
INSURERS = 60
CHANNELS = 6
MEMORY_LIMIT_MB = 64


def _month() -> datetime.date:
    """The measured month: the last full month."""
    first = datetime.date.today().replace(day=1)
    return (first - datetime.timedelta(days=1)).replace(day=1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    # BENCH_SETTLEMENT_POLICIES: another size (an intermediate point when a full run does not fit).
    count = int(os.environ.get("BENCH_SETTLEMENT_POLICIES", 0)) or (QUICK if args.quick else FULL)
    url = harness.fresh_database(args.db, os.environ.get("BENCH_SETTLEMENT_DB", "huibao_bench_settlement"))
    harness.log(f"migrating a fresh {args.db} database")
    harness.manage(url, "migrate", "--noinput", "-v", "0")
    month = _month()
    harness.log(
        f"generating {count:,} policies, their payments and eleven settled months before {month:%Y-%m}"
    )
    seeded = harness.child_result(
        "bench.settlement", url, "seed", "--count", str(count), "--month", month.isoformat()
    )
    harness.log(f"seeded in {seeded['seconds']:.0f}s; measuring {month:%Y-%m}")
    measured = harness.child_result("bench.settlement", url, "measure", "--month", month.isoformat())
    harness.log(
        f"commission run {measured['commission_seconds']:.1f}s ({measured['commission_entries']:,} entries),"
        f" statements {measured['statement_seconds']:.1f}s ({measured['statement_lines']:,} lines),"
        f" peak +{measured['peak_mb_over_base']:.0f} MB"
    )
    total = measured["commission_seconds"] + measured["statement_seconds"]
    return {
        "policies": count,
        "insurers": INSURERS,
        "month": f"{month:%Y-%m}",
        "seed": seeded,
        "measured": measured,
        "targets": {
            f"commission_run_and_statements_seconds_at_{count}": harness.target(total, "<=", 120),
            "peak_memory_mb_over_base": harness.target(measured["peak_mb_over_base"], "<=", MEMORY_LIMIT_MB),
        },
    }


# --- children ------------------------------------------------------------------------------------


def _add_months(day: datetime.date, months: int) -> datetime.date:
    month = day.month - 1 + months
    return datetime.date(day.year + month // 12, month % 12 + 1, 1)


def _rates() -> dict[int, Any]:
    from huibao.catalog.models import Insurer
    from huibao.finance.settlement import RunRates

    rates = {}
    for n, pk in enumerate(
        Insurer.objects.filter(code__startswith="bench-ins-").order_by("pk").values_list("pk", flat=True)
    ):
        inbound = Decimal("0.12") + Decimal(n % 10) / Decimal("100")  # 12% … 21%
        rates[pk] = RunRates(inbound=inbound, outbound=(inbound * Decimal("0.6")).quantize(Decimal("0.0001")))
    return rates


def _seed(count: int, month: datetime.date) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from bench import policies
    from huibao.catalog.models import Insurer
    from huibao.distribution.models import AgencyEntity, AgreementStatus, InsurerAgreement, SalesUnit
    from huibao.finance import accounts, ledger, settlement
    from huibao.finance.models import JournalLine, JournalTransaction, LedgerAccount
    from huibao.policy.models import Policy

    began = time.monotonic()
    spec = policies.Spec(count=count, run_date=month, expiring=0, starting=0, instalment_share=0, overdue=0)
    generated = policies.generate(spec, log=harness.log)
    harness.log(f"{generated.policies:,} policies in {generated.seconds:.0f}s; 60 insurers, 6 channels")
    start = _add_months(month, -11)
    with transaction.atomic():
        agency = AgencyEntity.objects.create(code="bench", name="基准代理", licence_number="BENCH")
        insurers = [
            Insurer(
                code=f"bench-ins-{n:02d}", name=f"基准保险{n:02d}", short_name=f"基准{n:02d}", kind="property"
            )
            for n in range(INSURERS)
        ]
        Insurer.objects.bulk_create(insurers)
        insurers = list(Insurer.objects.filter(code__startswith="bench-ins-").order_by("pk"))
        InsurerAgreement.objects.bulk_create(
            [
                InsurerAgreement(
                    number=f"BENCH-{i.code}",
                    agency=agency,
                    insurer=i,
                    status=AgreementStatus.ACTIVE,
                    valid_from=_add_months(start, -1),
                    net_settlement=True,
                    days_to_pay=15,
                )
                for i in insurers
            ]
        )
        root = SalesUnit.objects.create(
            code="bench-hq", name="基准总公司", kind="agency", path="bench-hq", agency=agency
        )
        for n in range(CHANNELS):
            SalesUnit.objects.create(
                code=f"bench-ch-{n}",
                name=f"基准渠道{n}",
                kind="channel",
                parent=root,
                path=f"bench-hq/bench-ch-{n}",
                agency=agency,
            )
        for i in insurers:
            ledger.account(accounts.premium_payable(i))
        ledger.account(accounts.cash())
    channel_ids = list(
        SalesUnit.objects.filter(kind="channel", code__startswith="bench-ch-")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    first_insurer = insurers[0].pk
    if [i.pk for i in insurers] != list(range(first_insurer, first_insurer + INSURERS)):
        raise RuntimeError("the bench insurers' ids are not contiguous (a fresh database is needed)")
    policy, jt, jl, acct = (
        connection.ops.quote_name(m._meta.db_table)
        for m in (Policy, JournalTransaction, JournalLine, LedgerAccount)
    )
    days = (_add_months(month, 1) - start).days
    tz = timezone.get_current_timezone()
    base = datetime.datetime.combine(start, datetime.time(10), tzinfo=tz)
    pg = connection.vendor == "postgresql"
    t0 = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        # Spread the clones: insurer by id, issue date one day after another over the year, a
        # seller for two in three.
        seller = (
            "CASE WHEN p.id %% 3 = 0 THEN NULL ELSE " + f"{channel_ids[0]} + ((p.id / 3) %% {CHANNELS}) END"
            if channel_ids == list(range(channel_ids[0], channel_ids[0] + CHANNELS))
            else "NULL"
        )
        if pg:
            cursor.execute(
                f"UPDATE {policy} p SET insurer_id = %s + (p.id %% {INSURERS}),"
                f" issued_at = %s + ((p.id * 7919) %% {days}) * INTERVAL '1 day', seller_id = {seller}"
                f" WHERE p.number LIKE 'BG%%'",
                [first_insurer, base],
            )
            day_of = "CAST(p.issued_at AT TIME ZONE 'Asia/Shanghai' AS DATE)"
            uuid = "gen_random_uuid()"
        else:
            cursor.execute(
                f"UPDATE {policy} SET insurer_id = %s + (id %% {INSURERS}),"
                f" issued_at = datetime(%s, '+' || ((id * 7919) %% {days}) || ' days'),"
                f" seller_id = {seller.replace('p.id', 'id')} WHERE number LIKE 'BG%%'",
                [first_insurer, base.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")],
            )
            day_of = "DATE(p.issued_at, '+8 hours')"
            uuid = "lower(hex(randomblob(16)))"
        now = timezone.now()
        cursor.execute(
            f'INSERT INTO {jt} (public_id, "key", posted_on, description, created_at)'
            f" SELECT {uuid}, 'premium:bench:' || CAST(p.id AS VARCHAR(20)), {day_of}, 'bench premium', %s"
            f" FROM {policy} p WHERE p.number LIKE 'BG%%'",
            [now],
        )
        cash_id = LedgerAccount.objects.get(code="cash").pk
        cursor.execute(
            f"INSERT INTO {jl} (transaction_id, account_id, debit, credit, posted_on, policy_id, memo)"
            f" SELECT t.id, %s, p.premium, 0, t.posted_on, p.id, '' FROM {policy} p"
            f" JOIN {jt} t ON t.\"key\" = 'premium:bench:' || CAST(p.id AS VARCHAR(20))"
            f" WHERE p.number LIKE 'BG%%'",
            [cash_id],
        )
        cursor.execute(
            f"INSERT INTO {jl} (transaction_id, account_id, debit, credit, posted_on, policy_id, memo)"
            f" SELECT t.id, a.id, 0, p.premium, t.posted_on, p.id, '' FROM {policy} p"
            f" JOIN {jt} t ON t.\"key\" = 'premium:bench:' || CAST(p.id AS VARCHAR(20))"
            f" JOIN {acct} a ON a.party_kind = 'insurer' AND a.party_id = p.insurer_id"
            f" WHERE p.number LIKE 'BG%%'"
        )
        if pg:
            cursor.execute("ANALYZE")
    ledger_seconds = time.monotonic() - t0
    harness.log(f"payments posted in {ledger_seconds:.0f}s; settling the eleven months before")
    t1 = time.monotonic()
    for back in range(11, 0, -1):
        period = f"{_add_months(month, -back):%Y-%m}"
        for i in insurers:
            settlement.generate_insurer_statement(i, period)
    prior_seconds = time.monotonic() - t1
    return {
        "seconds": round(time.monotonic() - began, 1),
        "policies_seconds": round(generated.seconds, 1),
        "ledger_seconds": round(ledger_seconds, 1),
        "prior_months_seconds": round(prior_seconds, 1),
        "journal_lines": JournalLine.objects.count(),
    }


def _measure(month: datetime.date) -> dict[str, Any]:
    import gc

    from django.db import connection

    from huibao.catalog.models import Insurer
    from huibao.core.errors import ValidationFailed
    from huibao.distribution.models import SalesUnit
    from huibao.finance import settlement
    from huibao.finance.settlement_models import SettlementLine

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    rates = _rates()
    insurers = list(Insurer.objects.filter(code__startswith="bench-ins-").order_by("pk"))
    channels = list(SalesUnit.objects.filter(code__startswith="bench-ch-").order_by("pk"))
    before = SettlementLine.objects.count()
    gc.collect()
    base = harness.rss_mb()
    t0 = time.monotonic()
    entries = settlement.bulk_commission_run(month, rates)
    t1 = time.monotonic()
    nets = []
    for i in insurers:
        nets.append(settlement.generate_insurer_statement(i, f"{month:%Y-%m}").net_amount)
    t2 = time.monotonic()
    for c in channels:
        try:
            settlement.generate_unit_statement(c, f"{month:%Y-%m}")
        except ValidationFailed:  # a channel that sold nothing this month
            continue
    t3 = time.monotonic()
    lines = SettlementLine.objects.count() - before
    return {
        "commission_seconds": round(t1 - t0, 2),
        "commission_entries": entries,
        "statement_seconds": round(t3 - t1, 2),
        "insurer_statements_seconds": round(t2 - t1, 2),
        "channel_statements_seconds": round(t3 - t2, 2),
        "statements": len(insurers) + len(channels),
        "statement_lines": lines,
        "net_total": str(sum(nets, Decimal("0"))),
        **harness.memory_figures(base),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.settlement")
    parser.add_argument("action", choices=["seed", "measure"])
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--month", required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huibao.settings")
    import django

    django.setup()
    month = datetime.date.fromisoformat(args.month)
    result = _seed(args.count, month) if args.action == "seed" else _measure(month)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
