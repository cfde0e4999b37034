"""Cancellation use-cases: cooling-off exact to the fen, pro rata, cash value, instalments, a
bundle's checkout capped per policy, refund failure and retry, double confirmation, the insurer
told (test_cancellation_delivery.py); refusals change nothing."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.test import Client

from huibao.account.errors import CodeInvalid
from huibao.billing.models import PremiumSchedule
from huibao.billing.states import InstalmentStatus, ScheduleStatus
from huibao.core.errors import Conflict
from huibao.core.models import AuditEntry
from huibao.notification.models import OutboxMessage
from huibao.payment.models import Payment, Refund
from huibao.payment.provider import RefundResult, get_provider
from huibao.payment.states import PaymentStatus
from huibao.payment.tests.factories import client_transport
from huibao.policy import cancellation as svc
from huibao.policy import services
from huibao.policy.errors import NotCancellable, RefundExceedsPaid
from huibao.policy.models import Cancellation, CancellationRefund, Policy
from huibao.policy.states import CancellationStatus, PolicyStatus, RefundPartStatus
from huibao.policy.tests import cancel_factories as cf
from huibao.policy.tests import factories as f
from huibao.sandbox import notifications

pytestmark = pytest.mark.django_db
D = Decimal
ISSUED = datetime.date(2026, 3, 1)  # cover from 2 March 2026 to 2 March 2027 (365 days)


@pytest.fixture(autouse=True)
def _gateway_through_the_test_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "http_post", client_transport(Client()))


def policy(**kwargs) -> tuple[object, Policy]:
    user = f.customer()
    with cf.at(ISSUED):
        p = cf.one_policy(user, **kwargs)
    return user, p


def cancel(user, p: Policy, on: datetime.date, *, reason: str = "no_longer_needed") -> Cancellation:
    """Requests and confirms with the code sent; runs the refund (the task's body)."""
    with cf.at(on):
        services.update_policy_statuses()  # the sweep: cover has started
        c = svc.request_cancellation(p, user=user, reason=reason)
        c = svc.confirm(c, user=user, code=cf.sms_code())
        svc.refund(c.pk)
    c.refresh_from_db()
    p.refresh_from_db()
    return c


def test_cooling_off_gives_back_the_whole_premium_to_the_fen() -> None:
    # given: a policy of 320.00 issued on 1 March, cooling-off until 16 March
    user, p = policy(premium="320.00")
    assert p.cooling_off_until == datetime.date(2026, 3, 16)
    checkout = Payment.objects.get(reference_kind="application")
    # when: cancelled on the last day of the cooling-off period
    c = cancel(user, p, datetime.date(2026, 3, 16))
    # then
    assert c.kind == "cooling_off" and c.status == CancellationStatus.COMPLETED
    assert c.amount == D("320.00") == c.refunded
    assert [(line["code"], line["amount"]) for line in c.lines] == [("paid", "320.00")]
    assert p.status == PolicyStatus.CANCELLED_COOLING_OFF
    checkout.refresh_from_db()
    assert checkout.status == PaymentStatus.REFUNDED and checkout.refunded_amount == D("320.00")
    part = CancellationRefund.objects.get(cancellation=c)
    assert part.payment_id == checkout.pk and part.status == RefundPartStatus.SUCCEEDED
    assert part.refund is not None and part.refund.amount == D("320.00")
    # the customer is told (confirmed, then refunded); the audit chain has the steps
    templates = set(OutboxMessage.objects.filter(user=user).values_list("template", flat=True))
    assert {"policy.cancellation_confirmed", "policy.refund_completed"} <= templates
    actions = set(AuditEntry.objects.filter(object_id=str(c.public_id)).values_list("action", flat=True))
    assert {
        "policy.cancellation_requested",
        "policy.cancellation_confirmed",
        "policy.cancellation_refunding",
        "policy.cancellation_completed",
    } <= actions


def test_the_day_after_cooling_off_is_pro_rata_less_the_fee() -> None:
    # given: the default rule (pro rata less 25 %), 365 days of cover from 2 March
    user, p = policy(premium="365.00")
    # when: on 17 March, 16 days in force (2–17 March), 349 days unearned
    c = cancel(user, p, datetime.date(2026, 3, 17))
    # then: 365 − 16 = 349 unearned, less 25 % = 261.75
    assert c.kind == "surrender" and c.method == "pro_rata"
    assert c.amount == D("261.75")
    assert [(line["code"], line["amount"]) for line in c.lines] == [
        ("paid", "365.00"),
        ("earned", "-16.00"),
        ("fee_rate", "-87.25"),
    ]
    assert p.status == PolicyStatus.SURRENDERED
    assert Payment.objects.get(reference_kind="application").refunded_amount == D("261.75")


def test_cash_value_of_a_long_term_policy() -> None:
    # given: a 20-year policy with a cash value table, paid 1,000.00 for the first year
    servicing = {
        "cancellation": {
            "method": "cash_value",
            "cash_values": [{"year": 1, "rate": "0.25"}, {"year": 2, "rate": "0.40"}],
        }
    }
    user, p = policy(
        premium="1000.00", servicing=servicing, term=[{"code": "20y", "label": "20年", "years": 20}]
    )
    # when: surrendered after the first policy year
    c = cancel(user, p, datetime.date(2027, 3, 5))
    # then: 25 % of the premiums paid
    assert c.method == "cash_value" and c.amount == D("250.00")
    assert p.status == PolicyStatus.SURRENDERED


def test_monthly_policy_with_three_instalments_refunds_latest_payments_first() -> None:
    # given: 1,200.00 a year paid monthly: the checkout and two charges of 100.00
    user, p = policy(premium="1200.00", mode="monthly")
    cf.collect_instalments(p, 2)
    schedule = PremiumSchedule.objects.get(reference_id=p.number)
    assert schedule.instalments.filter(status=InstalmentStatus.PAID).count() == 3
    # when: cancelled on 4 May 2026: 64 days in force (2 March – 4 May)
    c = cancel(user, p, datetime.date(2026, 5, 4))
    # then: 300 − 1200 × 64/365 = 89.589… → 89.59 less 25 % → 67.19 (67.191…)
    assert c.paid == D("300.00") and c.amount == D("67.19")
    parts = list(CancellationRefund.objects.filter(cancellation=c).select_related("payment"))
    assert len(parts) == 1 and parts[0].amount == D("67.19")
    assert parts[0].payment.reference_kind == "billing_instalment"  # the latest charge
    # the rest of the year is not collected any more
    schedule.refresh_from_db()
    assert schedule.status == ScheduleStatus.CANCELLED
    assert schedule.instalments.filter(status=InstalmentStatus.CANCELLED).count() == 9


def test_monthly_cooling_off_gives_back_only_the_first_instalment() -> None:
    user, p = policy(premium="1200.00", mode="monthly")
    c = cancel(user, p, datetime.date(2026, 3, 5))
    assert c.amount == D("100.00") and c.status == CancellationStatus.COMPLETED
    assert Payment.objects.get(reference_kind="application").status == PaymentStatus.REFUNDED


def test_a_bundles_checkout_is_refunded_per_policy_up_to_its_share() -> None:
    # given: one application, one checkout of 820.00 for two policies (320.00 and 500.00)
    user = f.customer()
    with cf.at(ISSUED):
        v1, v2 = f.product_version(), f.product_version(name="汇保意外险")
        person = f.Person()
        first, second = cf.paid_policies(
            user,
            [
                (v1, person, 500_000, D("320.00"), {"term": "1y"}),
                (v2, person, 500_000, D("500.00"), {"term": "1y"}),
            ],
        )
    checkout = Payment.objects.get(reference_kind="application")
    assert checkout.amount == D("820.00")
    # when: the first is cancelled in cooling-off
    c1 = cancel(user, first, datetime.date(2026, 3, 5))
    # then: only its own 320.00 comes back; the other policy is untouched
    assert c1.amount == D("320.00")
    checkout.refresh_from_db()
    assert checkout.refunded_amount == D("320.00") and checkout.status == PaymentStatus.PARTIALLY_REFUNDED
    second.refresh_from_db()
    assert second.status in (PolicyStatus.PENDING_START, PolicyStatus.IN_FORCE)
    # and the second later gets its 500.00, never more
    c2 = cancel(user, second, datetime.date(2026, 3, 6))
    assert c2.amount == D("500.00")
    checkout.refresh_from_db()
    assert checkout.refunded_amount == D("820.00") and checkout.status == PaymentStatus.REFUNDED


def test_refund_failure_then_retry_refunds_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: the provider refuses the refund
    user, p = policy(premium="320.00")
    provider = get_provider("sandbox")
    original = provider.refund
    monkeypatch.setattr(provider, "refund", lambda payment, amount: RefundResult(False, "", "bank down"))
    c = cancel(user, p, datetime.date(2026, 3, 5))
    # then: the policy is cancelled, the refund failed and the customer is told
    assert c.status == CancellationStatus.REFUND_FAILED and c.refunded == 0
    assert p.status == PolicyStatus.CANCELLED_COOLING_OFF
    assert "provider_refused" in c.refund_error
    assert OutboxMessage.objects.filter(user=user, template="policy.refund_failed").exists()
    # when: retried once the provider is back
    monkeypatch.setattr(provider, "refund", original)
    assert svc.retry_refund(c, actor="staff") == CancellationStatus.COMPLETED
    # then: refunded once; running the refund again changes nothing
    assert svc.refund(c.pk) == CancellationStatus.COMPLETED
    c.refresh_from_db()
    assert c.refunded == D("320.00")
    assert Refund.objects.filter(status="succeeded").count() == 1
    assert Payment.objects.get(reference_kind="application").refunded_amount == D("320.00")


def test_confirming_twice_refunds_once() -> None:
    user, p = policy(premium="320.00")
    with cf.at(datetime.date(2026, 3, 5)):
        c = svc.request_cancellation(p, user=user, reason="found_better")
        code = cf.sms_code()
        first = svc.confirm(c, user=user, code=code)
        second = svc.confirm(c, user=user, code=code)  # a retry: the code is used up
        svc.refund(first.pk)
        svc.refund(second.pk)
    assert first.pk == second.pk
    assert CancellationRefund.objects.count() == 1
    assert Refund.objects.count() == 1
    assert AuditEntry.objects.filter(action="policy.cancellation_confirmed").count() == 1


def test_requesting_again_reuses_the_open_request() -> None:
    user, p = policy()
    with cf.at(datetime.date(2026, 3, 5)):
        first = svc.request_cancellation(p, user=user, reason="no_longer_needed")
    with cf.at(datetime.date(2026, 3, 5), hour=11):
        again = svc.request_cancellation(p, user=user, reason="other", reason_text="换了工作")
    assert first.pk == again.pk and again.reason == "other"
    assert Cancellation.objects.count() == 1


# --- refusals: a clear message, nothing changed ----------------------------------------------------


def _nothing_changed(p: Policy, status: str) -> None:
    p.refresh_from_db()
    assert p.status == status
    assert not Cancellation.objects.exclude(status__in=["quoted", "awaiting_confirmation"]).exists()
    assert not CancellationRefund.objects.exists()
    assert not Refund.objects.exclude(reason="客服补偿").exists()


def test_a_policy_not_live_is_refused() -> None:
    user, p = policy()
    Policy.objects.filter(pk=p.pk).update(status=PolicyStatus.EXPIRED)
    with cf.at(datetime.date(2026, 3, 5)), pytest.raises(NotCancellable) as exc:
        svc.request_cancellation(p, user=user, reason="no_longer_needed")
    assert "已满期" in exc.value.message and exc.value.errors[0].field == "policy"
    assert not Cancellation.objects.exists()


def test_method_none_after_cooling_off_is_refused_with_the_products_text() -> None:
    _user, p = policy(servicing={"cancellation": {"method": "none", "refusal": "本产品犹豫期后不得退保"}})
    with cf.at(datetime.date(2026, 4, 1)), pytest.raises(NotCancellable) as exc:
        svc.quote(p)
    assert exc.value.message == "本产品犹豫期后不得退保" and exc.value.code == "cancellation_not_allowed"


def test_a_wrong_code_is_refused_and_changes_nothing() -> None:
    user, p = policy()
    status = Policy.objects.get(pk=p.pk).status
    with cf.at(datetime.date(2026, 3, 5)):
        c = svc.request_cancellation(p, user=user, reason="no_longer_needed")
        good = cf.sms_code()
        wrong = "000000" if good != "000000" else "111111"
        with pytest.raises(CodeInvalid):
            svc.confirm(c, user=user, code=wrong)
    _nothing_changed(p, status)


def test_an_expired_code_is_refused() -> None:
    from huibao.account.errors import CodeExpired

    user, p = policy()
    with cf.at(datetime.date(2026, 3, 5), hour=10):
        c = svc.request_cancellation(p, user=user, reason="no_longer_needed")
        code = cf.sms_code()
    with cf.at(datetime.date(2026, 3, 5), hour=11), pytest.raises(CodeExpired):
        svc.confirm(c, user=user, code=code)
    _nothing_changed(p, Policy.objects.get(pk=p.pk).status)


def test_a_refund_larger_than_what_is_left_to_refund_is_refused() -> None:
    # given: finance already gave back 100.00 of the checkout by hand
    from huibao.payment import services as payments

    user, p = policy(premium="320.00")
    payments.refund(Payment.objects.get(reference_kind="application"), D("100.00"), "客服补偿")
    status = Policy.objects.get(pk=p.pk).status
    with cf.at(datetime.date(2026, 3, 5)):
        c = svc.request_cancellation(p, user=user, reason="no_longer_needed")
        with pytest.raises(RefundExceedsPaid) as exc:
            svc.confirm(c, user=user, code=cf.sms_code())
    assert exc.value.errors[0].field == "amount" and "220.00" in exc.value.message
    _nothing_changed(p, status)


@pytest.mark.parametrize(
    ("reason", "text", "field"),
    [("bogus", "", "reason"), ("other", "", "reason_text"), ("other", "很" * 201, "reason_text")],
)
def test_a_bad_reason_names_the_field(reason: str, text: str, field: str) -> None:
    from huibao.core.errors import ValidationFailed

    user, p = policy()
    with cf.at(datetime.date(2026, 3, 5)), pytest.raises(ValidationFailed) as exc:
        svc.request_cancellation(p, user=user, reason=reason, reason_text=text)
    assert exc.value.errors[0].field == field
    assert not Cancellation.objects.exists()


def test_a_quote_of_another_day_is_shown_again_before_confirming() -> None:
    # given: requested on the last day of cooling-off (everything back), confirmed the day after
    user, p = policy(premium="365.00")
    with cf.at(datetime.date(2026, 3, 16), hour=23, minute=58):
        services.update_policy_statuses()
        c = svc.request_cancellation(p, user=user, reason="no_longer_needed")
        code = cf.sms_code()
    with cf.at(datetime.date(2026, 3, 17), hour=0, minute=1):
        with pytest.raises(Conflict) as exc:
            svc.confirm(c, user=user, code=code)
        # then: refused with the new amount, nothing cancelled, the code still good
        assert exc.value.code == "quote_changed" and "261.75" in exc.value.message
        c.refresh_from_db()
        assert c.kind == "surrender" and c.amount == D("261.75")
        assert c.status == CancellationStatus.AWAITING_CONFIRMATION
        p.refresh_from_db()
        assert p.status == PolicyStatus.IN_FORCE
        confirmed = svc.confirm(c, user=user, code=code)
    assert confirmed.status == CancellationStatus.CONFIRMED and confirmed.amount == D("261.75")
