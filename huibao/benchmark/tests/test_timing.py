"""Server-Timing in bench mode: in-process time, SQL statements as counted by Django, row-lock
holds, and cProfile statistics of the requests the bench asks to profile."""

from __future__ import annotations

import json
import pstats
import time

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from huibao.benchmark.timing import PROFILE_HEADER, Meter, ServerTimingMiddleware, Timing, parse_header

TIMING = "huibao.benchmark.timing.ServerTimingMiddleware"


@pytest.fixture
def timed(settings):
    settings.MIDDLEWARE = [TIMING, *settings.MIDDLEWARE]
    return settings


@pytest.mark.django_db
def test_every_response_says_its_time_and_the_statements_it_sent(timed):
    # given
    client = Client()
    # when
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/products?q=意外")
    # then
    assert response.status_code == 200
    timing = parse_header(response["Server-Timing"])
    assert timing is not None
    assert timing.statements == len(queries.captured_queries) > 0
    assert timing.app_ms > timing.sql_ms > 0
    assert timing.cpu_ms > 0
    assert timing.process_cpu_ms > 0


@pytest.mark.django_db
def test_without_bench_mode_there_is_no_header():
    assert "Server-Timing" not in Client().get("/api/v1/products").headers


@pytest.mark.django_db(transaction=True)
def test_a_row_lock_is_reported_with_its_hold_time_until_commit():
    # given: what a locking statement looks like to the meter (the driver's call is stood in for,
    # as SQLite has no FOR UPDATE), inside a transaction that commits
    meter = Meter()
    sql = 'SELECT "x"."id" FROM "policy_policynumbersequence" WHERE "x"."insurer_id" = %s FOR UPDATE'
    # when
    with transaction.atomic():
        meter(lambda *args: None, sql, (1,), False, {"connection": connection})
        meter(lambda *args: None, "UPDATE t SET n = 1", (), False, {"connection": connection})
        assert meter.locks["policy_policynumbersequence"][0] == 0.0  # held until the commit
    # then
    timing = parse_header(meter.header(0.05))
    assert timing is not None
    assert timing.statements == 2
    held, took = timing.locks["policy_policynumbersequence"]
    assert held > 0
    assert took >= 0
    assert timing.app_ms == 50.0


@pytest.mark.django_db(transaction=True)
def test_a_counter_taken_by_update_returning_is_a_row_lock_of_its_table():
    # given: a sequence row's counter taken in one statement, then a plain update
    meter = Meter()
    taken = 'UPDATE "policy_policynumbersequence" SET "last" = "last" + %s WHERE "id" = %s RETURNING "last"'
    # when
    with transaction.atomic():
        meter(lambda *args: None, taken, (1, 1), False, {"connection": connection})
        meter(lambda *args: None, 'UPDATE "t" SET "n" = 1', (), False, {"connection": connection})
    # then: the first is the sequence table's lock, held until the commit; the second none
    timing = parse_header(meter.header(0.01))
    assert timing is not None
    assert list(timing.locks) == ["policy_policynumbersequence"]
    assert timing.locks["policy_policynumbersequence"][0] > 0


@pytest.mark.django_db(transaction=True)
def test_the_lock_hold_ends_at_the_commit_not_after_the_work_queued_for_after_it():
    # given: a transaction that queued slow work for after its commit before it took the lock
    meter = Meter()
    sql = 'SELECT "x"."id" FROM "policy_policynumbersequence" WHERE "x"."id" = %s FOR UPDATE'
    # when
    with transaction.atomic():
        transaction.on_commit(lambda: time.sleep(0.2))
        meter(lambda *args: None, sql, (1,), False, {"connection": connection})
    # then
    held, _took = meter.locks["policy_policynumbersequence"]
    assert 0 < held < 0.2


@pytest.mark.django_db(transaction=True)
def test_a_lock_taken_in_a_savepoint_rolled_back_is_not_reported_as_released_by_a_commit():
    # given
    meter = Meter()
    sql = 'SELECT "x"."id" FROM "payment_payment" WHERE "x"."id" = %s FOR UPDATE'
    # when
    with transaction.atomic():
        try:
            with transaction.atomic():
                meter(lambda *args: None, sql, (1,), False, {"connection": connection})
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    # then
    assert meter.locks["payment_payment"][0] == 0.0


def test_the_header_reads_back_as_written():
    # given
    header = (
        'app;dur=12.345, cpu;dur=9.5, pcpu;dur=9.750, sql;dur=3.210;desc="9", '
        'lock.policy_policynumbersequence;dur=4.100;desc="0.200"'
    )
    # when
    timing = parse_header(header)
    # then
    assert timing == Timing(
        app_ms=12.345,
        sql_ms=3.21,
        statements=9,
        locks={"policy_policynumbersequence": (4.1, 0.2)},
        cpu_ms=9.5,
        process_cpu_ms=9.75,
    )
    assert parse_header("cache;desc=hit, db;dur=53") is None


@pytest.mark.django_db
def test_a_request_the_bench_names_is_profiled_into_the_profile_directory(timed, tmp_path):
    # given
    timed.HUIBAO_BENCH_PROFILE_DIR = str(tmp_path)
    client = Client()
    # when
    client.get("/api/v1/products", headers={PROFILE_HEADER: "Search Step"})
    client.get("/api/v1/products")
    # then
    files = sorted(tmp_path.glob("*.prof"))
    assert [f.name.split(".")[0] for f in files] == ["search_step"]
    stats = pstats.Stats(str(files[0]))
    assert any("get_response" in name for (_file, _line, name) in stats.stats)  # type: ignore[attr-defined]
    statements = json.loads(files[0].with_name(files[0].name.removesuffix(".prof") + ".sql.json").read_text())
    assert statements
    assert all(isinstance(s, str) and s.split()[0] in {"SELECT", "SAVEPOINT", "RELEASE"} for s in statements)


def test_profiling_is_off_without_a_directory(settings):
    settings.HUIBAO_BENCH_PROFILE_DIR = ""
    assert ServerTimingMiddleware(lambda request: None).profile_dir is None  # type: ignore[arg-type,return-value]
