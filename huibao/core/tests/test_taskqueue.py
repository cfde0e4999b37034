"""Several tasks enqueued at once: one insert on the database backend, the same rows as one
`enqueue` each would write."""

from __future__ import annotations

import pytest
from django.db import connection
from django.tasks import task
from django.tasks.signals import task_enqueued
from django.test.utils import CaptureQueriesContext

from huibao.core.taskqueue import enqueue_all

pytestmark = pytest.mark.django_db


@task
def _noted(value: int) -> int:
    return value


def test_several_tasks_are_one_insert_and_the_same_rows_as_one_by_one() -> None:
    from django_tasks_db.models import DBTaskResult

    seen: list[object] = []

    def listen(sender: object, task_result: object, **kwargs: object) -> None:
        seen.append(task_result)

    task_enqueued.connect(listen)
    try:
        # when two calls are enqueued together
        with CaptureQueriesContext(connection) as captured:
            enqueue_all([(_noted, (1,), {}), (_noted, (2,), {})])
    finally:
        task_enqueued.disconnect(listen)
    # then one INSERT wrote both, each announced
    inserts = [q for q in captured.captured_queries if q["sql"].lstrip().startswith("INSERT")]
    assert len(inserts) == 1 and len(captured.captured_queries) == 1
    assert len(seen) == 2
    together = list(
        DBTaskResult.objects.order_by("enqueued_at", "args_kwargs").values_list(
            "task_path", "args_kwargs", "run_after", "priority", "queue_name", "backend_name"
        )
    )
    # and they are what `enqueue` writes for the same calls
    DBTaskResult.objects.all().delete()
    _noted.enqueue(1)
    _noted.enqueue(2)
    one_by_one = list(
        DBTaskResult.objects.order_by("enqueued_at", "args_kwargs").values_list(
            "task_path", "args_kwargs", "run_after", "priority", "queue_name", "backend_name"
        )
    )
    assert sorted(together, key=str) == sorted(one_by_one, key=str)
    assert [row[1]["args"] for row in sorted(together, key=str)] == [[1], [2]]


def test_a_single_call_is_a_plain_enqueue() -> None:
    from django_tasks_db.models import DBTaskResult

    enqueue_all([(_noted, (3,), {})])
    assert list(DBTaskResult.objects.values_list("args_kwargs", flat=True)) == [{"args": [3], "kwargs": {}}]
