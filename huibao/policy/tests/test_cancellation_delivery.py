"""The insurer is told of every confirmed cancellation or surrender (退保信息回传) as it is told
of policies and endorsements: a durable `InsurerDelivery` of kind "cancellation" queued when the
cancellation is confirmed, sent through the connector's `send_cancellation`, retried with the
deliveries' backoff, acknowledged by the insurer's signed callback naming the cancellation, and
shown to operators (and retried by hand) among the failed deliveries."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from huibao.account.models import User, UserKind
from huibao.core.models import AuditEntry
from huibao.payment.tests.factories import client_transport
from huibao.policy import cancel_presenters, delivery, rules, services, tasks
from huibao.policy import cancellation as svc
from huibao.policy.models import Cancellation, InsurerDelivery, Policy
from huibao.policy.states import DeliveryKind, DeliveryStatus
from huibao.policy.tests import cancel_factories as cf
from huibao.policy.tests import factories as f
from huibao.sandbox import insurer as sandbox_insurer
from huibao.sandbox import notifications
from huibao.sandbox import tasks as sandbox_tasks
from huibao.sandbox.models import SandboxInsurerCancellation

pytestmark = pytest.mark.django_db
D = Decimal
ISSUED = datetime.date(2026, 3, 1)
CANCELLED_ON = datetime.date(2026, 3, 5)  # inside the 15 days of cooling-off
ACK_PATH = "/policy/insurer/ack/sandbox/"


@pytest.fixture(autouse=True)
def _callbacks_through_the_test_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "http_post", client_transport(Client()))
    sandbox_insurer.force_failures(0)
    yield
    sandbox_insurer.force_failures(0)


def booked_policy(*, booked: bool = True) -> tuple[object, Policy]:
    """A policy paid and issued on 1 March 2026; `booked`: the insurer has it (its own delivery
    sent and acknowledged)."""
    user = f.customer()
    with cf.at(ISSUED):
        p = cf.one_policy(user)
        if booked:
            own = p.deliveries.get(kind=DeliveryKind.POLICY)
            assert delivery.deliver(own.pk) == DeliveryStatus.SENT
            own.refresh_from_db()
            assert sandbox_tasks.deliver_notification.call("insurer", own.insurer_ref)
    return user, p


def cancel(user, p: Policy, on: datetime.date = CANCELLED_ON) -> Cancellation:
    with cf.at(on):
        services.update_policy_statuses()
        c = svc.request_cancellation(p, user=user, reason="no_longer_needed")
        c = svc.confirm(c, user=user, code=cf.sms_code())
        svc.refund(c.pk)
    c.refresh_from_db()
    return c


def delivery_of(c: Cancellation) -> InsurerDelivery:
    return InsurerDelivery.objects.select_related("cancellation").get(cancellation=c)


def test_a_confirmed_cancellation_is_delivered_once_and_acknowledged_by_the_insurers_signed_callback() -> (
    None
):
    # given a policy the insurer holds
    user, p = booked_policy()
    # when it is cancelled in cooling-off
    c = cancel(user, p)
    # then one delivery of kind "cancellation" is queued with it, beside the policy's own
    d = delivery_of(c)
    assert (d.kind, d.policy_id, d.status) == (DeliveryKind.CANCELLATION, p.pk, DeliveryStatus.PENDING)
    assert InsurerDelivery.objects.filter(policy=p).count() == 2
    assert delivery.queue_cancellation(c, now=d.created_at).pk == d.pk  # queued again: the same row
    assert cancel_presenters.cancellation_view(c)["insurer_notified"] is False
    # when the delivery task runs
    assert tasks.deliver_policy.call(d.pk) == DeliveryStatus.SENT
    # then the insurer booked the cancellation: which policy, the kind, the refund
    d.refresh_from_db()
    assert d.insurer_ref.startswith("SBC") and d.attempts == 1
    received = sandbox_insurer.received_cancellation(d.insurer_ref)
    assert received["cancellation_id"] == str(c.public_id) and received["policy_number"] == p.number
    assert received["kind"] == "cooling_off" and received["refund"] == str(c.amount)
    # when the insurer's signed acknowledgement arrives (later, asynchronously)
    assert sandbox_tasks.deliver_notification.call("insurer_cancellation", d.insurer_ref)
    # then the cancellation's delivery is acknowledged, the policy's own untouched
    d.refresh_from_db()
    assert d.status == DeliveryStatus.ACKNOWLEDGED and d.acknowledged_at is not None
    assert p.deliveries.get(kind=DeliveryKind.POLICY).status == DeliveryStatus.ACKNOWLEDGED
    assert cancel_presenters.cancellation_view(c)["insurer_notified"] is True
    # and sending it again (a late retry) sends nothing: acknowledged is final
    assert delivery.deliver(d.pk, force=True) == DeliveryStatus.ACKNOWLEDGED
    d.refresh_from_db()
    assert d.attempts == 1
    assert SandboxInsurerCancellation.objects.filter(cancellation_id=str(c.public_id)).count() == 1
    actions = set(
        AuditEntry.objects.filter(object_type="cancellation", object_id=str(c.public_id)).values_list(
            "action", flat=True
        )
    )
    assert {"policy.delivery_queued", "policy.delivery_sent", "policy.delivery_acknowledged"} <= actions


def test_a_failed_notice_is_retried_with_the_deliveries_backoff_until_the_insurer_takes_it() -> None:
    # given a confirmed cancellation and an insurer that times out twice
    user, p = booked_policy()
    c = cancel(user, p)
    d = delivery_of(c)
    sandbox_insurer.force_failures(2)
    now = d.next_attempt_at
    assert now is not None
    # when the first attempt fails
    assert delivery.deliver(d.pk, now=now) == DeliveryStatus.FAILED
    d.refresh_from_db()
    assert d.attempts == 1 and d.last_error.startswith("timeout")
    assert d.next_attempt_at == now + rules.retry_delay(1)
    assert d.pk not in delivery.due_deliveries(now)  # not due before its backoff
    # then the sweep tries again when due: once more failed, then taken
    second = now + rules.retry_delay(1)
    assert d.pk in delivery.due_deliveries(second)
    assert delivery.deliver(d.pk, now=second) == DeliveryStatus.FAILED
    d.refresh_from_db()
    third = d.next_attempt_at
    assert third == second + rules.retry_delay(2)
    assert delivery.deliver(d.pk, now=third) == DeliveryStatus.SENT
    d.refresh_from_db()
    assert d.attempts == 3 and d.last_error == ""
    assert sandbox_tasks.deliver_notification.call("insurer_cancellation", d.insurer_ref)
    d.refresh_from_db()
    assert d.status == DeliveryStatus.ACKNOWLEDGED


def test_a_notice_waits_until_the_insurer_holds_the_policy() -> None:
    # given a policy the insurer has not booked yet (its own delivery still on the way)
    user, p = booked_policy(booked=False)
    c = cancel(user, p)
    d = delivery_of(c)
    # when the cancellation's delivery goes first
    assert delivery.deliver(d.pk, force=True) == DeliveryStatus.FAILED
    d.refresh_from_db()
    # then it is refused for now and retried later
    assert d.last_error.startswith("unknown_policy") and d.next_attempt_at is not None
    assert not SandboxInsurerCancellation.objects.exists()


def test_an_acknowledgement_naming_another_policys_cancellation_is_not_taken(client) -> None:
    # given a cancellation sent to the insurer
    user, p = booked_policy()
    c = cancel(user, p)
    d = delivery_of(c)
    delivery.deliver(d.pk, force=True)
    d.refresh_from_db()
    other = f.simple_issued()
    body = {
        "ref": d.insurer_ref,
        "policy_number": other.number,
        "cancellation_id": str(c.public_id),
        "insurer_code": p.insurer.code,
        "status": "accepted",
    }
    # when a genuine acknowledgement names it under another policy number, or names no real id
    headers, raw = f.signed_ack(body)
    wrong = client.post(
        ACK_PATH,
        raw,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )
    headers, raw = f.signed_ack({**body, "policy_number": p.number, "cancellation_id": "not-an-id"})
    bad_id = client.post(
        ACK_PATH,
        raw,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )
    # then neither is taken: the delivery still waits
    assert wrong.status_code != 200 and bad_id.status_code != 200
    d.refresh_from_db()
    assert d.status == DeliveryStatus.SENT


def _operator(client: Client) -> Client:
    user = User.objects.create_user(
        username="operator1", password="x-unused-123", kind=UserKind.STAFF, is_staff=True
    )
    user.groups.add(Group.objects.get(name="operator"))
    return f.staff_login(client, User.objects.get(pk=user.pk))


def test_operators_see_a_notice_the_insurer_never_took_and_retry_it(client, settings) -> None:
    # given a cancellation whose notice failed as often as allowed (the insurer was down)
    settings.HUIBAO_INSURER_DELIVERY_MAX_ATTEMPTS = 1
    user, p = booked_policy()
    c = cancel(user, p)
    d = delivery_of(c)
    sandbox_insurer.mark_down(p.insurer.code)
    assert delivery.deliver(d.pk, force=True) == DeliveryStatus.GAVE_UP
    sandbox_insurer.mark_up(p.insurer.code)
    # when an operator opens the servicing queue
    operator = _operator(client)
    html = operator.get("/policy/staff/servicing/").content.decode()
    # then it is among the failed deliveries, as a cancellation of the policy
    assert 'data-testid="delivery-row" data-kind="cancellation"' in html
    assert p.number in html and "退保" in html and "insurer_down" in html
    # what the notice is about: the cancellation's kind and the reference the insurer receives
    reference = f"{c.get_kind_display()} {c.public_id}"
    assert f'data-testid="delivery-reference">{reference}</td>' in html
    # and the same on the delivery's own page in the back office
    detail = operator.get(f"/admin/policy/insurerdelivery/{d.pk}/change/")
    assert detail.status_code == 200 and reference in detail.content.decode()
    # and no longer in a separate cancellations' list of notices
    assert c not in svc.attention_rows(None)
    # when they retry it now
    response = operator.post(f"/policy/staff/servicing/deliveries/{d.pk}/retry/")
    # then it is sent, and the request is in the audit chain under the cancellation
    assert response.status_code == 302
    d.refresh_from_db()
    assert d.status == DeliveryStatus.SENT and d.insurer_ref.startswith("SBC")
    assert AuditEntry.objects.filter(
        action="policy.delivery_retry_requested", object_type="cancellation", object_id=str(c.public_id)
    ).exists()
    # and the API tells the customer once the insurer acknowledges
    assert sandbox_tasks.deliver_notification.call("insurer_cancellation", d.insurer_ref)
    customer = Client()
    customer.force_login(p.customer)
    body = customer.get(f"/api/v1/policies/{p.public_id}/cancellations/{c.public_id}").json()
    assert body["insurer_notified"] is True
