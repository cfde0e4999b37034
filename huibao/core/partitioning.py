"""Monthly RANGE partitioning on PostgreSQL, for tables that grow without bound (docs/partitioning.md).

The recipe, reusable by any app:

1. In a migration, `PartitionByMonth("modelname", "created_at")` turns the model's table into a
   table partitioned by month on that column: a new partitioned table is created like the old
   one, a DEFAULT partition and one partition per month from the oldest row to
   `MONTHS_AHEAD` months ahead are made, the rows are copied, the old table is dropped and its
   primary key (as `(id, column)`: PostgreSQL wants the partition key in every unique key),
   unique and foreign-key constraints and indexes are recreated under their old names as
   partitioned ones. It refuses a table that a foreign key points at, or whose unique keys do not
   hold the column (they could no longer be enforced across partitions). On SQLite it does
   nothing: the table stays a plain one and everything else here falls back to plain SQL.
2. `ensure_partitions()` (a sweep, daily is plenty) creates the partitions of the current month
   and the next `MONTHS_AHEAD` for every table partitioned this way; rows that landed in the
   DEFAULT partition meanwhile are moved into the new one, so an insert never fails and no row
   is lost.
3. `purge_partitions(table, before)` drops every whole month older than `before` (DETACH, DROP:
   no DELETE, no vacuum debt); `purge_expired()` does it for the tables with a retention in
   `settings.PARTITION_RETENTION_MONTHS` (table name → months).

Month boundaries are local midnights in `settings.TIME_ZONE` (Asia/Shanghai): a month's
partition holds what the business calls that month. Django keeps `id` as the model's primary key;
only the database's key is `(id, column)`, and ids stay unique because they come from one
sequence.
"""

# Identifiers in the SQL below come from the catalog and from migrations, never from a request,
# and are quoted; values go as parameters.
# ruff: noqa: S608
from __future__ import annotations

import datetime
import logging
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, migrations, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import ProjectState
from django.utils import timezone

logger = logging.getLogger(__name__)

MONTHS_AHEAD = 3
DEFAULT_SUFFIX = "_default"
_MONTH_SUFFIX = re.compile(r"_p(\d{4})(\d{2})$")


class PartitioningRefused(Exception):
    """The table cannot be partitioned as it is (a foreign key points at it, a unique key lacks
    the partition column)."""


def month_start(moment: datetime.datetime | datetime.date) -> datetime.datetime:
    """Local midnight of the first day of `moment`'s month, aware."""
    zone = timezone.get_default_timezone()
    if isinstance(moment, datetime.datetime):
        local = timezone.localtime(moment, zone) if timezone.is_aware(moment) else moment
        day = local.date()
    else:
        day = moment
    return datetime.datetime(day.year, day.month, 1, tzinfo=zone)


def add_months(start: datetime.datetime, months: int) -> datetime.datetime:
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1, day=1)


def partition_name(table: str, start: datetime.datetime) -> str:
    return f"{table}_p{start.year:04d}{start.month:02d}"


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _is_postgres(conn: BaseDatabaseWrapper | None = None) -> bool:
    return (conn or connection).vendor == "postgresql"


@dataclass(frozen=True, slots=True)
class PartitionedTable:
    table: str
    column: str


def partitioned_tables() -> list[PartitionedTable]:
    """Tables partitioned by RANGE on one column that have our DEFAULT partition (PostgreSQL)."""
    if not _is_postgres():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, a.attname
            FROM pg_partitioned_table p
            JOIN pg_class c ON c.oid = p.partrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = p.partattrs[0]
            WHERE p.partstrat = 'r' AND p.partnatts = 1
              AND EXISTS (SELECT 1 FROM pg_class d WHERE d.relname = c.relname || %s
                          AND d.relispartition)
            ORDER BY c.relname
            """,
            [DEFAULT_SUFFIX],
        )
        return [PartitionedTable(table, column) for table, column in cursor.fetchall()]


def is_partitioned(table: str) -> bool:
    return any(t.table == table for t in partitioned_tables())


def month_partitions(table: str) -> list[tuple[str, datetime.datetime]]:
    """The month partitions of `table` (name, first day), oldest first (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [table],
        )
        names = [row[0] for row in cursor.fetchall()]
    zone = timezone.get_default_timezone()
    months = []
    for name in names:
        match = _MONTH_SUFFIX.search(name)
        if match and name == table + match.group(0):
            months.append((name, datetime.datetime(int(match[1]), int(match[2]), 1, tzinfo=zone)))
    return sorted(months, key=lambda m: m[1])


