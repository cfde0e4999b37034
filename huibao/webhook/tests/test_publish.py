from __future__ import annotations

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from huibao.webhook import selectors, services
from huibao.webhook.models import WebhookDelivery, WebhookEvent
from huibao.webhook.states import DeliveryStatus

from .conftest import make_endpoint

pytestmark = pytest.mark.django_db


def test_publish_creates_deliveries_only_for_active_endpoints_that_want_the_type(
    django_capture_on_commit_callbacks,
):
    # given
    wants, _ = make_endpoint("CH001", "http://127.0.0.1:9/a", ["policy.issued", "claim.paid"])
    make_endpoint("CH001", "http://127.0.0.1:9/b", ["claim.paid"])
    off, _ = make_endpoint("CH001", "http://127.0.0.1:9/c", ["policy.issued"])
    services.deactivate_endpoint(off.public_id, actor="test")
    make_endpoint("CH002", "http://127.0.0.1:9/d", ["policy.issued"])
    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        event = services.publish("CH001", "policy.issued", {"policy_number": "P1"}, ref="P1")
    # then
    assert event is not None and event.payload == {"policy_number": "P1"}
    deliveries = list(WebhookDelivery.objects.filter(event=event))
    assert [d.endpoint_id for d in deliveries] == [wants.pk]
    assert deliveries[0].status == DeliveryStatus.PENDING
    assert len(callbacks) == 1
    queued = list(DBTaskResult.objects.filter(task_path="huibao.webhook.tasks.deliver_webhook"))
    assert [row.args_kwargs["args"] for row in queued] == [[deliveries[0].pk]]
    assert list(selectors.deliveries_for("CH001")) == deliveries
    assert list(selectors.deliveries_for("CH002")) == []


def test_publish_with_no_endpoint_stores_nothing():
    make_endpoint("CH001", types=["claim.paid"])
    assert services.publish("CH001", "policy.issued", {"n": 1}, ref="P1") is None
    assert services.publish("NOBODY", "policy.issued", {"n": 1}, ref="P1") is None
    assert not WebhookEvent.objects.exists()


def test_a_republished_ref_is_not_duplicated():
    make_endpoint("CH001")
    first = services.publish("CH001", "policy.issued", {"n": 1}, ref="P1")
    again = services.publish("CH001", "policy.issued", {"n": 2}, ref="P1")
    assert first is not None and again is None
    assert WebhookEvent.objects.count() == 1 and WebhookDelivery.objects.count() == 1
    other_type = services.publish("CH001", "policy.issued", {"n": 3}, ref="P2")
    assert other_type is not None and WebhookDelivery.objects.count() == 2


def test_publish_rolls_back_with_the_callers_transaction(django_capture_on_commit_callbacks):
    make_endpoint("CH001")
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.publish("CH001", "policy.issued", {"n": 1}, ref="P1")
        raise RuntimeError("the business change failed")
    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()
    assert callbacks == []


def test_publish_refuses_an_unknown_type():
    with pytest.raises(ValueError):
        services.publish("CH001", "policy.exploded", {}, ref="P1")


def test_payload_and_secret_are_encrypted_at_rest():
    from django.db import connection

    endpoint, secret = make_endpoint("CH001")
    services.publish("CH001", "policy.issued", {"holder": "李华"}, ref="P1")
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM webhook_webhookendpoint WHERE id = %s", [endpoint.pk])
        (stored_secret,) = cursor.fetchone()
        cursor.execute("SELECT payload_json FROM webhook_webhookevent")
        (stored_payload,) = cursor.fetchone()
    assert secret not in stored_secret and "李华" not in stored_payload


def test_the_partner_view_of_a_delivery_holds_no_secret():
    from huibao.webhook import presenters

    endpoint, secret = make_endpoint("CH001")
    services.publish("CH001", "policy.issued", {"n": 1}, ref="P1")
    (row,) = selectors.deliveries_for("CH001")
    view = presenters.delivery_view(row)
    assert view["status"] == "pending" and view["ref"] == "P1" and view["event_type"] == "policy.issued"
    assert secret not in str(view) and str(endpoint.pk) != view["id"]
    assert selectors.delivery_for("CH001", view["id"]) == row
    with pytest.raises(Exception) as missing:
        selectors.delivery_for("CH002", view["id"])
    assert missing.value.http_status == 404


def test_publish_costs_a_fixed_number_of_queries(django_assert_max_num_queries):
    for n in range(3):
        make_endpoint("CH001", f"http://127.0.0.1:9/{n}")
    # endpoints, the ref check, savepoint + insert + release, one insert for all deliveries
    with django_assert_max_num_queries(6):
        services.publish("CH001", "policy.issued", {"n": 1}, ref="P1")
    assert WebhookDelivery.objects.count() == 3
