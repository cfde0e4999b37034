"""`python -m bench fasttrack`: the small-claim fast track over N historical claims — the time
from submitting a complete small claim to its fast-track decision (fraud screen, benefit on the
ledger, automatic approval, payout requested, commit: `claim.services.submit_claim`), p50/p99
one at a time, and decisions per second with 2 and 4 app processes.

A fresh database (PostgreSQL `huibao_bench_fasttrack`, or var/bench/huibao_bench_fasttrack.sqlite3)
is migrated; a child issues the measured policies through the real flow (one medical version,
90-day waiting period, fast-track limit ¥2,000, issued 200 days ago with time-machine) and writes
N historical claims straight into the claim tables (`claim_claim`, one invoice material each)
and the fraud tables (`ScreenedClaim` + its invoice number and file digest) — COPY on PostgreSQL
— so the upload's duplicate check and every screening rule meet real indexes; another child
reports two small claims per policy with their materials (not timed), then times the submits:
one set serially, the other in two halves over 2 and then 4 app processes (forked, each its
own connection: a deployment's several workers, not threads under one GIL). It also times the
back-office figures over the last 8 weeks of the history. Targets (the claims issue): p99 ≤ 300 ms,
≥ 100 decisions/s.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import io
import json
import os
import random
import statistics
import sys
import time
import uuid
from decimal import Decimal
from typing import Any

from bench import harness

FULL_SIZE = 1_000_000
QUICK_SIZE = 20_000
FULL_POLICIES = 400
QUICK_POLICIES = 60
WARM_UP = 10
CHUNK = 50_000
SPAN_DAYS = 730
CLAIMS_DOC: dict[str, Any] = {
    "report_within_days": 365,
    "fast_track_limit": "2000.00",
    "materials": {"medical": ["id_card", "invoice"]},
}


def run(args: argparse.Namespace) -> dict[str, Any]:
    size = QUICK_SIZE if args.quick else FULL_SIZE
    policies = QUICK_POLICIES if args.quick else FULL_POLICIES
    url = harness.fresh_database(args.db, "huibao_bench_fasttrack")
    harness.log(f"migrating a fresh {args.db} database")
    harness.manage(url, "migrate", "--noinput", "-v", "0")
    harness.log(f"issuing {policies} policies, generating {size:,} historical claims")
    gen = harness.child_result(
        "bench.fasttrack", url, "generate", "--count", str(size), "--policies", str(policies)
    )
    harness.log(f"generated in {gen['seconds']:.0f}s; submitting {2 * policies} small claims")
    measured = harness.child_result("bench.fasttrack", url, "measure")
    measured.update(historical_claims=size, policies=policies, generate_seconds=gen["seconds"])
    return {
        **measured,
        "targets": {
            "p99_ms": harness.target(measured["p99_ms"], "<=", 300),
            "decisions_per_second": harness.target(measured["decisions_per_second"], ">=", 100),
        },
    }


def _hash(kind: str, n: int) -> str:
    return hashlib.sha256(f"{kind}:{n}".encode()).hexdigest()


# --- generate ------------------------------------------------------------------------------------


def _issue(count: int) -> list[int]:
    """`count` medical policies issued 200 days ago through the real flow, one customer each."""
    import time_machine
    from django.utils import timezone

    from huibao.claim.tests.factories import MEDICAL_COVERAGES, in_force
    from huibao.policy.tests.factories import Person, application, customer, issue, product_version

    began = timezone.now() - datetime.timedelta(days=200)
    with time_machine.travel(began, tick=True):
        version = product_version(line="medical", coverages=MEDICAL_COVERAGES, cooling_off_days=0)
        version.claims = CLAIMS_DOC
        version.save(update_fields=["claims"])
        ids = []
        for i in range(count):
            birth = datetime.date(1970, 1, 1) + datetime.timedelta(days=37 * i + 11)
            app = application(
                [(version, Person(birth=birth), 2_000_000, Decimal("300.00"), {"term": "1y"})],
                customer=customer(),
            )
            ids.append(in_force(issue(app)[0]).pk)
            if (i + 1) % 100 == 0:
                harness.log(f"  {i + 1} policies")
    return ids


def _copy(model: Any, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    from django.db import connection

    table = model._meta.db_table
    cols = ", ".join(f'"{c}"' for c in columns)
    if connection.vendor == "postgresql":
        with connection.connection.cursor().copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    with connection.cursor() as cursor:
        cursor.executemany(
            f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', [tuple(map(_sqlite, r)) for r in rows]
        )


def _sqlite(value: Any) -> Any:
    """A value as Django's SQLite backend stores it (naive UTC datetimes, text decimals and UUIDs)."""
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).replace(tzinfo=None).isoformat(" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _prepared(model: Any, values: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """Every concrete column of `model` but the id, prepared for the database from `values`
    (a field's default when absent) — encrypted texts once, reused by every row."""
    from django.db import connection

    columns, prepared = [], []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        value = values[f.attname] if f.attname in values else f.get_default()
        columns.append(f.column)
        prepared.append(f.get_db_prep_save(value, connection))
    return columns, prepared


def _history(count: int, policy_ids: list[int]) -> dict[str, int]:
    from django.db import connection, transaction
    from django.utils import timezone

    from huibao.claim.models import Claim, ClaimMaterial
    from huibao.fraud.models import ScreenedClaim, ScreenedInvoice
    from huibao.policy.models import Policy, PolicyParty

    rng = random.Random(11)
    policies = list(Policy.objects.filter(pk__in=policy_ids).select_related("insurer"))
    parties = {p.policy_id: p for p in PolicyParty.objects.filter(policy_id__in=policy_ids, role="insured")}
    now = timezone.now()
    start = now - datetime.timedelta(days=SPAN_DAYS)
    people = max(count // 3, 1)
    statuses = ["paid"] * 7 + ["closed"] * 2 + ["denied"]
    base = {
        "claim_type": "medical",
        "coverage_codes": ["general_medical"],
        "required_materials": ["id_card", "invoice"],
        "place": "上海市第一人民医院",
        "description": "门诊费用报销",
        "payee_name": "李春花",
        "payee_account": "6222020200112345679",
        "payee_account_last4": "5679",
        "benefit": {},
        "social_insurance_settled": True,
    }
    claim_columns, claim_template = _prepared(
        Claim, {**base, "policy_id": 0, "insurer_id": 0, "insured_id": 0}
    )
    at = {c: i for i, c in enumerate(claim_columns)}
    mat_columns, mat_template = _prepared(
        ClaimMaterial,
        {
            "claim_id": 0,
            "kind": "invoice",
            "file": "claims/history/invoice.pdf",
            "content_type": "application/pdf",
        },
    )
    mat_at = {c: i for i, c in enumerate(mat_columns)}
    sc_columns, sc_template = _prepared(
        ScreenedClaim,
        {
            "policy_effective_date": datetime.date(2024, 1, 1),
            "claim_type": "medical",
            "product_code": "med-history",
            "line": "medical",
        },
    )
    sc_at = {c: i for i, c in enumerate(sc_columns)}
    inv_columns = ["claim_id", "kind", "value"]
    written = {"claims": 0, "materials": 0, "screened": 0, "invoices": 0}
    for offset in range(0, count, CHUNK):
        numbers = range(offset, min(offset + CHUNK, count))
        claims, screened, facts = [], [], []
        for i in numbers:
            policy = policies[i % len(policies)]
            party = parties[policy.pk]
            reported = start + datetime.timedelta(seconds=rng.randrange(SPAN_DAYS * 86400 - 86400 * 3))
            complete = reported + datetime.timedelta(minutes=rng.randrange(5, 2880))
            auto = rng.random() < 0.55
            decided = complete + datetime.timedelta(
                seconds=rng.randrange(1, 5) if auto else rng.randrange(3600, 86400 * 10)
            )
            status = statuses[rng.randrange(len(statuses))]
            paid = (
                decided + datetime.timedelta(seconds=rng.randrange(5, 3600)) if status != "denied" else None
            )
            amount = Decimal(rng.randrange(10_000, 800_000)) / 100
            row = list(claim_template)
            row[at["public_id"]] = uuid.uuid4()
            row[at["number"]] = f"H{i:012d}"
            row[at["policy_id"]], row[at["insurer_id"]], row[at["insured_id"]] = (
                policy.pk,
                policy.insurer_id,
                party.pk,
            )
            row[at["claimant_id"]] = None
            row[at["incident_date"]] = (reported - datetime.timedelta(days=2)).date()
            row[at["region_code"]] = f"{110000 + rng.randrange(3000):06d}"
            row[at["amount_claimed"]] = amount
            row[at["status"]] = status
            row[at["reported_at"]] = reported
            row[at["materials_complete_at"]] = complete
            row[at["decided_at"]] = decided
            row[at["paid_at"]] = paid
            row[at["decision_kind"]] = "deny" if status == "denied" else "approve"
            row[at["approved_amount"]] = None if status == "denied" else amount
            row[at["reason_code"]] = "exclusion" if status == "denied" else ""
            row[at["auto_decided"]] = auto and status != "denied"
            row[at["updated_at"]] = paid or decided
            claims.append(tuple(row))
            person = _hash("person", rng.randrange(people))
            s = list(sc_template)
            s[sc_at["reference"]] = f"H{i:012d}"
            s[sc_at["policy_reference"]] = f"P{rng.randrange(people):09d}"
            s[sc_at["insurer_code"]] = rng.choice(["PICC", "CPIC", "PING", "ZA", "TK"])
            s[sc_at["claimant_id_hash"]] = s[sc_at["insured_id_hash"]] = person
            s[sc_at["region_code"]] = row[at["region_code"]]
            s[sc_at["institution"]] = s[sc_at["institution_key"]] = f"医院{rng.randrange(5000)}"
            s[sc_at["amount"]] = amount
            s[sc_at["incident_date"]] = row[at["incident_date"]]
            s[sc_at["reported_at"]] = reported
            s[sc_at["subject_digest"]] = _hash("digest", i)
            s[sc_at["updated_at"]] = reported
            screened.append(tuple(s))
            facts.append((f"H{i:012d}", f"INVH{i:012d}", _hash("file", i), complete))
        with transaction.atomic():
            _copy(Claim, claim_columns, claims)
            _copy(ScreenedClaim, sc_columns, screened)
            first, last = f"H{numbers[0]:012d}", f"H{numbers[-1]:012d}"
            claim_ids = dict(
                Claim.objects.filter(number__gte=first, number__lte=last).values_list("number", "id")
            )
            sc_ids = dict(
                ScreenedClaim.objects.filter(reference__gte=first, reference__lte=last).values_list(
                    "reference", "id"
                )
            )
            materials, invoices = [], []
            for number, invoice, digest, uploaded in facts:
                m = list(mat_template)
                m[mat_at["public_id"]] = uuid.uuid4()
                m[mat_at["claim_id"]] = claim_ids[number]
                m[mat_at["sha256"]] = digest
                m[mat_at["size"]] = 2048
                m[mat_at["invoice_number"]] = invoice
                m[mat_at["uploaded_at"]] = uploaded
                materials.append(tuple(m))
                invoices.append((sc_ids[number], "number", invoice))
                invoices.append((sc_ids[number], "digest", digest))
            _copy(ClaimMaterial, mat_columns, materials)
            _copy(ScreenedInvoice, inv_columns, invoices)
        written["claims"] += len(claims)
        written["materials"] += len(materials)
        written["screened"] += len(screened)
        written["invoices"] += len(invoices)
        harness.log(f"  {written['claims']:,} historical claims")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return written


def _generate(count: int, policies: int) -> dict[str, Any]:
    began = time.monotonic()
    ids = _issue(policies)
    issued = time.monotonic() - began
    written = _history(count, ids)
    return {"seconds": round(time.monotonic() - began, 1), "issue_seconds": round(issued, 1), **written}


# --- measure -------------------------------------------------------------------------------------


def _pdf(n: int) -> bytes:
    from huibao.claim.tests.factories import pdf

    return pdf() + f"% invoice {n}\n".encode()  # distinct bytes per claim


def _jpeg(n: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), ((n * 7) % 256, (n * 13) % 256, (n * 29) % 256)).save(buf, "JPEG")
    return buf.getvalue() + f"{n}".encode()  # distinct bytes per claim (no duplicate flag)


def _prepare() -> list[tuple[Any, Any]]:
    """Two small claims per measured policy, reported with their materials uploaded."""
    from django.utils import timezone

    from huibao.claim.services import ReportInput, report_claim, upload_material
    from huibao.policy.models import Policy

    rng = random.Random(5)
    ready = []
    today = timezone.localdate()
    for n, policy in enumerate(Policy.objects.select_related("customer").order_by("pk")):
        owner = policy.customer
        for k in (0, 1):
            claim = report_claim(
                owner,
                ReportInput(
                    policy_id=str(policy.public_id),
                    claim_type="medical",
                    incident_date=today - datetime.timedelta(days=3 + k),
                    region_code=f"{310000 + rng.randrange(3000):06d}",
                    place=f"上海市第{n % 90 + 1}人民医院",
                    description="急性肠胃炎门诊",
                    amount_claimed=Decimal(rng.randrange(30_000, 150_000)) / 100,
                    payee_name="李春花",
                    payee_account="6222020200112345679",
                ),
            )
            upload_material(owner, claim.public_id, kind="id_card", file=io.BytesIO(_jpeg(2 * n + k)))
            upload_material(
                owner,
                claim.public_id,
                kind="invoice",
                file=io.BytesIO(_pdf(2 * n + k)),
                invoice_number=f"NEW{n:06d}{k}",
            )
            ready.append((owner, claim.public_id))
    return ready


def _submit(owner: Any, claim_id: Any, statements: list[int] | None = None) -> tuple[float, str]:
    """One submit timed; `statements`: the number of SQL statements it sent is appended."""
    from django.db import connection

    from huibao.claim.services import submit_claim

    sent = [0]

    def count(execute: Any, sql: Any, params: Any, many: Any, context: Any) -> Any:
        sent[0] += 1
        return execute(sql, params, many, context)

    began = time.perf_counter()
    if statements is None:
        claim = submit_claim(owner, claim_id)
    else:
        with connection.execute_wrapper(count):
            claim = submit_claim(owner, claim_id)
    ms = (time.perf_counter() - began) * 1000
    if statements is not None:
        statements.append(sent[0])
    return ms, claim.status


def _backend_cpu() -> float | None:
    """CPU seconds (user + system) the PostgreSQL backend of this connection has used, from
    /proc (the server runs on this machine); None elsewhere."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _worker(items: list[tuple[int, str]], start: Any, results: Any) -> None:
    """One app process (forked, its own database connection): waits for the others, then
    submits its share one at a time; puts (times, statuses, began, ended, errors, cpu) on
    `results`."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    owners = {u.pk: u for u in get_user_model().objects.filter(pk__in={o for o, _ in items})}
    times: list[float] = []
    statuses: list[str] = []
    errors: list[str] = []
    start.wait()
    began, cpu = time.time(), time.process_time()
    try:
        for owner_id, claim_id in items:
            ms, status = _submit(owners[owner_id], uuid.UUID(claim_id))
            times.append(ms)
            statuses.append(status)
    except Exception as exc:  # reported, not hidden
        errors.append(repr(exc))
    ended = time.time()
    results.put((times, statuses, began, ended, errors, time.process_time() - cpu))
    connection.close()


def _concurrent(items: list[tuple[Any, Any]], processes: int) -> dict[str, Any]:
    """`items` submitted by `processes` forked app processes, each with its own connection."""
    import multiprocessing

    from django.db import connections

    ctx = multiprocessing.get_context("fork")
    connections.close_all()  # no connection shared with the children
    start = ctx.Barrier(processes)
    results = ctx.Queue()
    shares = [[(o.pk, str(c)) for o, c in items[i::processes]] for i in range(processes)]
    children = [ctx.Process(target=_worker, args=(share, start, results)) for share in shares]
    for child in children:
        child.start()
    got = [results.get() for _ in children]
    for child in children:
        child.join()
    times = sorted(t for g in got for t in g[0])
    outcomes: dict[str, int] = {}
    for g in got:
        for status in g[1]:
            outcomes[status] = outcomes.get(status, 0) + 1
    wall = max(g[3] for g in got) - min(g[2] for g in got)
    return {
        "processes": processes,
        "submits": len(times),
        "p50_ms": round(statistics.median(times), 1) if times else None,
        "p99_ms": round(times[max(int(len(times) * 0.99) - 1, 0)], 1) if times else None,
        "decisions_per_second": round(len(times) / wall, 1) if wall > 0 else None,
        "app_cpu_ms_per_decision": round(sum(g[5] for g in got) * 1000 / max(len(times), 1), 1),
        "outcomes": outcomes,
        "errors": [e for g in got for e in g[4]][:3],
    }


def _measure() -> dict[str, Any]:
    from django.db import connection

    from huibao.claim import figures
    from huibao.claim.models import ClaimTriage

    ready = _prepare()
    harness.log(f"  {len(ready)} claims reported with their materials")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    serial, concurrent = ready[0::2], ready[1::2]
    times: list[float] = []
    statements: list[int] = []
    outcomes: dict[str, int] = {}
    app_cpu = db_cpu = 0.0
    for n, (owner, claim_id) in enumerate(serial):
        if n == WARM_UP:
            db_began, app_began = _backend_cpu(), time.process_time()
        ms, status = _submit(owner, claim_id, statements)
        outcomes[status] = outcomes.get(status, 0) + 1
        if n >= WARM_UP:
            times.append(ms)
    app_cpu = time.process_time() - app_began
    db_ended = _backend_cpu()
    db_cpu = (db_ended - db_began) if db_began is not None and db_ended is not None else float("nan")
    times.sort()
    # The other set in two halves: 2 app processes, then 4, each its own connection.
    phases = [_concurrent(concurrent[0::2], 2), _concurrent(concurrent[1::2], 4)]
    for phase in phases:
        for status, k in phase["outcomes"].items():
            outcomes[status] = outcomes.get(status, 0) + k
    since, until = figures.window(8)
    figures_began = time.perf_counter()
    found = figures.claim_figures(since=since, until=until)
    figures_ms = (time.perf_counter() - figures_began) * 1000
    fast = ClaimTriage.objects.filter(fast_tracked=True).count()
    best = max(phases, key=lambda p: p["decisions_per_second"] or 0)
    return {
        "serial_submits": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "p99_ms": round(times[max(int(len(times) * 0.99) - 1, 0)], 1),
        "max_ms": round(times[-1], 1),
        # CPU per serial decision: this process (Python) and its PostgreSQL backend.
        "app_cpu_ms_per_decision": round(app_cpu * 1000 / len(times), 2),
        "db_cpu_ms_per_decision": round(db_cpu * 1000 / len(times), 2) if db_cpu == db_cpu else None,
        # SQL statements per submit (SAVEPOINT/RELEASE included; BEGIN/COMMIT are not sent as such).
        "statements_median": statistics.median(statements),
        "statements_max": max(statements),
        "concurrent": phases,
        "decisions_per_second": best["decisions_per_second"],
        "decisions_per_second_processes": best["processes"],
        "fast_tracked": fast,
        "outcomes": outcomes,
        "errors": [e for p in phases for e in p["errors"]][:3],
        "figures_ms": round(figures_ms, 1),
        "figures_claims": found.total.decided,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fasttrack")
    parser.add_argument("action", choices=["generate", "measure"])
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--policies", type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huibao.settings")
    import django

    django.setup()
    result = _generate(args.count, args.policies) if args.action == "generate" else _measure()
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
