"""The servicing flows end to end: a cancellation confirmed with its SMS code and an endorsement
applied each book their commission through the new policy hooks."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.test import Client

from huibao.account.sms import reset_sms_backends
from huibao.finance import commissions
from huibao.finance.models import CommissionEntry
from huibao.finance.tests import commission_factories as fc
from huibao.policy import cancellation as svc
from huibao.policy import endorsements, services
from huibao.policy.tests import cancel_factories as cf
from huibao.policy.tests import endorsement_factories as ef
from huibao.policy.tests import factories as f
from huibao.rating.services import clear_cache
from huibao.sandbox import notifications

pytestmark = pytest.mark.django_db
D = Decimal
ISSUED = datetime.date(2026, 3, 1)


@pytest.fixture(autouse=True)
def _sms_and_gateway(settings, monkeypatch):
    settings.SMS_BACKEND = "huibao.account.sms.ConsoleSmsBackend"
    reset_sms_backends()
    clear_cache()
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))
    yield
    reset_sms_backends()
    clear_cache()


def test_a_cancellation_confirmed_inside_the_cooling_off_claws_the_commission_back() -> None:
    # given: a critical-illness policy (VAT-exempt) at 50% inbound, paid on the sandbox gateway
    user = f.customer()
    with cf.at(ISSUED):
        policy = cf.one_policy(user, premium="320.00")
    fc.plan("in-ci", [{"line": policy.product_version.product.line, "rate": "0.50"}], insurer=policy.insurer)
    commissions.book_issued(policy)
    assert commissions.earned_total(policy, direction="inbound") == D("160.00")
    # when: cancelled on the last day of the cooling-off period
    with cf.at(datetime.date(2026, 3, 16)):
        services.update_policy_statuses()
        c = svc.request_cancellation(policy, user=user, reason="no_longer_needed")
        svc.confirm(c, user=user, code=cf.sms_code())
    # then
    back = CommissionEntry.objects.get(key=f"commission:cancellation:{policy.number}:inbound")
    assert back.amount == D("-160.00") and back.explanation["method"] == "full_cooling_off"
    assert commissions.earned_total(policy, direction="inbound") == 0


def test_an_endorsement_lowering_the_premium_books_a_negative_commission() -> None:
    # given
    policy = ef.covered_policy()
    ef.checkout_payment(policy, "320.00")
    fc.plan("in-ci", [{"line": policy.product_version.product.line, "rate": "0.50"}], insurer=policy.insurer)
    # when: the sum insured lowered (premium 320 → 200), confirmed by SMS and applied
    e = endorsements.request_endorsement(
        policy, "sum_insured", {"sum_insured": "200000"}, actor=policy.customer
    )
    ef.confirm(e, policy.customer)
    e.refresh_from_db()
    assert e.status == "applied" and e.premium_delta < 0
    # then: 50% of the (negative) delta
    entry = CommissionEntry.objects.get(key=f"commission:endorsement:{e.number}:inbound")
    assert entry.amount == (e.premium_delta * D("0.50")).quantize(D("0.01")) and entry.amount < 0
    assert entry.event == "endorsement"