def _create_month(cursor: Any, table: str, column: str, start: datetime.datetime) -> str | None:
    """Creates the partition of the month starting at `start` unless it exists; moves the rows of
    that month out of the DEFAULT partition first when there are any."""
    name = partition_name(table, start)
    cursor.execute("SELECT to_regclass(%s)", [name])
    if cursor.fetchone()[0] is not None:
        return None
    end = add_months(start, 1)
    default = table + DEFAULT_SUFFIX
    cursor.execute(
        f"SELECT EXISTS (SELECT 1 FROM {_q(default)} WHERE {_q(column)} >= %s AND {_q(column)} < %s)",
        [start, end],
    )
    if not cursor.fetchone()[0]:
        cursor.execute(
            f"CREATE TABLE {_q(name)} PARTITION OF {_q(table)} FOR VALUES FROM (%s) TO (%s)", [start, end]
        )
        return name
    # Attaching a range the DEFAULT partition holds rows of would fail: move them first, in the
    # same transaction (the DEFAULT partition is locked meanwhile; it holds only strays).
    cursor.execute(f"CREATE TABLE {_q(name)} (LIKE {_q(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    cursor.execute(
        f"WITH moved AS (DELETE FROM {_q(default)} WHERE {_q(column)} >= %s AND {_q(column)} < %s "
        f"RETURNING *) INSERT INTO {_q(name)} SELECT * FROM moved",
        [start, end],
    )
    cursor.execute(
        f"ALTER TABLE {_q(table)} ATTACH PARTITION {_q(name)} FOR VALUES FROM (%s) TO (%s)", [start, end]
    )
    logger.warning("partitioning: moved %s's rows of %s out of its DEFAULT partition", table, name)
    return name


def ensure_partitions(months_ahead: int = MONTHS_AHEAD, now: datetime.datetime | None = None) -> list[str]:
    """Creates the partitions of this month and the next `months_ahead` for every partitioned
    table; returns the names created. Idempotent; does nothing on SQLite."""
    if not _is_postgres():
        return []
    first = month_start(now or timezone.now())
    created = []
    for part in partitioned_tables():
        with transaction.atomic(), connection.cursor() as cursor:
            for offset in range(months_ahead + 1):
                name = _create_month(cursor, part.table, part.column, add_months(first, offset))
                if name:
                    created.append(name)
    return created


def purge_partitions(table: str, column: str, before: datetime.datetime) -> list[str]:
    """Removes the rows of every whole month that ends on or before `before`'s month start: on
    PostgreSQL by detaching and dropping their partitions (and deleting strays of those months
    from the DEFAULT partition), elsewhere with a DELETE. Returns the partitions dropped."""
    cutoff = month_start(before)
    if not _is_postgres() or not is_partitioned(table):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {_q(table)} WHERE {_q(column)} < %s", [cutoff])
        return []
    dropped = []
    with transaction.atomic(), connection.cursor() as cursor:
        # A partition with deferred foreign-key checks still pending (rows written earlier in the
        # same transaction) cannot be dropped: run those checks now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for name, start in month_partitions(table):
            if add_months(start, 1) <= cutoff:
                cursor.execute(f"ALTER TABLE {_q(table)} DETACH PARTITION {_q(name)}")
                cursor.execute(f"DROP TABLE {_q(name)}")
                dropped.append(name)
        cursor.execute(f"DELETE FROM {_q(table + DEFAULT_SUFFIX)} WHERE {_q(column)} < %s", [cutoff])
    return dropped


def retention_months() -> dict[str, tuple[str, int]]:
    """Table → (partition column, months kept), from `settings.PARTITION_RETENTION_MONTHS`
    (`{"table": months}`, column from the catalog or `{"table": ["column", months]}`)."""
    configured: dict[str, Any] = getattr(settings, "PARTITION_RETENTION_MONTHS", {})
    columns = {t.table: t.column for t in partitioned_tables()}
    result = {}
    for table, value in configured.items():
        if isinstance(value, list | tuple):
            result[table] = (str(value[0]), int(value[1]))
        elif table in columns:
            result[table] = (columns[table], int(value))
    return result


