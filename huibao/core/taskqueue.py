"""Enqueue several background tasks at once: on the database backend (django_tasks_db) with one
INSERT for all of them, elsewhere one `enqueue` each.

For a use-case that queues several tasks after the same commit (an issued policy's e-policy and
its insurer delivery): one round trip instead of one per task. What is queued is the same as
`task.enqueue(*args, **kwargs)` would queue, in the order given, and the `task_enqueued` signal is
sent for each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
