"""The send task through the Redis-backed backend (django-tasks-rq) and a real RQ worker, against
the Redis at REDIS_URL (default redis://127.0.0.1:6379, database 15 for the tests)."""

from __future__ import annotations

import os

import pytest
from django.tasks import task_backends

from huibao.notification import services
from huibao.notification.models import OutboxMessage
from huibao.notification.states import OutboxStatus
from huibao.notification.tests.conftest import ISSUED

pytestmark = pytest.mark.django_db(transaction=True)
REDIS = os.environ.get("HUIBAO_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def rq_backend(settings):
    settings.RQ_QUEUES = {"default": {"URL": REDIS}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    import django_rq
    from django_tasks_rq.backend import Job

    queue = django_rq.get_queue("default", job_class=Job)
    queue.connection.flushdb()
    yield queue
    queue.connection.flushdb()


def test_the_send_task_runs_through_rq(rq_backend, customer, sms_outbox, mailoutbox):
    from rq import SimpleWorker

    # given a committed notify: its sends are enqueued in Redis on commit
    services.notify(user=customer, template="policy.issued", context=ISSUED, dedup_key="rq:1")
    assert type(task_backends["default"]).__name__ == "RQBackend"
    assert rq_backend.count == 2
    # when an RQ worker drains the queue (in this process, so it shares the test's settings)
    from django_tasks_rq.backend import Job

    SimpleWorker([rq_backend], connection=rq_backend.connection, job_class=Job).work(burst=True)
    # then both are sent, once
    assert rq_backend.count == 0
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}
    assert len(mailoutbox) == 1 and len(sms_outbox.outbox) == 1
