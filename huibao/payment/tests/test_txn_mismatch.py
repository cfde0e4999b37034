"""A genuinely signed notification that names another gateway transaction than the one the payment
recorded is refused: not applied, not acknowledged, audited, the payment unchanged."""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from django.urls import reverse

from huibao.core.models import AuditEntry
from huibao.payment import services
from huibao.payment.models import Payment, ProviderNotification, Refund
from huibao.payment.states import PaymentStatus
from huibao.payment.tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook_calls() -> list[int]:
    calls: list[int] = []

    def hook(payment: Payment) -> None:
        calls.append(payment.pk)

    services.register_paid_hook("test_order", hook)
    yield calls
    services.unregister_paid_hook("test_order", hook)


def test_a_success_naming_another_transaction_is_refused_and_audited(
    hook_calls: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    # given: a pending payment, and a signed success for another transaction of the gateway
    p = f.payment()
    other = f.payment(ref="A2")
    headers, body = f.notification(p, txn_id=other.provider_txn_id, notify_id="Nmismatch")
    events = p.events.count()
    # when
    with caplog.at_level(logging.WARNING, logger="huibao.payment.services"):
        outcome = services.handle_notification("sandbox", headers, body)
    # then: not applied and not acknowledged
    p.refresh_from_db()
    assert not outcome.acknowledge and outcome.code == "txn_mismatch"
    assert p.status == PaymentStatus.PENDING and p.paid_at is None and p.failure_reason == ""
    assert p.events.count() == events and hook_calls == []
    assert not ProviderNotification.objects.filter(notify_id="Nmismatch").exists()
    entry = AuditEntry.objects.get(action="payment.notification_refused", object_id=str(p.public_id))
    assert entry.after == {
        "reason": "txn_mismatch",
        "notify_id": "Nmismatch",
        "notified_status": "success",
        "notified_txn_id": other.provider_txn_id,
        "recorded_txn_id": p.provider_txn_id,
        "status": PaymentStatus.PENDING,
    }
    assert "txn_mismatch" not in caplog.text and p.provider_txn_id in caplog.text
    assert f.APPLICANT_ID not in caplog.text and f.APPLICANT_NAME not in caplog.text


def test_the_genuine_notification_is_still_applied_after_a_refused_one(hook_calls: list[int]) -> None:
    # given: a refused notification that used the genuine notification's id
    p = f.payment()
    headers, body = f.notification(p, txn_id="SBX000000000000000000000", notify_id="Nsame")
    services.handle_notification("sandbox", headers, body)
    # when
    genuine_headers, genuine_body = f.notification(p, notify_id="Nsame")
    outcome = services.handle_notification("sandbox", genuine_headers, genuine_body)
    # then
    p.refresh_from_db()
    assert outcome.acknowledge and outcome.code == "succeeded"
    assert p.status == PaymentStatus.SUCCEEDED and hook_calls == [p.pk]


def test_a_late_success_naming_another_transaction_refunds_nothing() -> None:
    # given: an expired payment (a success for it would be refunded as a late payment)
    p = f.payment()
    services.handle_notification("sandbox", *f.notification(p, status="expired"))
    p.refresh_from_db()
    assert p.status == PaymentStatus.EXPIRED
    # when
    outcome = services.handle_notification("sandbox", *f.notification(p, txn_id="SBXFORGED"))
    # then
    p.refresh_from_db()
    assert outcome.code == "txn_mismatch" and p.status == PaymentStatus.EXPIRED
    assert Refund.objects.count() == 0


def test_the_notify_endpoint_answers_the_gateway_fail() -> None:
    # given
    p = f.payment()
    headers, body = f.notification(p, txn_id="SBXFORGED")
    # when
    response = Client().generic(
        "POST",
        reverse("payment:notify", args=["sandbox"]),
        body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )
    # then: the gateway's "not accepted" answer, so it never counts the notification as delivered
    assert response.status_code == 400 and response.content == b"fail"
    p.refresh_from_db()
    assert p.status == PaymentStatus.PENDING
