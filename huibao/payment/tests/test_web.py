"""The sandbox pay page end to end with Django's test client: create → pay → notify → outcome."""

from __future__ import annotations

import pytest
from django.test import Client

from huibao.payment.models import Payment
from huibao.payment.states import PaymentStatus
from huibao.payment.tests import factories as f
from huibao.sandbox import notifications
from huibao.sandbox import payment as sandbox
from huibao.sandbox import tasks as sandbox_tasks
from huibao.sandbox.models import SandboxCheckout

pytestmark = pytest.mark.django_db


def _pay(
    client: Client,
    p: Payment,
    card: str,
    *,
    name: str = f.APPLICANT_NAME,
    id_number: str = f.APPLICANT_ID,
    action: str = "pay",
    capture: object = None,
) -> None:
    response = client.post(
        p.checkout_url, {"payer_name": name, "id_number": id_number, "card_number": card, "action": action}
    )
    assert response.status_code == 200, response.content.decode()


def test_pay_page_flow_delivers_signed_notification_and_payment_succeeds(
    client: Client, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: object
) -> None:
    # given
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))
    p = f.payment("66.00")
    page = client.get(p.checkout_url)
    assert page.status_code == 200 and "¥66.00" in page.content.decode()
    # when: the payer pays; the gateway's delivery task runs
    with django_capture_on_commit_callbacks() as callbacks:  # type: ignore[operator]
        _pay(client, p, f.GOOD_CARD)
    assert len(callbacks) == 1
    acknowledged = sandbox_tasks.deliver_notification.call("payment", p.provider_txn_id)
    # then
    p.refresh_from_db()
    checkout = SandboxCheckout.objects.get(txn_id=p.provider_txn_id)
    assert acknowledged and checkout.acknowledged_at is not None and checkout.attempts == 1
    assert p.status == PaymentStatus.SUCCEEDED and p.paid_at is not None


def test_declined_card_fails_the_payment(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))
    p = f.payment()
    _pay(client, p, f.DECLINED_CARD)
    assert sandbox.deliver(p.provider_txn_id)
    p.refresh_from_db()
    assert p.status == PaymentStatus.FAILED and p.failure_reason == "card_declined"


def test_expiring_card_expires_the_payment(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))
    p = f.payment()
    _pay(client, p, f.EXPIRING_CARD)
    assert sandbox.deliver(p.provider_txn_id)
    p.refresh_from_db()
    assert p.status == PaymentStatus.EXPIRED


def test_someone_else_paying_is_refused_and_refunded(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))
    p = f.payment()
    _pay(client, p, f.GOOD_CARD, name="李四", id_number=f.OTHER_ID)
    assert sandbox.deliver(p.provider_txn_id)
    p.refresh_from_db()
    checkout = SandboxCheckout.objects.get(txn_id=p.provider_txn_id)
    assert p.status == PaymentStatus.REFUSED and checkout.refunded_fen == checkout.amount_fen


def test_card_failing_luhn_is_refused_on_the_page_naming_the_field(client: Client) -> None:
    p = f.payment()
    response = client.post(
        p.checkout_url,
        {
            "payer_name": f.APPLICANT_NAME,
            "id_number": f.APPLICANT_ID,
            "card_number": "4242424242424241",
            "action": "pay",
        },
    )
    assert response.status_code == 422 and "银行卡号校验位错误" in response.content.decode()
    assert SandboxCheckout.objects.get(txn_id=p.provider_txn_id).status == "open"


def test_unacknowledged_delivery_is_retried_with_backoff(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the platform is down for the first delivery
    p = f.payment()
    _pay(client, p, f.GOOD_CARD)
    monkeypatch.setattr(notifications, "http_post", lambda url, body, headers: (503, "down"))
    # when
    assert not sandbox.deliver(p.provider_txn_id)
    checkout = SandboxCheckout.objects.get(txn_id=p.provider_txn_id)
    # then: the next attempt is scheduled 15 s later, and the sweep delivers it once due
    assert checkout.attempts == 1 and checkout.next_attempt_at is not None
    assert (checkout.next_attempt_at - checkout.created_at).total_seconds() >= 15
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))
    assert notifications.due(checkout.next_attempt_at) == [("payment", p.provider_txn_id)]
    assert sandbox.deliver(p.provider_txn_id, now=checkout.next_attempt_at)
    p.refresh_from_db()
    assert p.status == PaymentStatus.SUCCEEDED


def test_notify_endpoint_answers_fail_to_a_forged_post(client: Client) -> None:
    p = f.payment()
    headers, body = f.notification(p)
    headers["Huibao-Sandbox-Signature"] = "f" * 64
    response = client.generic(
        "POST",
        "/payment/notify/sandbox/",
        body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )
    p.refresh_from_db()
    assert response.status_code == 400 and p.status == PaymentStatus.PENDING