def purge_expired(now: datetime.datetime | None = None) -> dict[str, list[str]]:
    """`purge_partitions` for every table with a retention (see `retention_months`)."""
    now = now or timezone.now()
    return {
        table: purge_partitions(table, column, add_months(month_start(now), -months))
        for table, (column, months) in retention_months().items()
    }


def maintain_partitions() -> dict[str, Any]:
    """The daily sweep: next months' partitions, then the retention purge."""
    return {"created": ensure_partitions(), "purged": purge_expired()}


# --- the migration operation ----------------------------------------------------------------


def _fetch(cursor: Any, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    cursor.execute(sql, params)
    return list(cursor.fetchall())


def _identity_sequences(cursor: Any, table: str) -> list[tuple[str, str]]:
    """(column, sequence) of the table's identity columns; the sequence quoted and qualified."""
    return _fetch(
        cursor,
        "SELECT a.attname, pg_get_serial_sequence(%s, a.attname) FROM pg_attribute a "
        "WHERE a.attrelid = %s::regclass AND a.attidentity <> ''",
        [table, table],
    )


def _carry_sequences(cursor: Any, quoted: Any, new: str, table: str) -> list[tuple[str, str]]:
    """Sets the identity sequences of `new` (a copy of `table`) past the copied ids."""
    sequences = _identity_sequences(cursor, new)
    for column, sequence in sequences:
        top = f"SELECT COALESCE(max({quoted(column)}), 0) + 1 FROM {quoted(new)}"
        cursor.execute(f"SELECT setval(%s, ({top}), false)", [sequence])
    return sequences


def _rename_sequences(cursor: Any, quoted: Any, sequences: list[tuple[str, str]], table: str) -> None:
    for column, sequence in sequences:
        # pg_get_serial_sequence answers a quoted, schema-qualified name.
        cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {quoted(f'{table}_{column}_seq')}")


def convert_to_partitioned(
    schema_editor: BaseDatabaseSchemaEditor, table: str, column: str, months_ahead: int = MONTHS_AHEAD
) -> None:
    """Turns `table` into a table RANGE-partitioned by month on `column` (PostgreSQL), rows kept."""
    quoted = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        if _fetch(cursor, "SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass", [table]):
            return
        pointing = _fetch(
            cursor,
            "SELECT conname, conrelid::regclass::text FROM pg_constraint WHERE confrelid = %s::regclass "
            "AND contype = 'f' AND conrelid <> confrelid",
            [table],
        )
        if pointing:
            raise PartitioningRefused(
                f"{table}: foreign keys point at it ({pointing}); it cannot be partitioned"
            )
        (attnum,) = _fetch(
            cursor,
            "SELECT attnum FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
            [table, column],
        )[0]
        constraints = _fetch(
            cursor,
            "SELECT conname, contype, pg_get_constraintdef(oid), %s = ANY(conkey) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'f', 'x') ORDER BY contype, conname",
            [attnum, table],
        )
        indexes = _fetch(
            cursor,
            """
            SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisunique, %s = ANY(i.indkey)
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid = %s::regclass
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                              AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))
            ORDER BY c.relname
            """,
            [attnum, table],
        )
        for name, kind, _, has_column in constraints:
            if kind in ("u", "x") and not has_column:
                raise PartitioningRefused(f"{table}: unique key {name} does not hold {column}")
        for name, _, unique, has_column in indexes:
            if unique and not has_column:
                raise PartitioningRefused(f"{table}: unique index {name} does not hold {column}")
        pk_columns = _fetch(
            cursor,
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary",
            [table],
        )
        oldest = _fetch(cursor, f"SELECT min({quoted(column)}) FROM {quoted(table)}", [])[0][0]

        new = f"{table}__partitioned"
        cursor.execute(
            f"CREATE TABLE {quoted(new)} (LIKE {quoted(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
            f"INCLUDING IDENTITY INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS) "
            f"PARTITION BY RANGE ({quoted(column)})"
        )
        cursor.execute(f"CREATE TABLE {quoted(table + DEFAULT_SUFFIX)} PARTITION OF {quoted(new)} DEFAULT")
        first = month_start(oldest) if oldest is not None else month_start(timezone.now())
        last = add_months(month_start(timezone.now()), months_ahead)
        start = first
        while start <= last:
            cursor.execute(
                f"CREATE TABLE {quoted(partition_name(table, start))} PARTITION OF {quoted(new)} "
                "FOR VALUES FROM (%s) TO (%s)",
                [start, add_months(start, 1)],
            )
            start = add_months(start, 1)
        cursor.execute(f"INSERT INTO {quoted(new)} OVERRIDING SYSTEM VALUE SELECT * FROM {quoted(table)}")
        sequences = _carry_sequences(cursor, quoted, new, table)
        cursor.execute(f"DROP TABLE {quoted(table)}")
        cursor.execute(f"ALTER TABLE {quoted(new)} RENAME TO {quoted(table)}")
        _rename_sequences(cursor, quoted, sequences, table)
        for name, kind, definition, _ in constraints:
            if kind == "p":
                keys = [quoted(c) for (c,) in pk_columns if c != column] + [quoted(column)]
                definition = f"PRIMARY KEY ({', '.join(keys)})"
            cursor.execute(f"ALTER TABLE {quoted(table)} ADD CONSTRAINT {quoted(name)} {definition}")
        for _, definition, _, _ in indexes:
            cursor.execute(definition)


def convert_to_plain(schema_editor: BaseDatabaseSchemaEditor, table: str, column: str) -> None:
    """The reverse of `convert_to_partitioned`: one plain table again, rows kept, the primary key
    back to its first column alone."""
    quoted = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        if not _fetch(cursor, "SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass", [table]):
            return
        constraints = _fetch(
            cursor,
            "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'f', 'x') AND conparentid = 0 "
            "ORDER BY contype, conname",
            [table],
        )
        indexes = _fetch(
            cursor,
            """
            SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
            WHERE i.indrelid = %s::regclass
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                              AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))
            """,
            [table],
        )
        new = f"{table}__plain"
        cursor.execute(
            f"CREATE TABLE {quoted(new)} (LIKE {quoted(table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
            "INCLUDING IDENTITY INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS)"
        )
        cursor.execute(f"INSERT INTO {quoted(new)} OVERRIDING SYSTEM VALUE SELECT * FROM {quoted(table)}")
        sequences = _carry_sequences(cursor, quoted, new, table)
        cursor.execute(f"DROP TABLE {quoted(table)}")  # its partitions go with it
        cursor.execute(f"ALTER TABLE {quoted(new)} RENAME TO {quoted(table)}")
        _rename_sequences(cursor, quoted, sequences, table)
        for name, kind, definition in constraints:
            if kind == "p":
                definition = re.sub(rf",\s*{re.escape(column)}\)", ")", definition)
            cursor.execute(f"ALTER TABLE {quoted(table)} ADD CONSTRAINT {quoted(name)} {definition}")
        for (definition,) in indexes:
            cursor.execute(definition.replace(" ON ONLY ", " ON "))


class PartitionByMonth(migrations.operations.base.Operation):
    """Migration operation: partition the model's table by month on `column` (PostgreSQL only;
    the model's state is unchanged). Reversible."""

    reversible = True
    reduces_to_sql = False

    def __init__(self, model_name: str, column: str, months_ahead: int = MONTHS_AHEAD) -> None:
        self.model_name = model_name
        self.column = column
        self.months_ahead = months_ahead

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (
            self.__class__.__qualname__,
            [self.model_name, self.column],
            {"months_ahead": self.months_ahead},
        )

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def _table(self, app_label: str, state: ProjectState) -> str:
        model = state.apps.get_model(app_label, self.model_name)
        return str(model._meta.db_table)

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if _is_postgres(schema_editor.connection):
            table = self._table(app_label, to_state)
            convert_to_partitioned(schema_editor, table, self.column, self.months_ahead)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        if _is_postgres(schema_editor.connection):
            convert_to_plain(schema_editor, self._table(app_label, from_state), self.column)

    def describe(self) -> str:
        return f"Partition {self.model_name} by month on {self.column} (PostgreSQL)"

    @property
    def migration_name_fragment(self) -> str:
        return f"partition_{self.model_name.lower()}"
