"""Reads that may lag go to a streaming replica (`DATABASE_REPLICA_URL`; docs/deploy.md, "Double-11-size
peaks"). Only the catalog's models (product pages, plans, documents, search, comparisons), and
only outside a transaction: a read inside an atomic block is part of a write (it may lock, or
decide what to write) and stays on the primary, as does every write and every migration. Without
a replica configured the router answers nothing and Django uses the primary for everything."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"
# Apps whose reads a lag of a second cannot hurt: nothing is written from them.
REPLICA_APPS = frozenset({"catalog"})


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def in_transaction() -> bool:
    return connections[DEFAULT_DB_ALIAS].in_atomic_block


class ReplicaRouter:
    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        if not replica_configured() or model._meta.app_label not in REPLICA_APPS:
            return None
        if in_transaction():
            return None
        return REPLICA

    def db_for_write(self, model: type[Any], **hints: Any) -> str | None:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # Both aliases hold the same data: a row read from the replica may be related to one of
        # the primary.
        return True

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        return db == DEFAULT_DB_ALIAS
