"""Migration policy/0015_cancellation_delivery: each confirmed cancellation's own insurer notice
(退保信息回传 on the cancellation's columns) becomes a delivery of kind "cancellation" — taken,
failed and due, failed for good — and the reverse puts them back."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from huibao.payment.tests.factories import client_transport
from huibao.policy import cancellation as svc
from huibao.policy import delivery, services
from huibao.policy.models import InsurerDelivery
from huibao.policy.states import DeliveryKind, DeliveryStatus
from huibao.policy.tests import cancel_factories as cf
from huibao.policy.tests import factories as f
from huibao.sandbox import notifications
from huibao.sandbox import tasks as sandbox_tasks

BEFORE = [("policy", "0014_partition_policystatuschange")]
TZ = cf.TZ


def _executor() -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    return executor


def _migrate(targets: list[tuple[str, str]]) -> None:
    _executor().migrate(targets)


def _leaves() -> list[tuple[str, str]]:
    return _executor().loader.graph.leaf_nodes()


def _cancelled(user, index: int):
    with cf.at(datetime.date(2026, 3, 1)):
        p = cf.one_policy(user)
        own = p.deliveries.get(kind=DeliveryKind.POLICY)
        delivery.deliver(own.pk)
        own.refresh_from_db()
        sandbox_tasks.deliver_notification.call("insurer", own.insurer_ref)
    with cf.at(datetime.date(2026, 3, 5), hour=9 + index):  # an hour apart: one SMS code each
        services.update_policy_statuses()
        c = svc.request_cancellation(p, user=user, reason="no_longer_needed")
        c = svc.confirm(c, user=user, code=cf.sms_code())
    return c


@pytest.mark.django_db(transaction=True)
def test_cancellations_notices_become_deliveries(monkeypatch) -> None:
    monkeypatch.setattr(notifications, "http_post", client_transport(Client()))
    # given three confirmed cancellations
    taken, due, dead = (_cancelled(f.customer(), i) for i in range(3))
    told = datetime.datetime(2026, 3, 5, 12, tzinfo=TZ)
    again = datetime.datetime(2026, 3, 5, 13, tzinfo=TZ)
    try:
        # when the database is back before 0015, their notices on the cancellations' own columns …
        _migrate(BEFORE)
        old = _executor().loader.project_state(BEFORE).apps.get_model("policy", "Cancellation")
        assert old.objects.filter(insurer_connector="sandbox").count() == 3  # the reverse kept them
        old.objects.filter(pk=taken.pk).update(
            insurer_attempts=1, insurer_ref="SBCTAKEN", insurer_notified_at=told, insurer_next_attempt_at=None
        )
        old.objects.filter(pk=due.pk).update(
            insurer_attempts=2, insurer_last_error="timeout: sandbox", insurer_next_attempt_at=again
        )
        old.objects.filter(pk=dead.pk).update(
            insurer_attempts=8, insurer_last_error="insurer_down: down", insurer_next_attempt_at=None
        )
        # … and forward again
        _migrate(_leaves())
    finally:
        _migrate(_leaves())

    # then each is a delivery of kind "cancellation" in the state its notice was in
    rows = {d.cancellation_id: d for d in InsurerDelivery.objects.filter(kind=DeliveryKind.CANCELLATION)}
    assert set(rows) == {taken.pk, due.pk, dead.pk}
    assert (rows[taken.pk].status, rows[taken.pk].insurer_ref, rows[taken.pk].acknowledged_at) == (
        DeliveryStatus.ACKNOWLEDGED,
        "SBCTAKEN",
        told,
    )
    assert (rows[due.pk].status, rows[due.pk].attempts, rows[due.pk].next_attempt_at) == (
        DeliveryStatus.FAILED,
        2,
        again,
    )
    assert rows[due.pk].last_error == "timeout: sandbox" and rows[due.pk].connector == "sandbox"
    assert (rows[dead.pk].status, rows[dead.pk].attempts) == (DeliveryStatus.GAVE_UP, 8)
    # and the one due is sent by the deliveries' sweep like any other
    assert rows[due.pk].pk in delivery.due_deliveries(again)
    assert delivery.deliver(rows[due.pk].pk, now=again) == DeliveryStatus.SENT
