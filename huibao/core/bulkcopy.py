"""Many rows of one model written at once: PostgreSQL `COPY` where it is available, Django's
`bulk_create` elsewhere (SQLite) — the same rows either way.

`bulk_create` on PostgreSQL builds one `INSERT … SELECT * FROM UNNEST(…)` whose parameters
psycopg adapts array by array; for a thousand wide rows that costs more than the server's
write. `copy_create` instead:

1. reserves the primary keys of the rows that have none in ONE statement
   (`nextval` of the table's sequence over `generate_series`), so the caller has every id
   before anything is written (the foreign keys of the next table point at them);
2. computes each column by the field itself (`pre_save` for `auto_now_add`, then
   `get_db_prep_save`: encryption of `EncryptedTextField`, decimals, times), exactly what
   `bulk_create` sends;
3. streams the rows with psycopg's `cursor.copy(...).write_row`, on the connection of the
   caller's transaction (it must run inside one: rows are visible at its commit, as with
   `bulk_create`).

Partitioned tables (`core.partitioning`) take `COPY` into their parent and route each row.
The objects come back saved (`pk` set, `_state.adding` False), as `bulk_create` leaves them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from django.db import connections, router
from django.db.models import Model


def reserve_ids(model: type[Model], count: int, *, using: str | None = None) -> list[int]:
    """`count` new primary keys of `model`'s table, from its sequence, in one statement."""
    if count <= 0:
        return []
    alias = using or router.db_for_write(model)
    meta = model._meta
    assert meta.pk is not None
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, count],
        )
        return [int(r[0]) for r in cursor.fetchall()]


def copy_create[M: Model](model: type[M], objs: Sequence[M], *, using: str | None = None) -> list[M]:
    """Inserts `objs` (new rows of `model`) by `COPY` on PostgreSQL, by `bulk_create` elsewhere.
    Answers `objs`, saved."""
    if not objs:
        return list(objs)
    alias = using or router.db_for_write(model)
    conn = connections[alias]
    if conn.vendor != "postgresql":
        return model.objects.using(alias).bulk_create(objs)
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    missing = [o for o in objs if o.pk is None]
    for obj, new_id in zip(missing, reserve_ids(model, len(missing), using=alias), strict=True):
        setattr(obj, pk.attname, new_id)
    fields = list(meta.concrete_fields)
    quote = conn.ops.quote_name
    sql = f"COPY {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) FROM STDIN"
    conn.ensure_connection()
    raw = conn.connection
    assert raw is not None
    started = time.monotonic()
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        write = copy.write_row
        for obj in objs:
            write([f.get_db_prep_save(f.pre_save(obj, True), conn) for f in fields])
    if conn.queries_logged:
        # The COPY bypasses Django's cursor: logged by hand, so query ceilings (tests'
        # `CaptureQueriesContext`) and debug timings still see every statement.
        conn.queries_log.append(
            {"sql": f"{sql} -- {len(objs)} rows", "time": f"{time.monotonic() - started:.3f}"}
        )
    for obj in objs:
        obj._state.adding = False
        obj._state.db = alias
    return list(objs)
