"""Enqueue several background tasks at once: on the database backend (django_tasks_db) with one
INSERT for all of them, elsewhere one `enqueue` each.

For a use-case that queues several tasks after the same commit (an issued policy's e-policy and
its insurer delivery): one round trip instead of one per task. What is queued is the same as
`task.enqueue(*args, **kwargs)` would queue, in the order given, and the `task_enqueued` signal is
sent for each.

`enqueue_on_commit(calls)` queues them when the transaction commits; inside `batched()` (a
use-case whose one transaction asks several apps for tasks: the fast track's payout submission
and its notices' sends) every such call of the block is queued by one `enqueue_all`.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

from django.db import transaction
from django.tasks import Task, task_backends
from django.tasks.signals import task_enqueued
from django.utils.json import normalize_json

Call = tuple[Task[Any, Any], tuple[Any, ...], dict[str, Any]]


def enqueue_all(calls: Sequence[Call]) -> None:
    """Enqueues each `(task, args, kwargs)` of `calls`, in order."""
    from django_tasks_db import DatabaseBackend
    from django_tasks_db.models import DBTaskResult, get_date_max

    backends = {task.backend for task, _, _ in calls}
    backend = task_backends[next(iter(backends))] if len(backends) == 1 else None
    if not isinstance(backend, DatabaseBackend) or len(calls) < 2:
        for task, args, kwargs in calls:
            task.enqueue(*args, **kwargs)
        return
    rows: list[DBTaskResult] = []
    for task, args, kwargs in calls:
        backend.validate_task(task)
        rows.append(
            DBTaskResult(
                id=backend._get_id(),
                args_kwargs=normalize_json({"args": args, "kwargs": kwargs}),
                priority=task.priority,
                task_path=task.module_path,
                queue_name=task.queue_name,
                # What the backend's `pre_save` handler sets, which `bulk_create` does not send.
                run_after=task.run_after if task.run_after is not None else get_date_max(),
                backend_name=backend.alias,
            )
        )
    DBTaskResult.objects.bulk_create(rows)
    for row in rows:
        task_enqueued.send(type(backend), task_result=row.task_result)


# --- one enqueue for a whole transaction's tasks -------------------------------------------------

# The enqueues registered inside `batched()` (None outside it): each with the no-op commit hook
# that tells whether it survived (a savepoint rolled back drops its hooks).
_pending: contextvars.ContextVar[list[tuple[_Marker, Sequence[Call]]] | None] = contextvars.ContextVar(
    "taskqueue_pending", default=None
)


class _Marker:
    """A commit hook that does nothing: while it is in the connection's hooks, the enqueue it
    stands for belongs to the transaction (not to a savepoint rolled back since)."""

    __slots__ = ()

    def __call__(self) -> None:
        return None


def enqueue_on_commit(calls: Sequence[Call], *, using: str | None = None) -> None:
    """`enqueue_all(calls)` when the caller's transaction commits (at once outside one); inside
    `batched()`, joined with every other enqueue of the block into ONE `enqueue_all` (one INSERT
    on the database backend) — less what a savepoint rolled back since took back, as
    `transaction.on_commit` would."""
    pending = _pending.get()
    if pending is None or not transaction.get_connection(using).in_atomic_block:
        transaction.on_commit(partial(enqueue_all, list(calls)), using=using)
        return
    marker = _Marker()
    transaction.on_commit(marker, using=using)
    pending.append((marker, calls))


@contextlib.contextmanager
def batched(*, using: str | None = None) -> Iterator[None]:
    """Inside a transaction: the block's `enqueue_on_commit` calls become one commit hook, which
    enqueues them all in one `enqueue_all`, in the order they were asked. Nested blocks join the
    outermost. If the block raises, nothing is registered (the transaction rolls back)."""
    if _pending.get() is not None:
        yield
        return
    pending: list[tuple[_Marker, Sequence[Call]]] = []
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
    if not pending:
        return
    connection = transaction.get_connection(using)
    alive = {id(hook) for _sids, hook, _robust in connection.run_on_commit}
    calls = [call for marker, asked in pending if id(marker) in alive for call in asked]
    if calls:
        transaction.on_commit(partial(enqueue_all, calls), using=using)
