"""A flight's delay corrected after it paid: a higher hour band tops up the difference (once), a
lower one records the overpayment (no clawback)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from huibao.claim import triggers
from huibao.claim.event_models import (
    TriggerCorrection,
    TriggerCorrectionKind,
    TriggerCorrectionStatus,
    TriggeredPayout,
    TriggeredPayoutStatus,
)
from huibao.claim.models import BenefitUsage
from huibao.claim.tests.factories import GOOD_CARD
from huibao.claim.tests.trigger_factories import (
    FLIGHT_CLAIMS,
    KEY,
    SOURCE,
    flight_body,
    flight_policy,
    flight_version,
    signed,
)
from huibao.payment.models import Payout
from huibao.policy.tests.factories import customer

URL = f"/api/v1/events/{SOURCE}/flight"
pytestmark = pytest.mark.django_db
# 3 hours pays ¥100, 6 hours ¥200 (the sum insured).
BANDED = {
    **FLIGHT_CLAIMS,
    "coverages": {
        "delay": {
            "benefit_kind": "hourly_bands",
            "hour_bands": [{"hours": 3, "amount": 100}, {"hours": 6, "amount": 200}],
        }
    },
}


@pytest.fixture(autouse=True)
def _keys(settings):
    settings.EVENT_SOURCE_KEYS = {SOURCE: KEY}


@pytest.fixture
def version():
    return flight_version(BANDED)


def post(client, body: bytes):
    response = client.post(URL, body, content_type="application/json", **signed(body))
    assert response.status_code == 200, response.content
    return response.json()


def test_a_correction_into_a_higher_band_tops_up_the_difference_once(client, version):
    # given two travellers paid ¥100 for a 200-minute delay
    on_board = [flight_policy(version) for _ in range(2)]
    assert post(client, flight_body(on_board[0], event_id="A-1", delay_minutes=200))["payouts"] == 2
    assert set(TriggeredPayout.objects.values_list("amount", flat=True)) == {Decimal("100.00")}
    # when the feed corrects the delay to 400 minutes
    answer = post(client, flight_body(on_board[0], event_id="A-2", delay_minutes=400))
    # then each is topped up by ¥100 through a payout of its own, and the ledger holds ¥200
    assert answer["payouts"] == 2
    for tp in TriggeredPayout.objects.select_related("event", "policy"):
        correction = TriggerCorrection.objects.get(triggered_payout=tp)
        assert correction.kind == TriggerCorrectionKind.TOP_UP
        assert (correction.amount, correction.total_after) == (Decimal("100.00"), Decimal("200.00"))
        assert correction.status == TriggerCorrectionStatus.REQUESTED
        assert correction.payout is not None and correction.payout.amount == Decimal("100.00")
        assert correction.payout.reference == f"E{tp.event.pk}:{tp.policy.number}:T{correction.event.pk}"
        assert tp.amount == Decimal("100.00")  # the first benefit stays what it paid
        assert BenefitUsage.objects.get(policy=tp.policy, coverage_code="delay").paid == Decimal("200.00")
    assert Payout.objects.count() == 4
    # when the same correction comes again (another event id, the same delay)
    again = post(client, flight_body(on_board[0], event_id="A-3", delay_minutes=420))
    # then nothing more is paid
    assert again["payouts"] == 0
    assert Payout.objects.count() == 4 and TriggerCorrection.objects.count() == 2


def test_a_correction_into_a_lower_band_after_payment_records_an_overpayment(client, version):
    # given a traveller paid ¥200 for a 400-minute delay, the money arrived
    policy = flight_policy(version)
    post(client, flight_body(policy, event_id="B-1", delay_minutes=400))
    tp = TriggeredPayout.objects.select_related("payout").get()
    assert tp.payout is not None
    triggers.on_payout_succeeded(tp.payout)
    # when the feed corrects the delay to 200 minutes
    answer = post(client, flight_body(policy, event_id="B-2", delay_minutes=200))
    # then the overpayment of ¥100 is recorded, open; nothing is taken back from the customer
    assert answer["payouts"] == 0
    over = TriggerCorrection.objects.get()
    assert over.kind == TriggerCorrectionKind.OVERPAYMENT and over.status == TriggerCorrectionStatus.OPEN
    assert (over.amount, over.total_after, over.payout) == (Decimal("100.00"), Decimal("100.00"), None)
    assert Payout.objects.count() == 1
    tp.refresh_from_db()
    assert (tp.amount, tp.status) == (Decimal("200.00"), TriggeredPayoutStatus.PAID)
    # when the same correction comes again: nothing changes
    post(client, flight_body(policy, event_id="B-3", delay_minutes=210))
    assert TriggerCorrection.objects.count() == 1
    # when it is corrected below the threshold: the whole benefit was overpaid, the first superseded
    post(client, flight_body(policy, event_id="B-4", delay_minutes=100))
    rows = list(TriggerCorrection.objects.order_by("pk").values_list("status", "amount"))
    assert rows == [
        (TriggerCorrectionStatus.SUPERSEDED, Decimal("100.00")),
        (TriggerCorrectionStatus.OPEN, Decimal("200.00")),
    ]
    assert Payout.objects.count() == 1


def test_a_top_up_waits_with_the_unclaimed_benefit_and_is_paid_when_the_customer_claims(client, version):
    # given a traveller without a stored account, whose ¥100 benefit waits
    owner = customer()
    policy = flight_policy(version, owner=owner, account=False)
    post(client, flight_body(policy, event_id="C-1", delay_minutes=200))
    post(client, flight_body(policy, event_id="C-2", delay_minutes=400))
    tp = TriggeredPayout.objects.get()
    top_up = TriggerCorrection.objects.get()
    assert top_up.status == TriggerCorrectionStatus.AWAITING_ACCOUNT and top_up.payout is None
    assert not Payout.objects.exists()
    # when the customer gives an account
    client.force_login(owner)
    response = client.post(
        f"/claims/auto/{tp.public_id}/", {"payee_name": "李春花", "account_number": GOOD_CARD}
    )
    # then the benefit and its top-up are both paid
    assert response.status_code == 302
    assert sorted(Payout.objects.values_list("amount", flat=True)) == [Decimal("100.00"), Decimal("100.00")]
    top_up.refresh_from_db()
    assert top_up.status == TriggerCorrectionStatus.REQUESTED and top_up.payout is not None
    # and the top-up's payout result moves the top-up, not the benefit
    triggers.on_payout_succeeded(top_up.payout)
    top_up.refresh_from_db()
    tp.refresh_from_db()
    assert top_up.status == TriggerCorrectionStatus.PAID and tp.status == TriggeredPayoutStatus.REQUESTED
