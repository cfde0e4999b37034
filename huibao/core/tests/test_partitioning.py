"""Monthly partitioning (PostgreSQL) and its SQLite fallback."""

import datetime
import hashlib

import pytest
from django.db import connection
from django.utils import timezone

from huibao.core import evidence, partitioning
from huibao.core.models import EvidenceLeaf, EvidenceRoot

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="declarative partitioning is PostgreSQL's; SQLite keeps plain tables",
)
LEAVES = "core_evidenceleaf"
ZONE = timezone.get_default_timezone()


def leaves_at(moment: datetime.datetime, batch_ref: str, n: int = 3) -> EvidenceRoot:
    root = EvidenceRoot.objects.create(
        kind="t", batch_ref=batch_ref, size=n, root="00" * 32, created_at=moment
    )
    EvidenceLeaf.objects.bulk_create(
        EvidenceLeaf(
            root=root,
            index=i,
            kind="t",
            leaf_ref=f"{batch_ref}-{i}",
            digest=hashlib.sha256(b"x").digest(),
            created_at=moment,
        )
        for i in range(n)
    )
    return root


def placement(table: str) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1")
        return dict(cursor.fetchall())


def test_month_arithmetic_is_local():
    # 2026-12-31 20:00 UTC is already January in Shanghai
    moment = datetime.datetime(2026, 12, 31, 20, 0, tzinfo=datetime.UTC)
    assert partitioning.month_start(moment) == datetime.datetime(2027, 1, 1, tzinfo=ZONE)
    assert partitioning.add_months(partitioning.month_start(moment), -13) == datetime.datetime(
        2025, 12, 1, tzinfo=ZONE
    )
    assert partitioning.partition_name("t", datetime.datetime(2027, 3, 1, tzinfo=ZONE)) == "t_p202703"


@postgres_only
def test_the_big_tables_are_partitioned_by_month():
    tables = {(t.table, t.column) for t in partitioning.partitioned_tables()}
    assert {(LEAVES, "created_at"), ("policy_policystatuschange", "created_at")} <= tables
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE p.partstrat = 'r'"
        )
        assert {LEAVES, "policy_policystatuschange"} <= {r[0] for r in cursor.fetchall()}
        # the database's key holds the partition key; Django's pk is still `id`
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'p'",
            [LEAVES],
        )
        assert cursor.fetchone()[0] == "PRIMARY KEY (id, created_at)"


@postgres_only
def test_inserts_land_in_their_months_partition():
    # given the partitions of the coming months
    partitioning.ensure_partitions()
    now = timezone.now()
    # when a batch is sealed now and leaves are written two months ahead
    evidence.seal(
        "embedded", "NOW", [("P1", hashlib.sha256(b"1").digest()), ("P2", hashlib.sha256(b"2").digest())]
    )
    ahead = partitioning.add_months(partitioning.month_start(now), 2) + datetime.timedelta(days=3)
    leaves_at(ahead, "AHEAD", 4)
    # then each lands in its own month's partition, none in DEFAULT
    assert placement(LEAVES) == {
        partitioning.partition_name(LEAVES, partitioning.month_start(now)): 2,
        partitioning.partition_name(LEAVES, partitioning.month_start(ahead)): 4,
    }


@postgres_only
def test_a_row_beyond_the_partitions_goes_to_default_and_moves_out_later():
    # given a row dated a year ahead, past every partition
    far = partitioning.add_months(partitioning.month_start(timezone.now()), 12) + datetime.timedelta(hours=5)
    leaves_at(far, "FAR", 2)
    assert placement(LEAVES) == {LEAVES + "_default": 2}
    # when the sweep runs in that month
    created = partitioning.ensure_partitions(now=far)
    # then the month's partition exists and holds the rows, DEFAULT is empty again
    name = partitioning.partition_name(LEAVES, partitioning.month_start(far))
    assert name in created
    assert placement(LEAVES) == {name: 2}
    assert partitioning.ensure_partitions(now=far) == []  # idempotent


