"""Telling insurers about policies: sent, acknowledged by a signed asynchronous callback, failures
retried with backoff, giving up, manual retry; forged, tampered, stale and replayed
acknowledgements change nothing."""

from __future__ import annotations

import datetime
import json

import pytest
from django.test import Client
from django.utils import timezone

from huibao.core.models import AuditEntry
from huibao.policy import delivery, rules, tasks
from huibao.policy.models import InsurerAckReceipt, InsurerDelivery
from huibao.policy.states import DeliveryStatus
from huibao.policy.tests import factories as f
from huibao.sandbox import insurer as sandbox
from huibao.sandbox import notifications
from huibao.sandbox import tasks as sandbox_tasks
from huibao.sandbox.models import SandboxInsurerPolicy

pytestmark = pytest.mark.django_db

ACK_PATH = "/policy/insurer/ack/sandbox/"


@pytest.fixture
def policy():
    return f.simple_issued(insurer_code="zhongan")


@pytest.fixture
def callbacks_via_client(monkeypatch):
    """The sandbox insurer's callbacks reach the platform through the test client."""
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))


def row(policy) -> InsurerDelivery:
    return InsurerDelivery.objects.get(policy=policy)


def test_sent_then_acknowledged_by_the_insurers_signed_callback(policy, callbacks_via_client) -> None:
    # when: the delivery task runs
    status = tasks.deliver_policy.call(row(policy).pk)
    # then: the insurer booked it and owes an acknowledgement
    d = row(policy)
    assert status == DeliveryStatus.SENT and d.attempts == 1 and d.insurer_ref.startswith("SBI")
    assert d.next_attempt_at is not None and d.next_attempt_at > timezone.now()  # ack deadline
    received = sandbox.received_payload(d.insurer_ref)
    assert received["policy_number"] == policy.number
    assert received["schedule"]["insured"]["name"] == f.INSURED_NAME
    # when: the insurer's callback task runs (asynchronously, later)
    assert sandbox_tasks.deliver_notification.call("insurer", d.insurer_ref)
    # then
    d.refresh_from_db()
    assert d.status == DeliveryStatus.ACKNOWLEDGED and d.acknowledged_at is not None
    assert d.next_attempt_at is None
    assert SandboxInsurerPolicy.objects.get(ref=d.insurer_ref).acknowledged_at is not None
    actions = list(AuditEntry.objects.filter(object_id=policy.number).values_list("action", flat=True))
    assert "policy.delivery_sent" in actions and "policy.delivery_acknowledged" in actions


def test_failure_is_retried_after_a_backoff(policy) -> None:
    # given: the insurer times out once
    sandbox.force_failures(1)
    now = timezone.now()
    # when
    assert delivery.deliver(row(policy).pk, now=now) == DeliveryStatus.FAILED
    # then
    d = row(policy)
    assert d.attempts == 1 and d.next_attempt_at == now + rules.retry_delay(1)
    assert d.last_error.startswith("timeout")
    # not due yet: the sweep leaves it alone
    assert delivery.due_deliveries(now) == []
    assert delivery.deliver(d.pk, now=now) == DeliveryStatus.FAILED and row(policy).attempts == 1
    # due: sent
    later = now + rules.retry_delay(1)
    assert delivery.due_deliveries(later) == [d.pk]
    assert delivery.deliver(d.pk, now=later) == DeliveryStatus.SENT
    d.refresh_from_db()
    assert d.attempts == 2 and d.last_error == ""


def test_failed_delivery_task_defers_its_next_attempt(policy) -> None:
    from django_tasks_db.models import DBTaskResult

    sandbox.force_failures(1)
    assert tasks.deliver_policy.call(row(policy).pk) == DeliveryStatus.FAILED
    deferred = DBTaskResult.objects.get(task_path="huibao.policy.tasks.deliver_policy")
    assert deferred.run_after == row(policy).next_attempt_at
    assert json.loads(json.dumps(deferred.args_kwargs))["args"] == [row(policy).pk]


