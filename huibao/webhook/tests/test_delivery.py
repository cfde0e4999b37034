from __future__ import annotations

import datetime
import json

import pytest
import time_machine
from django.utils import timezone

from huibao.core.models import AuditEntry
from huibao.webhook import rules, selectors, sending, services, tasks
from huibao.webhook.models import WebhookAttempt, WebhookDelivery
from huibao.webhook.states import AttemptOutcome, DeliveryStatus

from .conftest import make_endpoint

pytestmark = pytest.mark.django_db


def _published(partner, payload=None, ref="P2026000001"):
    endpoint, secret = make_endpoint("CH001", partner.url, ["policy.issued"])
    event = services.publish("CH001", "policy.issued", payload or {"policy_number": ref}, ref=ref)
    assert event is not None
    return endpoint, secret, event, WebhookDelivery.objects.get(event=event)


def test_a_delivery_reaches_the_partner_signed_with_the_endpoint_secret(partner):
    # given
    _, secret, event, delivery = _published(
        partner, {"policy_number": "P1", "premium": "3.50", "holder": "李华"}
    )
    # when
    status = tasks.deliver_webhook.call(delivery.pk)
    # then
    assert status == DeliveryStatus.SUCCEEDED
    (got,) = partner.received
    assert got.headers["Huibao-Webhook-Id"] == event.webhook_id
    assert got.headers["Content-Type"].startswith("application/json")
    problem = rules.verify(
        secret,
        header=got.headers["Huibao-Signature"],
        webhook_id=got.headers["Huibao-Webhook-Id"],
        timestamp=got.headers["Huibao-Timestamp"],
        body=got.body,
        now=int(timezone.now().timestamp()),
    )
    assert problem is None
    assert rules.verify("whsec_wrong", header=got.headers["Huibao-Signature"], webhook_id=event.webhook_id,
                        timestamp=got.headers["Huibao-Timestamp"], body=got.body,
                        now=int(timezone.now().timestamp())) == "bad_signature"  # fmt: skip
    document = json.loads(got.body)
    assert document["type"] == "policy.issued" and document["ref"] == "P2026000001"
    assert document["data"] == {"policy_number": "P1", "premium": "3.50", "holder": "李华"}
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.delivered_at is not None and delivery.last_status_code == 200
    (attempt,) = selectors.attempts_of(delivery)
    assert attempt.outcome == AttemptOutcome.SUCCEEDED and attempt.status_code == 200
    # a second run of the job does not send it again
    assert tasks.deliver_webhook.call(delivery.pk) == DeliveryStatus.SUCCEEDED
    assert len(partner.received) == 1


def test_a_failing_partner_is_retried_with_back_off_then_the_delivery_is_dead(partner):
    # given a partner that answers 500 to everything
    partner.answers = [500] * 20
    start = datetime.datetime(2026, 12, 4, 9, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False) as clock:
        _, _, _, delivery = _published(partner)
        # when the first attempt fails
        assert tasks.deliver_webhook.call(delivery.pk) == DeliveryStatus.FAILED
        delivery.refresh_from_db()
        # then it is due again after about a minute, not before
        wait = delivery.next_attempt_at - timezone.now()
        assert datetime.timedelta(seconds=54) <= wait <= datetime.timedelta(seconds=66)
        assert delivery.last_status_code == 500 and delivery.last_error == "http 500"
        assert len(delivery.last_response) <= rules.EXCERPT_MAX and delivery.last_response.endswith("…")
        assert tasks.deliver_due_webhooks.call() == {"requeued": 0, "succeeded": 0, "skipped": 0}
        assert len(partner.received) == 1
        # each later attempt waits longer, by the schedule
        for attempts, nominal in enumerate(rules.RETRY_SCHEDULE[1:], start=2):
            clock.move_to(delivery.next_attempt_at)
            tasks.deliver_due_webhooks.call()
            delivery.refresh_from_db()
            assert delivery.attempts == attempts and len(partner.received) == attempts
            assert delivery.status == DeliveryStatus.FAILED
            wait = delivery.next_attempt_at - timezone.now()
            assert nominal * 0.9 <= wait <= nominal * 1.1
        # the last attempt fails: dead, nothing due any more
        clock.move_to(delivery.next_attempt_at)
        tasks.deliver_due_webhooks.call()
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.DEAD and delivery.attempts == rules.MAX_ATTEMPTS
        assert delivery.next_attempt_at is None
        clock.shift(datetime.timedelta(days=3))
        tasks.deliver_due_webhooks.call()
    assert len(partner.received) == rules.MAX_ATTEMPTS
    assert WebhookAttempt.objects.filter(delivery=delivery, outcome=AttemptOutcome.FAILED).count() == 7
    assert AuditEntry.objects.filter(
        action="webhook.delivery_dead", object_id=str(delivery.public_id)
    ).exists()


