"""A cancellation after endorsements that changed the premium: what was paid for the policy is
the issued premium with the deltas paid (each through its own payment) less those given back, and
the refund may draw on every one of those payments — never more than each holds."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from huibao.account.sms import reset_sms_backends
from huibao.policy import cancellation, endorsements
from huibao.policy.tests import endorsement_factories as ef
from huibao.policy.tests import factories as f
from huibao.rating.services import clear_cache
from huibao.sandbox import notifications

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sms_and_gateway(settings, monkeypatch):
    settings.SMS_BACKEND = "huibao.account.sms.ConsoleSmsBackend"
    reset_sms_backends()
    clear_cache()
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))
    yield
    reset_sms_backends()
    clear_cache()


def _applied(policy, kind: str, changes: dict) -> object:
    e = endorsements.request_endorsement(policy, kind, changes, actor=policy.customer)
    ef.confirm(e, policy.customer)
    e.refresh_from_db()
    if e.status == "awaiting_payment":
        ef.pay_delta(e)
        e.refresh_from_db()
    assert e.status == "applied"
    return e


def test_an_increase_paid_counts_and_its_own_payment_can_be_refunded() -> None:
    # given: a policy paid 320.00 at checkout; half a year on, a higher sum insured (600.00 a
    # year) whose delta for the half year left is paid
    policy = ef.covered_policy()
    ef.checkout_payment(policy, "320.00")
    with time_machine.travel(timezone.now() + datetime.timedelta(days=183), tick=False):
        e = _applied(policy, "sum_insured", {"sum_insured": "600000"})
        assert Decimal(0) < e.premium_delta < Decimal("280.00")
        policy.refresh_from_db()
        # when / then: paid = the checkout's 320.00 plus the delta, not today's annual premium
        paid = cancellation.figures(policy).paid
        assert paid == Decimal("320.00") + e.premium_delta
        assert policy.premium == Decimal("600.00") != paid
        # and the refund may draw on both payments, up to exactly that
        sources = cancellation.refund_sources(policy)
    assert len(sources) == 2
    assert sum(s.available for s in sources) == paid


def test_a_decrease_refunded_is_no_longer_paid() -> None:
    # given: a lower sum insured whose delta went back through the checkout payment
    policy = ef.covered_policy()
    ef.checkout_payment(policy, "320.00")
    e = _applied(policy, "sum_insured", {"sum_insured": "200000"})
    assert e.premium_delta < 0
    policy.refresh_from_db()
    # then: what is left paid is 320.00 less the refund, and no source offers more
    paid = cancellation.figures(policy).paid
    assert paid == Decimal("320.00") + e.premium_delta
    assert sum(s.available for s in cancellation.refund_sources(policy)) == paid