def test_insurer_down_until_gave_up_then_manual_retry(policy, settings) -> None:
    settings.HUIBAO_INSURER_DELIVERY_MAX_ATTEMPTS = 3
    sandbox.mark_down(policy.insurer.code, "维护中")
    now = timezone.now()
    statuses = []
    for _ in range(3):
        now = row(policy).next_attempt_at or now
        statuses.append(delivery.deliver(row(policy).pk, now=now))
    assert statuses == [DeliveryStatus.FAILED, DeliveryStatus.FAILED, DeliveryStatus.GAVE_UP]
    d = row(policy)
    assert d.attempts == 3 and d.next_attempt_at is None and "insurer_down" in d.last_error
    assert delivery.due_deliveries(now + datetime.timedelta(days=30)) == []  # never picked again
    # the insurer is back; an operator retries by hand
    sandbox.mark_up(policy.insurer.code)
    staff = f.staff("op", ["change_insurerdelivery", "view_insurerdelivery"])
    assert delivery.retry_now(d, actor=staff) == DeliveryStatus.SENT
    assert AuditEntry.objects.filter(action="policy.delivery_retry_requested", actor_label="op").exists()


def test_unacknowledged_policy_is_sent_again_and_the_insurer_deduplicates(policy) -> None:
    now = timezone.now()
    assert delivery.deliver(row(policy).pk, now=now) == DeliveryStatus.SENT
    ref = row(policy).insurer_ref
    # the acknowledgement never came
    later = now + rules.ACK_TIMEOUT
    assert delivery.due_deliveries(later) == [row(policy).pk]
    assert delivery.deliver(row(policy).pk, now=later) == DeliveryStatus.SENT
    assert row(policy).insurer_ref == ref and row(policy).attempts == 2
    assert SandboxInsurerPolicy.objects.filter(policy_number=policy.number).count() == 1


def test_never_acknowledged_delivery_gives_up_instead_of_resending_forever(policy, settings) -> None:
    settings.HUIBAO_INSURER_DELIVERY_MAX_ATTEMPTS = 2
    now = timezone.now()
    assert delivery.deliver(row(policy).pk, now=now) == DeliveryStatus.SENT
    now += rules.ACK_TIMEOUT
    assert delivery.deliver(row(policy).pk, now=now) == DeliveryStatus.SENT
    # the acknowledgement still has not come after the last allowed send
    now += rules.ACK_TIMEOUT
    assert delivery.due_deliveries(now) == [row(policy).pk]
    assert delivery.deliver(row(policy).pk, now=now) == DeliveryStatus.GAVE_UP
    d = row(policy)
    assert d.attempts == 2 and d.next_attempt_at is None and d.last_error.startswith("no_ack")
    assert delivery.due_deliveries(now + datetime.timedelta(days=30)) == []
    assert AuditEntry.objects.filter(action="policy.delivery_gave_up", object_id=policy.number).exists()
    # an operator may still retry it by hand
    staff = f.staff("op2", ["change_insurerdelivery", "view_insurerdelivery"])
    assert delivery.retry_now(d, actor=staff) == DeliveryStatus.SENT


def test_random_failure_rate_is_read_from_settings(policy, settings) -> None:
    settings.HUIBAO_INSURER_SANDBOX_FAILURE_RATE = 1.0
    assert delivery.deliver(row(policy).pk) == DeliveryStatus.FAILED
    settings.HUIBAO_INSURER_SANDBOX_FAILURE_RATE = 0.0
    assert delivery.deliver(row(policy).pk, force=True) == DeliveryStatus.SENT


# --- acknowledgements ---------------------------------------------------------------------------------


def sent(policy) -> InsurerDelivery:
    delivery.deliver(row(policy).pk)
    return row(policy)


def ack_body(d: InsurerDelivery, **changes) -> dict:
    return {
        "ref": d.insurer_ref,
        "policy_number": d.policy.number,
        "insurer_code": "zhongan",
        "status": "accepted",
    } | changes


def test_forged_ack_is_rejected_and_changes_nothing(policy, client, settings) -> None:
    d = sent(policy)
    headers, body = f.signed_ack(ack_body(d))
    settings.INSURER_SANDBOX_SECRET = "not-the-shared-secret"  # the platform checks with the real one …
    forged_headers, _ = f.signed_ack(ack_body(d), notify_id=headers[sandbox.HEADER_NOTIFY_ID])
    settings.INSURER_SANDBOX_SECRET = ""
    response = client.post(ACK_PATH, body, content_type="application/json", headers=_h(forged_headers))
    assert response.status_code == 400
    d.refresh_from_db()
    assert d.status == DeliveryStatus.SENT and d.acknowledged_at is None
    receipt = InsurerAckReceipt.objects.get()
    assert not receipt.signature_ok and receipt.outcome == "bad_signature"
    # … and the genuine one with the same id still goes through afterwards
    assert (
        client.post(ACK_PATH, body, content_type="application/json", headers=_h(headers)).status_code == 200
    )
    d.refresh_from_db()
    assert d.status == DeliveryStatus.ACKNOWLEDGED