def test_a_partner_slower_than_the_timeout_is_a_failed_attempt_and_recovers(partner, settings):
    settings.HUIBAO_WEBHOOK_TIMEOUT = 0.3
    partner.delay = 1.0
    _, _, _, delivery = _published(partner)
    assert tasks.deliver_webhook.call(delivery.pk) == DeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert delivery.last_error == "timeout" and delivery.last_status_code is None
    # the partner is fast again; once the back-off is over the sweep delivers it
    partner.delay = 0.0
    with time_machine.travel(delivery.next_attempt_at + datetime.timedelta(seconds=1), tick=False):
        assert tasks.deliver_due_webhooks.call()["succeeded"] == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2


def test_a_refused_connection_is_a_failed_attempt(partner):
    endpoint, _ = make_endpoint("CH001", "http://127.0.0.1:1/nothing-listens", ["policy.issued"])
    services.publish("CH001", "policy.issued", {"n": 1}, ref="P1")
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert sending.send(delivery.pk) == DeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("connection")


def test_a_redirect_is_not_followed(partner):
    partner.answers = [302]
    _, _, _, delivery = _published(partner)
    assert sending.send(delivery.pk) == DeliveryStatus.FAILED
    assert len(partner.received) == 1


def test_a_worker_killed_mid_attempt_loses_nothing(partner):
    # given a delivery claimed by a worker that then died (no outcome written)
    _, _, _, delivery = _published(partner)
    assert sending.claim(delivery.pk) is not None
    assert tasks.deliver_due_webhooks.call() == {"requeued": 0, "succeeded": 0, "skipped": 0}
    # when the sweep runs after the sending timeout
    with time_machine.travel(timezone.now() + rules.SENDING_TIMEOUT + datetime.timedelta(seconds=5)):
        result = tasks.deliver_due_webhooks.call()
    # then the delivery is handed back and sent
    assert result == {"requeued": 1, "succeeded": 1, "skipped": 0}
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and len(partner.received) == 1


def test_a_late_worker_does_not_overwrite_a_newer_attempt(partner):
    _, _, _, delivery = _published(partner)
    stale = sending.claim(delivery.pk)
    assert stale is not None
    with time_machine.travel(timezone.now() + rules.SENDING_TIMEOUT + datetime.timedelta(seconds=5)):
        tasks.deliver_due_webhooks.call()
    row = WebhookDelivery.objects.select_related("event", "endpoint").get(pk=delivery.pk)
    failed = sending._Result(AttemptOutcome.FAILED, 500, "", "http 500")
    now = timezone.now()
    assert (
        sending._finish(stale, row, failed, started=now, timestamp=0, duration_ms=1)
        == DeliveryStatus.SUCCEEDED
    )
    row.refresh_from_db()
    assert row.status == DeliveryStatus.SUCCEEDED
    assert WebhookAttempt.objects.filter(delivery=row).count() == 2  # both attempts are in the log


def test_a_deactivated_endpoint_gets_nothing_more(partner):
    endpoint, _, _, delivery = _published(partner)
    services.deactivate_endpoint(endpoint.public_id, actor="test")
    assert sending.send(delivery.pk) == DeliveryStatus.DEAD
    assert partner.received == []


def test_secrets_and_signatures_never_reach_the_logs(partner, every_record):
    partner.answers = [500]
    endpoint, secret, _, delivery = _published(partner, {"holder": "李华"})
    sending.send(delivery.pk)
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=2)):
        sending.send(delivery.pk)
    _, rotated = services.rotate_secret(endpoint.public_id, actor="test")
    signatures = [r.headers["Huibao-Signature"] for r in partner.received]
    assert len(signatures) == 2
    for text in (secret, rotated, *signatures, "李华"):
        assert every_record.holding(text) == []
        assert not AuditEntry.objects.filter(after__icontains=text).exists()


def test_the_sweep_leaves_a_failing_endpoints_other_deliveries_for_its_next_run(partner):
    # given three due deliveries to a partner that is down, and one to a partner that is up
    down, _ = make_endpoint("CH001", "http://127.0.0.1:1/down", ["policy.issued"])
    make_endpoint("CH002", partner.url, ["policy.issued"])
    for n in range(3):
        services.publish("CH001", "policy.issued", {"n": n}, ref=f"P{n}")
    services.publish("CH002", "policy.issued", {"n": 9}, ref="P9")
    # when the sweep runs
    result = tasks.deliver_due_webhooks.call()
    # then one attempt went to the failing endpoint, the others wait (still due), the healthy one is delivered
    assert result == {"requeued": 0, "succeeded": 1, "skipped": 2}
    rows = WebhookDelivery.objects.filter(endpoint=down)
    assert sorted(rows.values_list("attempts", flat=True)) == [0, 0, 1]
    assert rows.filter(status=DeliveryStatus.PENDING).count() == 2
