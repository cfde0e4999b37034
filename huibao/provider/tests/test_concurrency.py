"""Two adjusters (or a retry racing the first call) assign the same work at once: one task
(the partial unique index on PostgreSQL; SQLite serialises its writers). Two providers' staff
accepting and declining the same task at once: one of them wins (row lock)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from huibao.core.errors import InvalidTransition
from huibao.provider import services
from huibao.provider.models import ServiceTask
from huibao.provider.tests import factories as f


def _race(*calls: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = []

    def run(call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results.append(call())
        except Exception as exc:  # the outcome is what the test compares
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_assignments_make_one_task() -> None:
    # given
    f.provider("深圳公估", regions=("4403",))
    # when
    results = _race(*[lambda: services.assign_task(f.subject("CLM-RACE"), "survey")] * 3)
    # then
    assert all(isinstance(r, ServiceTask) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert ServiceTask.objects.filter(subject_reference="CLM-RACE").count() == 1


@pytest.mark.django_db(transaction=True)
def test_accept_and_decline_at_once_one_wins() -> None:
    # given
    task = f.task(f.provider("深圳公估", regions=("4403",)))
    f.provider("广东公估")
    # when
    results = _race(
        lambda: services.accept(task, actor=None), lambda: services.decline(task, "人手不足", actor=None)
    )
    # then: exactly one succeeded, the other was refused as an invalid move
    refused = [r for r in results if isinstance(r, InvalidTransition)]
    assert len(refused) == 1, results
    task.refresh_from_db()
    assert task.status in ("accepted", "declined")
    assert ServiceTask.objects.filter(subject_reference=task.subject_reference).count() == (
        2 if task.status == "declined" else 1
    )