def test_tampered_body_is_rejected(policy, client) -> None:
    d = sent(policy)
    headers, body = f.signed_ack(ack_body(d))
    tampered = body.replace(b"accepted", b"rejected")
    assert (
        client.post(ACK_PATH, tampered, content_type="application/json", headers=_h(headers)).status_code
        == 400
    )
    assert row(policy).status == DeliveryStatus.SENT


def test_replayed_ack_changes_nothing(policy, client) -> None:
    d = sent(policy)
    headers, body = f.signed_ack(ack_body(d))
    assert (
        client.post(ACK_PATH, body, content_type="application/json", headers=_h(headers)).status_code == 200
    )
    first = row(policy)
    entries = AuditEntry.objects.count()
    # the same message again (a retry, or someone replaying it)
    outcome = delivery.handle_ack("sandbox", headers, body)
    assert outcome.code == "duplicate"
    again = row(policy)
    assert (again.status, again.acknowledged_at, again.updated_at) == (
        first.status,
        first.acknowledged_at,
        first.updated_at,
    )
    assert AuditEntry.objects.count() == entries


def test_stale_ack_is_rejected(policy) -> None:
    d = sent(policy)
    headers, body = f.signed_ack(ack_body(d), now=timezone.now() - datetime.timedelta(minutes=10))
    assert delivery.handle_ack("sandbox", headers, body).code == "stale"
    assert row(policy).status == DeliveryStatus.SENT


def test_ack_for_another_reference_or_unknown_policy_is_rejected(policy) -> None:
    d = sent(policy)
    headers, body = f.signed_ack(ack_body(d, ref="SBIFAKE"))
    assert delivery.handle_ack("sandbox", headers, body).code == "ref_mismatch"
    headers, body = f.signed_ack(ack_body(d, policy_number="NOPE202600000001"))
    assert delivery.handle_ack("sandbox", headers, body).code == "unknown_policy"
    assert row(policy).status == DeliveryStatus.SENT
    assert not InsurerAckReceipt.objects.filter(signature_ok=True).exists()  # rolled back: may come again


def test_insurer_rejection_needs_a_person(policy) -> None:
    d = sent(policy)
    headers, body = f.signed_ack(ack_body(d, status="rejected", reason="证件号码校验失败"))
    assert delivery.handle_ack("sandbox", headers, body).code == "rejected_by_insurer"
    d.refresh_from_db()
    assert d.status == DeliveryStatus.GAVE_UP and "证件号码校验失败" in d.last_error


def test_unknown_connector_is_rejected(client) -> None:
    response = client.post("/policy/insurer/ack/nobody/", b"{}", content_type="application/json")
    assert response.status_code == 400
    assert InsurerAckReceipt.objects.get().outcome == "unknown_connector"


def test_sweep_sends_due_deliveries(policy) -> None:
    assert tasks.retry_due_deliveries.call() == 1
    assert row(policy).status == DeliveryStatus.SENT
    assert tasks.retry_due_deliveries.call() == 0  # nothing due until the ack deadline


def _h(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != "Content-Type"}


def test_a_flood_of_forged_acks_is_stored_only_up_to_the_budget(policy, client, monkeypatch) -> None:
    from huibao.policy import delivery as delivery_module

    monkeypatch.setattr(delivery_module, "INVALID_ACKS_KEPT_PER_WINDOW", 3)
    d = sent(policy)
    _headers, body = f.signed_ack(ack_body(d))
    garbage = {"X-Huibao-Notify-Id": "forged", "X-Huibao-Signature": "0" * 64}
    for _ in range(5):
        response = client.post(
            ACK_PATH, body + b" " * 20_000, content_type="application/json", headers=garbage
        )
        assert response.status_code == 400
    kept = InsurerAckReceipt.objects.filter(signature_ok=False)
    assert kept.count() == 3
    assert all(len(r.raw_body) <= delivery_module.INVALID_ACK_BODY_KEPT for r in kept)
    d.refresh_from_db()
    assert d.status == DeliveryStatus.SENT
