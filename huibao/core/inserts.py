"""Rows inserted unless their unique key is taken, each in ONE statement, with no savepoint.

`insert_unless_taken(objs)` sends `INSERT … ON CONFLICT DO NOTHING RETURNING <pk>` (SQLite:
`INSERT OR IGNORE … RETURNING`, 3.35+) for the objects: the rows that went in get their primary
key back and come out saved (`pk` set, `_state.adding` False, `_state.db` set); a row whose
unique key exists (also one a concurrent transaction has just committed: the insert waits for
it) is skipped, with no error in the caller's transaction — so neither a savepoint around an
`IntegrityError` nor a read back of what was written is needed. The fields' own `pre_save`
(`auto_now`, `auto_now_add`) and conversions (encryption, decimals) run as for `save()`; no save
signal is sent (as with `bulk_create`).

Which rows went in is told by a field unique to each object (`key`, e.g. a UUID public id made
in Python), since a skipped row returns nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, router
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery


def insert_unless_taken[M: Model](objs: Sequence[M], *, key: str | None = None) -> list[M]:
    """Inserts `objs` (one model) in one statement (one per batch the backend takes), skipping
    those whose unique key exists; the objects that went in, saved with their primary keys.
    `key`: a field whose value is unique to each object (needed for several objects; one object
    is matched by position)."""
    if not objs:
        return []
    model = type(objs[0])
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    if len(objs) > 1 and key is None:
        raise ValueError("insert_unless_taken(): several objects need a `key` field")
    db = router.db_for_write(model)
    fields = [
        f for f in meta.local_concrete_fields if not (f.primary_key and getattr(objs[0], f.attname) is None)
    ]
    returning = [pk] if key is None else [pk, meta.get_field(key)]
    # As many rows per statement as the backend takes (SQLite limits a statement's parameters).
    size = max(connections[db].ops.bulk_batch_size(fields, list(objs)), 1)
    rows: list[Any] = []
    for at in range(0, len(objs), size):
        query = InsertQuery(model, on_conflict=OnConflict.IGNORE)
        query.insert_values(fields, list(objs[at : at + size]))
        rows += query.get_compiler(using=db).execute_sql(returning)
    inserted: list[M] = []
    if key is None:
        if rows:
            setattr(objs[0], pk.attname, rows[0][0])
            inserted.append(objs[0])
    else:
        by_key = {getattr(o, key): o for o in objs}
        for row in rows:
            obj = by_key[row[1]]
            setattr(obj, pk.attname, row[0])
            inserted.append(obj)
    for obj in inserted:
        obj._state.adding = False
        obj._state.db = db
    return inserted