@postgres_only
def test_the_purge_drops_whole_old_months():
    # given leaves of 14 months ago, 13 months ago and now
    start = partitioning.month_start(timezone.now())
    old = partitioning.add_months(start, -14) + datetime.timedelta(days=1)
    older_kept = partitioning.add_months(start, -12) + datetime.timedelta(days=1)
    partitioning.ensure_partitions(months_ahead=0, now=old)
    partitioning.ensure_partitions(months_ahead=0, now=older_kept)
    leaves_at(old, "OLD")
    leaves_at(older_kept, "KEPT")
    leaves_at(timezone.now(), "NEW")
    # when months before a 12-month retention are purged
    dropped = partitioning.purge_partitions(LEAVES, "created_at", partitioning.add_months(start, -12))
    # then the old month's partition is gone (not emptied), the others keep their rows
    old_name = partitioning.partition_name(LEAVES, partitioning.month_start(old))
    assert dropped == [old_name]
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [old_name])
        assert cursor.fetchone()[0] is None
    assert set(EvidenceLeaf.objects.values_list("root__batch_ref", flat=True)) == {"KEPT", "NEW"}


def test_the_purge_deletes_on_sqlite_too():
    start = partitioning.month_start(timezone.now())
    if connection.vendor == "postgresql":
        partitioning.ensure_partitions(months_ahead=0, now=partitioning.add_months(start, -3))
    leaves_at(partitioning.add_months(start, -3), "OLD")
    leaves_at(timezone.now(), "NEW")
    partitioning.purge_partitions(LEAVES, "created_at", partitioning.add_months(start, -1))
    assert set(EvidenceLeaf.objects.values_list("root__batch_ref", flat=True)) == {"NEW"}


@postgres_only
def test_verify_audit_skips_roots_whose_leaves_are_past_retention(settings):
    # given a batch sealed long ago whose month was purged after a 12-month retention
    start = partitioning.month_start(timezone.now())
    old = partitioning.add_months(start, -20)
    partitioning.ensure_partitions(months_ahead=0, now=old)
    leaves_at(old, "ANCIENT")
    settings.PARTITION_RETENTION_MONTHS = {LEAVES: 12}
    partitioning.purge_expired()
    assert not EvidenceLeaf.objects.exists()
    # then the roots check does not report it (its leaves are gone on purpose)
    assert evidence.verify_roots() == []


def _scratch(cursor, extra: str = "") -> None:
    cursor.execute(
        "CREATE TABLE zz_scratch (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
        f"at timestamptz NOT NULL, v integer NOT NULL CHECK (v >= 0){extra})"
    )
    cursor.execute("CREATE INDEX zz_scratch_v ON zz_scratch (v)")


@postgres_only
def test_conversion_keeps_rows_keys_and_indexes():
    # given a plain table with rows of two months, an index and a check
    with connection.cursor() as cursor:
        _scratch(cursor)
        cursor.execute(
            "INSERT INTO zz_scratch (at, v) VALUES (now() - interval '35 days', 1), (now(), 2), (now(), 3)"
        )
        # when it is converted
        with connection.schema_editor() as editor:
            partitioning.convert_to_partitioned(editor, "zz_scratch", "at")
        # then the rows are kept in their months, ids go on, the index and check are there
        cursor.execute("SELECT count(*), count(DISTINCT tableoid) FROM zz_scratch")
        assert cursor.fetchone() == (3, 2)
        cursor.execute("INSERT INTO zz_scratch (at, v) VALUES (now(), 4) RETURNING id")
        assert cursor.fetchone()[0] == 4
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'zz_scratch' ORDER BY 1")
        assert [r[0] for r in cursor.fetchall()] == ["zz_scratch_pkey", "zz_scratch_v"]
        with pytest.raises(Exception, match="check"):
            cursor.execute("SAVEPOINT s; INSERT INTO zz_scratch (at, v) VALUES (now(), -1)")
        cursor.execute("ROLLBACK TO SAVEPOINT s")
        # and back again
        with connection.schema_editor() as editor:
            partitioning.convert_to_plain(editor, "zz_scratch", "at")
        cursor.execute("SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'zz_scratch'::regclass")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM zz_scratch")
        assert cursor.fetchone()[0] == 4


@postgres_only
@pytest.mark.parametrize(
    ("extra", "problem"),
    [(", code text UNIQUE", "unique key"), ("", "foreign keys point at it")],
)
def test_conversion_refuses_what_partitions_cannot_hold(extra, problem):
    with connection.cursor() as cursor:
        _scratch(cursor, extra)
        if not extra:
            cursor.execute(
                "CREATE TABLE zz_child (id serial PRIMARY KEY, s bigint REFERENCES zz_scratch (id))"
            )
        with (
            pytest.raises(partitioning.PartitioningRefused, match=problem),
            connection.schema_editor() as editor,
        ):
            partitioning.convert_to_partitioned(editor, "zz_scratch", "at")
