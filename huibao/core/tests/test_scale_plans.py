"""On PostgreSQL, with big tables (20,000 rows and more, analysed), the queries that must stay
fast as the platform grows — a customer's "my policies", verification by number and code, a
policy's history on the month-partitioned status changes, settlement from the journal — use
indexes: the plan (EXPLAIN (FORMAT JSON)) has no sequential scan of the big tables. The tables are
filled by copying real rows made by the factories, so every column is as the code writes it."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from huibao.account.models import User
from huibao.finance import accounts, settlement
from huibao.finance.models import JournalLine, LedgerAccount
from huibao.finance.settlement_selectors import lines_of
from huibao.finance.tests import settlement_factories as sf
from huibao.policy import selectors, services
from huibao.policy.models import Policy, PolicyStatusChange
from huibao.policy.tests import factories as pf

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans are PostgreSQL's"),
]
ROWS = 20_000
BIG = ("policy_policy", "policy_policystatuschange", "finance_journalline", "finance_settlementline")


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def rows_of(relation: str) -> float:
    """The analysed row count of a table or partition (an empty DEFAULT partition is read by a
    sequential scan of nothing, which is no concern)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [relation])
        row = cursor.fetchone()
    return float(row[0]) if row else 0.0


def seq_scans_of_big_tables(run: Callable[[], Any], big: tuple[str, ...] = BIG) -> tuple[list[str], int]:
    """Runs `run`, EXPLAINs every query it sent that reads a big table; the big tables (or their
    partitions) read by a sequential scan, and how many queries were explained."""
    with CaptureQueriesContext(connection) as captured:
        run()
    scans, explained = [], 0
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "WITH")):
                continue
            if not any(table in sql for table in big):
                continue
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
            (raw,) = cursor.fetchone()
            plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
            explained += 1
            for node in _nodes(plan):
                relation = node.get("Relation Name", "")
                if node["Node Type"] == "Seq Scan" and relation.startswith(big) and rows_of(relation) >= 1000:
                    scans.append(f"{relation} in: {sql[:200]}")
    return scans, explained


def analyse() -> None:
    with connection.cursor() as cursor:
        for table in BIG:
            cursor.execute(f"ANALYZE {table}")


def many_policies() -> tuple[Policy, User]:
    """20,000 policies of 400 customers, copied from one issued policy; each with a status change,
    spread over this month's and the next three months' partitions."""
    customer = User.objects.create(username="mine")
    seed = pf.simple_issued(customer)
    users = User.objects.bulk_create(User(username=f"c{i}") for i in range(400))
    ids = ",".join(str(u.pk) for u in users)
    columns = [f.column for f in Policy._meta.concrete_fields if f.column != "id"]
    overrides = {
        "public_id": "gen_random_uuid()",
        "number": "'TP' || lpad(g::text, 10, '0')",
        "verification_code": "md5('v' || g::text)",
        "item_id": "NULL",
        "renewed_from_id": "NULL",
        "customer_id": f"(ARRAY[{ids}])[1 + mod(g, 400)]",
        "holder_id_hash": "md5('h' || g::text)",
        "insured_id_hash": "md5('i' || g::text)",
        "issued_at": "t.issued_at - g * interval '1 minute'",
    }
    select = ", ".join(overrides.get(c, f"t.{c}") for c in columns)
    change_columns = [f.column for f in PolicyStatusChange._meta.concrete_fields if f.column != "id"]
    change_select = ", ".join(
        {"policy_id": "p.id", "created_at": "t.created_at + mod(p.id, 4) * interval '1 month'"}.get(
            c, f"t.{c}"
        )
        for c in change_columns
    )
    first_change = PolicyStatusChange.objects.filter(policy=seed).order_by("id").first()
    assert first_change is not None
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO policy_policy ({', '.join(columns)}) SELECT {select} "
            f"FROM policy_policy t, generate_series(1, {ROWS}) g WHERE t.id = %s",
            [seed.pk],
        )
        cursor.execute(
            f"INSERT INTO policy_policystatuschange ({', '.join(change_columns)}) "
            f"SELECT {change_select} FROM policy_policystatuschange t, policy_policy p "
            "WHERE t.id = %s AND p.number LIKE 'TP%%'",
            [first_change.pk],
        )
    analyse()
    return seed, customer


def test_my_policies_verification_and_history_stay_on_indexes():
    # given 20,000 policies and their status changes, analysed
    seed, customer = many_policies()
    assert Policy.objects.count() > ROWS and PolicyStatusChange.objects.count() > ROWS
    # when the customer's list, the verification and a policy's history are read
    runs = {
        "my policies": lambda: list(selectors.policies_of(customer)[:20]),
        "verification": lambda: services.policy_by_number_and_code(seed.number, seed.verification_code),
        "history": lambda: selectors.policy_timeline(seed),
    }
    for name, run in runs.items():
        scans, explained = seq_scans_of_big_tables(run)
        # then no big table is read by a sequential scan
        assert explained, name
        assert scans == [], (name, scans)
    # (and the answers are right)
    assert [p.pk for p in selectors.policies_of(customer)] == [seed.pk]
    assert services.policy_by_number_and_code(seed.number, seed.verification_code) == seed


def test_settlement_stays_on_indexes():
    # given 40 insurers' premium over a year, 20,000 journal lines, and 39 statements generated
    insurers = [sf.insurer() for _ in range(40)]
    for ins in insurers:
        sf.premium(ins, "100.00", datetime.date(2025, 11, 3))
    payable = {
        a.code: a.pk
        for a in LedgerAccount.objects.filter(code__in=[accounts.premium_payable(i).code for i in insurers])
    }
    account_ids = ",".join(str(payable[accounts.premium_payable(i).code]) for i in insurers)
    seed = JournalLine.objects.filter(
        credit__gt=0, account_id=payable[accounts.premium_payable(insurers[0]).code]
    ).first()
    assert seed is not None
    columns = [f.column for f in JournalLine._meta.concrete_fields if f.column != "id"]
    overrides = {
        "account_id": f"(ARRAY[{account_ids}])[1 + mod(g, 40)]",
        "posted_on": "DATE '2025-01-01' + mod(g, 330)",
    }
    select = ", ".join(overrides.get(c, f"t.{c}") for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO finance_journalline ({', '.join(columns)}) SELECT {select} "
            f"FROM finance_journalline t, generate_series(1, {ROWS}) g WHERE t.id = %s",
            [seed.pk],
        )
    # the journal lines of the amplified rows share one transaction key, as a bulk posting would
    for ins in insurers[:-1]:
        settlement.generate_insurer_statement(ins, "2025-11")
    analyse()
    # when the last insurer's statement is generated and its lines read
    last = insurers[-1]
    # (The journal is what a statement reads by its index (account, date). The premium lines'
    # "not settled yet" check is an anti-join on the settlement lines' unique source_key: with
    # 500 candidate lines against 20,000 settled ones PostgreSQL rightly prefers hashing the
    # settled lines to 500 probes; it turns to the index as the settled lines outgrow that —
    # see docs/partitioning.md, "What it costs the queries".)
    scans, explained = seq_scans_of_big_tables(
        lambda: settlement.generate_insurer_statement(last, "2025-11"), big=("finance_journalline",)
    )
    assert explained and scans == [], scans
    statement = settlement.generate_insurer_statement(last, "2025-11")
    scans, explained = seq_scans_of_big_tables(lambda: list(lines_of(statement)))
    # then the journal and the settlement lines are read through their indexes
    assert explained and scans == [], scans
    assert statement.line_count == 1 + ROWS // 40
