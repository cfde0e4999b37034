"""The insurer is told of every applied endorsement (批改信息回传) as it is told of the policy: a
durable delivery of kind "endorsement", sent through the connector's `send_endorsement`, retried
with backoff, acknowledged by the insurer's signed callback naming the endorsement; forged or
misdirected acknowledgements change nothing; operators see and retry it in the servicing queue."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from huibao.account.models import User, UserKind
from huibao.account.sms import reset_sms_backends
from huibao.core.models import AuditEntry
from huibao.policy import delivery, endorsements, rules, tasks
from huibao.policy.models import Endorsement, InsurerAckReceipt, InsurerDelivery, Policy
from huibao.policy.states import DeliveryKind, DeliveryStatus
from huibao.policy.tests import endorsement_factories as ef
from huibao.policy.tests import factories as f
from huibao.sandbox import insurer as sandbox
from huibao.sandbox import notifications
from huibao.sandbox import tasks as sandbox_tasks
from huibao.sandbox.models import SandboxInsurerEndorsement

pytestmark = pytest.mark.django_db

ACK_PATH = "/policy/insurer/ack/sandbox/"


@pytest.fixture(autouse=True)
def _sms_and_callbacks(settings, monkeypatch):
    settings.SMS_BACKEND = "huibao.account.sms.ConsoleSmsBackend"
    reset_sms_backends()
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))
    yield
    reset_sms_backends()


def _policy_delivered(**kwargs: Any) -> Policy:
    """A covered policy the insurer has booked and acknowledged."""
    policy = ef.covered_policy(**kwargs)
    own = InsurerDelivery.objects.get(policy=policy, kind=DeliveryKind.POLICY)
    assert delivery.deliver(own.pk) == DeliveryStatus.SENT
    own.refresh_from_db()
    assert sandbox_tasks.deliver_notification.call("insurer", own.insurer_ref)
    return policy


def _applied_phone_change(policy: Policy) -> Endorsement:
    e = endorsements.request_endorsement(policy, "contact", {"phone": "13700007777"}, actor=policy.customer)
    return ef.confirm(e, policy.customer)


def _of(e: Endorsement) -> InsurerDelivery:
    return InsurerDelivery.objects.select_related("endorsement").get(endorsement=e)


def _h(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != "Content-Type"}


def test_an_applied_endorsement_is_sent_and_acknowledged_by_the_insurers_signed_callback() -> None:
    # given a policy the insurer holds
    policy = _policy_delivered()

    # when a contact change is applied
    e = _applied_phone_change(policy)

    # then a delivery of the endorsement is queued with it
    d = _of(e)
    assert (d.kind, d.policy_id, d.status) == (DeliveryKind.ENDORSEMENT, policy.pk, DeliveryStatus.PENDING)
    assert InsurerDelivery.objects.filter(policy=policy).count() == 2

    # when the delivery task runs
    assert tasks.deliver_policy.call(d.pk) == DeliveryStatus.SENT

    # then the insurer booked the endorsement: number, policy, the new values and the premium
    d.refresh_from_db()
    assert d.insurer_ref.startswith("SBE") and d.attempts == 1
    received = sandbox.received_endorsement(d.insurer_ref)
    assert received["endorsement_number"] == e.number and received["policy_number"] == policy.number
    assert received["kind"] == "contact" and received["changes"]["phone"] == "13700007777"
    assert received["policy_version"] == 2 and received["new_premium"] == "320.00"

    # when the insurer's acknowledgement is delivered (asynchronously, later)
    assert sandbox_tasks.deliver_notification.call("insurer_endorsement", d.insurer_ref)

    # then the endorsement's delivery is acknowledged; the policy's own is untouched
    d.refresh_from_db()
    assert d.status == DeliveryStatus.ACKNOWLEDGED and d.acknowledged_at is not None
    assert SandboxInsurerEndorsement.objects.get(ref=d.insurer_ref).acknowledged_at is not None
    own = InsurerDelivery.objects.get(policy=policy, kind=DeliveryKind.POLICY)
    assert own.status == DeliveryStatus.ACKNOWLEDGED and own.insurer_ref.startswith("SBI")
    actions = set(
        AuditEntry.objects.filter(object_type="endorsement", object_id=e.number).values_list(
            "action", flat=True
        )
    )
    assert {"policy.delivery_queued", "policy.delivery_sent", "policy.delivery_acknowledged"} <= actions


def test_an_endorsement_sent_before_the_insurer_holds_the_policy_is_retried_with_backoff() -> None:
    # given a policy not yet booked by the insurer, and an applied change
    policy = ef.covered_policy()
    e = _applied_phone_change(policy)
    now = timezone.now()

    # when the endorsement is sent first
    status = delivery.deliver(_of(e).pk, now=now)

    # then it fails and is due again after the backoff, not before
    d = _of(e)
    assert status == DeliveryStatus.FAILED and d.last_error.startswith("unknown_policy")
    assert d.next_attempt_at == now + rules.retry_delay(1)
    assert d.pk not in delivery.due_deliveries(now)
    assert d.pk in delivery.due_deliveries(now + rules.retry_delay(1))

    # when the policy is booked and the endorsement sent again (twice: a retry after a lost answer)
    own = InsurerDelivery.objects.get(policy=policy, kind=DeliveryKind.POLICY)
    assert delivery.deliver(own.pk) == DeliveryStatus.SENT
    later = now + rules.retry_delay(1)
    assert delivery.deliver(d.pk, now=later) == DeliveryStatus.SENT
    first_ref = _of(e).insurer_ref
    assert delivery.deliver(d.pk, force=True) == DeliveryStatus.SENT

    # then the insurer booked it once, under one reference
    assert _of(e).insurer_ref == first_ref
    assert SandboxInsurerEndorsement.objects.filter(endorsement_number=e.number).count() == 1


def test_a_change_waiting_for_approval_is_not_sent_until_approved_and_a_rejected_one_never() -> None:
    # given two changes needing staff approval, confirmed by the customer
    policy = _policy_delivered(servicing=ef.with_approval("contact"))
    e = _applied_phone_change(policy)
    e.refresh_from_db()
    assert e.status == "pending_approval"
    approver = f.staff("approver", ["approve_endorsement"])

    # then nothing goes to the insurer while it waits
    assert not InsurerDelivery.objects.filter(endorsement=e).exists()

    # when staff approve it
    endorsements.approve_endorsement(e, actor=approver, reason="资料齐全")

    # then it is queued for the insurer, once
    assert _of(e).status == DeliveryStatus.PENDING
    assert InsurerDelivery.objects.filter(kind=DeliveryKind.ENDORSEMENT).count() == 1

    # when a second change is rejected
    second = endorsements.request_endorsement(
        policy, "contact", {"phone": "13700007777", "address": "上海市浦东新区"}, actor=policy.customer
    )
    endorsements.send_confirmation_code(second, actor=policy.customer)
    endorsements.confirm_endorsement(second, ef.code_to("13700007777"), actor=policy.customer)
    endorsements.reject_endorsement(second, actor=approver, reason="地址不完整")

    # then the insurer is never told of it
    assert not InsurerDelivery.objects.filter(endorsement=second).exists()


def test_forged_and_misdirected_acknowledgements_change_nothing(client, settings) -> None:
    # given an endorsement sent to the insurer
    policy = _policy_delivered()
    e = _applied_phone_change(policy)
    delivery.deliver(_of(e).pk)
    d = _of(e)
    body = {
        "ref": d.insurer_ref,
        "policy_number": policy.number,
        "endorsement_number": e.number,
        "insurer_code": policy.insurer.code,
        "status": "accepted",
    }

    # when a forged acknowledgement arrives (signed with another key)
    settings.INSURER_SANDBOX_SECRET = "not-the-shared-secret"
    forged_headers, forged = f.signed_ack(body)
    settings.INSURER_SANDBOX_SECRET = ""
    forged_response = client.post(
        ACK_PATH, forged, content_type="application/json", headers=_h(forged_headers)
    )
    # and a genuine one naming the endorsement under another policy number
    other = f.simple_issued()
    wrong_headers, wrong = f.signed_ack({**body, "policy_number": other.number})
    wrong_response = client.post(ACK_PATH, wrong, content_type="application/json", headers=_h(wrong_headers))

    # then neither is taken, the delivery still waits, and the policy's own delivery is untouched
    assert forged_response.status_code == 400 and wrong_response.status_code != 200
    assert _of(e).status == DeliveryStatus.SENT
    assert InsurerAckReceipt.objects.filter(signature_ok=True).exclude(outcome="acknowledged").count() == 0

    # when the genuine acknowledgement comes, and again (a replay)
    headers, raw = f.signed_ack(body)
    first = client.post(ACK_PATH, raw, content_type="application/json", headers=_h(headers))
    replay = client.post(ACK_PATH, raw, content_type="application/json", headers=_h(headers))

    # then it is acknowledged once
    assert first.status_code == 200 and replay.status_code == 200
    assert _of(e).status == DeliveryStatus.ACKNOWLEDGED
    assert InsurerAckReceipt.objects.filter(notify_id=headers[sandbox.HEADER_NOTIFY_ID]).count() == 1


def test_the_staff_queue_lists_a_given_up_endorsement_delivery_and_retries_it(client) -> None:
    # given an endorsement delivery that gave up
    policy = _policy_delivered()
    e = _applied_phone_change(policy)
    InsurerDelivery.objects.filter(endorsement=e).update(status=DeliveryStatus.GAVE_UP, attempts=8)
    operator = User.objects.create_user(
        username="op1", password="x-unused-123", kind=UserKind.STAFF, is_staff=True
    )
    operator.groups.add(Group.objects.get(name="operator"))
    f.staff_login(client, User.objects.get(pk=operator.pk))

    # when the operator opens the servicing queue
    html = client.get("/policy/staff/servicing/").content.decode()

    # then the row says it is an endorsement and names it
    assert 'data-kind="endorsement"' in html and e.number in html and "批改" in html

    # when they retry it now
    response = client.post(f"/policy/staff/servicing/deliveries/{_of(e).pk}/retry/")

    # then it is sent at once, the retry audited on the endorsement
    assert response.status_code == 302
    assert _of(e).status == DeliveryStatus.SENT
    assert AuditEntry.objects.filter(
        action="policy.delivery_retry_requested", object_type="endorsement", object_id=e.number
    ).exists()
