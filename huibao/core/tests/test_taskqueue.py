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


def test_the_enqueues_of_a_batched_block_are_one_insert_at_commit(django_capture_on_commit_callbacks) -> None:
    from django.db import transaction
    from django_tasks_db.models import DBTaskResult

    from huibao.core.taskqueue import batched, enqueue_on_commit

    # given three enqueues asked by two callers inside one batched block
    with django_capture_on_commit_callbacks() as hooks, transaction.atomic(), batched():
        enqueue_on_commit([(_noted, (1,), {})])
        enqueue_on_commit([(_noted, (2,), {}), (_noted, (3,), {})])
        # nothing is queued before the commit
        assert not DBTaskResult.objects.exists()
    # when the transaction commits: the hooks run
    with CaptureQueriesContext(connection) as captured:
        for hook in hooks:
            hook()
    # then one INSERT queued all three, in the order asked
    assert [q["sql"].lstrip()[:6] for q in captured.captured_queries] == ["INSERT"]
    rows = sorted(DBTaskResult.objects.values_list("args_kwargs", flat=True), key=lambda a: a["args"])
    assert [a["args"] for a in rows] == [[1], [2], [3]]


def test_an_enqueue_in_a_savepoint_rolled_back_is_not_queued(django_capture_on_commit_callbacks) -> None:
    from django.db import transaction
    from django_tasks_db.models import DBTaskResult

    from huibao.core.taskqueue import batched, enqueue_on_commit

    # given an enqueue whose savepoint is rolled back, between two that stay
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic(), batched():
        enqueue_on_commit([(_noted, (1,), {})])
        try:
            with transaction.atomic():
                enqueue_on_commit([(_noted, (2,), {})])
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        enqueue_on_commit([(_noted, (3,), {})])
    # then only the two that stayed are queued
    rows = sorted(DBTaskResult.objects.values_list("args_kwargs", flat=True), key=lambda a: a["args"])
    assert [a["args"] for a in rows] == [[1], [3]]


def test_outside_a_batched_block_each_enqueue_is_its_own_commit_hook(
    django_capture_on_commit_callbacks,
) -> None:
    from django.db import transaction
    from django_tasks_db.models import DBTaskResult

    from huibao.core.taskqueue import enqueue_on_commit

    with django_capture_on_commit_callbacks(execute=True) as hooks, transaction.atomic():
        enqueue_on_commit([(_noted, (1,), {})])
        enqueue_on_commit([(_noted, (2,), {})])
    assert len(hooks) == 2
    assert DBTaskResult.objects.count() == 2
