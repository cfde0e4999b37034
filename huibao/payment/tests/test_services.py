"""Payment use-cases against the database: notifications, real name, expiry, refunds."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from huibao.core.errors import ValidationFailed
from huibao.core.models import AuditEntry
from huibao.payment import services
from huibao.payment.errors import InvalidAmount, PaymentNotRefundable
from huibao.payment.models import Payment, PaymentEvent, ProviderNotification, Refund
from huibao.payment.states import PaymentStatus
from huibao.payment.tests import factories as f
from huibao.sandbox.models import SandboxCheckout

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook_calls() -> list[int]:
    calls: list[int] = []

    def hook(payment: Payment) -> None:
        calls.append(payment.pk)

    services.register_paid_hook("test_order", hook)
    yield calls
    services.unregister_paid_hook("test_order", hook)


def test_create_payment_opens_a_sandbox_checkout() -> None:
    # when
    p = f.payment("99.90")
    # then
    p.refresh_from_db()
    assert p.status == PaymentStatus.PENDING
    assert p.payer_id_number == f.APPLICANT_ID and p.payer_id_number_hash
    assert p.checkout_url.endswith(f"/payment/sandbox/pay/{p.provider_txn_id}/")
    assert SandboxCheckout.objects.get(txn_id=p.provider_txn_id).amount_fen == 9990
    assert list(p.events.values_list("kind", flat=True)) == ["created", "checkout_opened"]


def test_the_audit_chain_keeps_the_payer_masked() -> None:
    p = f.payment("99.90")
    entry = AuditEntry.objects.get(action="payment.created", object_id=str(p.public_id))
    text = str(entry.after)
    assert p.payer_name not in text and f.APPLICANT_ID not in text
    assert entry.after["payer_name"].startswith(p.payer_name[0]) and "*" in entry.after["payer_name"]


def test_create_payment_refuses_a_bad_id_number_naming_the_field() -> None:
    with pytest.raises(Exception) as exc:
        services.create_payment(
            amount=Decimal("1"),
            payer_name="张三",
            payer_id_number="110105199003071230",
            reference_kind="x",
            reference_id="1",
            expires_in=datetime.timedelta(minutes=5),
        )
    assert exc.value.errors[0].field == "payer_id_number"  # type: ignore[attr-defined]
    assert Payment.objects.count() == 0


@pytest.mark.parametrize("name", ["张\u202e三", "张三😀", "Zhang San"])
def test_create_payment_refuses_a_payer_name_with_invisible_characters_or_emoji(name: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.create_payment(
            amount=Decimal("1"),
            payer_name=name,
            payer_id_number=f.APPLICANT_ID,
            reference_kind="x",
            reference_id="1",
            expires_in=datetime.timedelta(minutes=5),
        )
    assert [e.field for e in exc.value.errors] == ["payer_name"]
    assert Payment.objects.count() == 0


def test_create_payment_keeps_the_payer_name_normalised() -> None:
    p = services.create_payment(
        amount=Decimal("1"),
        payer_name=" 阿卜杜拉•买买提 ",
        payer_id_number=f.APPLICANT_ID,
        reference_kind="x",
        reference_id="1",
        expires_in=datetime.timedelta(minutes=5),
    )
    assert p.payer_name == "阿卜杜拉·买买提"


def test_success_notification_marks_paid_and_runs_hook_once(hook_calls: list[int]) -> None:
    # given
    p = f.payment()
    headers, body = f.notification(p)
    audit_before = AuditEntry.objects.count()
    # when
    outcome = services.handle_notification("sandbox", headers, body)
    # then
    p.refresh_from_db()
    assert outcome.acknowledge and outcome.code == "succeeded"
    assert p.status == PaymentStatus.SUCCEEDED and p.paid_at is not None
    assert hook_calls == [p.pk]
    assert AuditEntry.objects.filter(action="payment.succeeded", object_id=str(p.public_id)).count() == 1
    assert AuditEntry.objects.count() == audit_before + 1


def test_forged_signature_is_rejected_and_changes_nothing(hook_calls: list[int]) -> None:
    # given
    p = f.payment()
    headers, body = f.notification(p)
    headers["Huibao-Sandbox-Signature"] = "0" * 64
    events = p.events.count()
    # when
    outcome = services.handle_notification("sandbox", headers, body)
    # then
    p.refresh_from_db()
    assert not outcome.acknowledge and outcome.code == "bad_signature"
    assert p.status == PaymentStatus.PENDING and p.paid_at is None
    assert p.events.count() == events and hook_calls == []
    assert ProviderNotification.objects.get().signature_ok is False


def test_tampered_body_is_rejected() -> None:
    # given: a genuine signature over a body the attacker then changes (amount lowered)
    p = f.payment("500.00")
    headers, body = f.notification(p)
    forged = body.replace(b'"amount_fen": 50000', b'"amount_fen": 1')
    # when
    outcome = services.handle_notification("sandbox", headers, forged)
    # then
    p.refresh_from_db()
    assert outcome.code == "bad_signature" and p.status == PaymentStatus.PENDING


def test_a_forged_row_does_not_block_the_genuine_notification(hook_calls: list[int]) -> None:
    # given: a forged notification already used the genuine notify_id
    p = f.payment()
    headers, body = f.notification(p, notify_id="Nsame")
    services.handle_notification("sandbox", {**headers, "Huibao-Sandbox-Signature": "bad"}, body)
    # when
    outcome = services.handle_notification("sandbox", headers, body)
    # then
    assert outcome.code == "succeeded" and hook_calls == [p.pk]


def test_stale_notification_is_rejected() -> None:
    # given
    p = f.payment()
    headers, body = f.notification(p, now=timezone.now() - datetime.timedelta(minutes=10))
    # when
    outcome = services.handle_notification("sandbox", headers, body)
    # then
    p.refresh_from_db()
    assert not outcome.acknowledge and outcome.code == "stale"
    assert p.status == PaymentStatus.PENDING and ProviderNotification.objects.count() == 0


def test_replayed_notification_has_no_second_effect(hook_calls: list[int]) -> None:
    # given: a success, processed, then refunded in full
    p = f.payment()
    headers, body = f.notification(p)
    services.handle_notification("sandbox", headers, body)
    SandboxCheckout.objects.filter(txn_id=p.provider_txn_id).update(status="paid")
    services.refund(p, Decimal("128.50"), "customer cancelled")
    events = p.events.count()
    # when: the captured notification is replayed
    outcome = services.handle_notification("sandbox", headers, body)
    # then
    p.refresh_from_db()
    assert outcome.acknowledge and outcome.code == "duplicate"
    assert p.status == PaymentStatus.REFUNDED and p.events.count() == events
    assert hook_calls == [p.pk]


def test_twenty_duplicate_successes_give_exactly_one_hook_call(hook_calls: list[int]) -> None:
    # given: the same success, retried 10 times and re-sent 10 times under new notify ids
    p = f.payment()
    first = f.notification(p)
    others = [f.notification(p) for _ in range(10)]
    # when
    outcomes = [services.handle_notification("sandbox", *first) for _ in range(10)]
    outcomes += [services.handle_notification("sandbox", *n) for n in others]
    # then
    assert all(o.acknowledge for o in outcomes)
    assert [o.code for o in outcomes].count("succeeded") == 1
    assert hook_calls == [p.pk]
    assert p.events.filter(to_status=PaymentStatus.SUCCEEDED).count() == 1


def test_payer_who_is_not_the_applicant_is_refused_and_refunded(hook_calls: list[int]) -> None:
    # given
    p = f.payment()
    SandboxCheckout.objects.filter(txn_id=p.provider_txn_id).update(status="paid")
    headers, body = f.notification(p, payer_name="李四", payer_id=f.OTHER_ID)
    # when
    outcome = services.handle_notification("sandbox", headers, body)
    # then
    p.refresh_from_db()
    assert outcome.acknowledge and outcome.code == "refused"
    assert p.status == PaymentStatus.REFUSED and p.failure_reason == "payer_not_applicant"
    refund = Refund.objects.get(payment=p)
    assert refund.amount == p.amount and refund.status == "succeeded"
    assert SandboxCheckout.objects.get(txn_id=p.provider_txn_id).refunded_fen == 12850
    assert hook_calls == []


def test_amount_mismatch_is_refused() -> None:
    p = f.payment("10.00")
    outcome = services.handle_notification("sandbox", *f.notification(p, amount_fen=100))
    p.refresh_from_db()
    assert outcome.code == "refused" and p.failure_reason == "amount_mismatch"


def test_failed_notification_marks_failed() -> None:
    p = f.payment()
    outcome = services.handle_notification("sandbox", *f.notification(p, status="failed"))
    p.refresh_from_db()
    assert outcome.code == "failed" and p.status == PaymentStatus.FAILED


def test_expire_unpaid_expires_only_overdue_open_payments() -> None:
    # given
    overdue = f.payment(expires_in=datetime.timedelta(minutes=1), ref="old")
    fresh = f.payment(expires_in=datetime.timedelta(hours=2), ref="new")
    # when
    count = services.expire_unpaid(timezone.now() + datetime.timedelta(minutes=5))
    # then
    overdue.refresh_from_db()
    fresh.refresh_from_db()
    assert count == 1
    assert overdue.status == PaymentStatus.EXPIRED and overdue.failure_reason == "not_paid_in_time"
    assert fresh.status == PaymentStatus.PENDING


def test_success_after_expiry_is_refunded_without_hook(hook_calls: list[int]) -> None:
    # given
    p = f.payment(expires_in=datetime.timedelta(minutes=1))
    services.expire_unpaid(timezone.now() + datetime.timedelta(minutes=5))
    # when
    outcome = services.handle_notification("sandbox", *f.notification(p))
    # then
    p.refresh_from_db()
    assert outcome.code == "late_payment_refunded" and p.status == PaymentStatus.EXPIRED
    assert Refund.objects.filter(payment=p).count() == 1 and hook_calls == []


def test_refund_partial_then_full() -> None:
    # given
    p = f.payment("100.00")
    services.handle_notification("sandbox", *f.notification(p))
    SandboxCheckout.objects.filter(txn_id=p.provider_txn_id).update(status="paid")
    # when
    services.refund(p, Decimal("30.00"), "partial cancel")
    # then
    assert p.status == PaymentStatus.PARTIALLY_REFUNDED and p.refunded_amount == Decimal("30.00")
    with pytest.raises(InvalidAmount):
        services.refund(p, Decimal("70.01"), "too much")
    services.refund(p, Decimal("70.00"), "rest")
    assert p.status == PaymentStatus.REFUNDED
    assert SandboxCheckout.objects.get(txn_id=p.provider_txn_id).refunded_fen == 10000
    with pytest.raises(PaymentNotRefundable):
        services.refund(p, Decimal("1.00"), "again")


def test_refund_of_unpaid_payment_is_refused() -> None:
    p = f.payment()
    with pytest.raises(PaymentNotRefundable):
        services.refund(p, Decimal("1.00"), "x")
    assert PaymentEvent.objects.filter(payment=p, kind="refund").count() == 0
