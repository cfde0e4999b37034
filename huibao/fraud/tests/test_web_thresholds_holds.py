"""The threshold and hold pages: an analyst reads the thresholds but cannot propose; a lead
proposes (bad input refused naming the field, nothing written), another lead approves on the
page and the version is in force; the held claims listed and released with a note."""

from __future__ import annotations

import pytest
from django.test import Client

from huibao.fraud import selectors
from huibao.fraud.models import FraudHold, FraudPolicy
from huibao.fraud.services import screen_claim
from huibao.fraud.tests.factories import staff_client, subject

pytestmark = pytest.mark.django_db


def _held() -> FraudHold:
    screen_claim(subject(invoice_numbers=("DUP-H",), insured_id_hash="9" * 64, claimant_id_hash="9" * 64))
    screen_claim(subject(invoice_numbers=("DUP-H",), insured_id_hash="h" * 64, claimant_id_hash="h" * 64))
    held = screen_claim(subject(insured_id_hash="h" * 64, claimant_id_hash="h" * 64))
    return FraudHold.objects.get(screening=held)


def test_an_analyst_sees_the_thresholds_but_cannot_propose(client) -> None:
    analyst = staff_client(client, "fraud_analyst")
    page = analyst.get("/fraud/thresholds/")
    html = page.content.decode()
    assert (
        page.status_code == 200
        and 'data-testid="review-at">40<' in html
        and 'data-testid="propose"' not in html
    )
    refused = analyst.post("/fraud/thresholds/", {"review_at": "20", "block_at": "90", "reason": "x"})
    assert refused.status_code == 403 and not FraudPolicy.objects.exists()


def test_a_lead_proposes_and_another_lead_approves_on_the_page() -> None:
    alice = staff_client(Client(), "fraud_lead", username="lead_alice")
    bob = staff_client(Client(), "fraud_lead", username="lead_bob")
    # bad input: refused naming the field, nothing written
    bad = alice.post("/fraud/thresholds/", {"review_at": "90", "block_at": "60", "reason": "收紧"})
    assert bad.status_code == 422 and 'data-field="block_at"' in bad.content.decode()
    assert not FraudPolicy.objects.exists()
    # a proposal
    sent = alice.post(
        "/fraud/thresholds/", {"review_at": "30", "block_at": "90", "hold_enabled": "1", "reason": "收紧"}
    )
    assert sent.status_code == 302
    pending = FraudPolicy.objects.get()
    assert pending.status == "proposed" and selectors.thresholds_in_force().version == 0
    # the proposer is offered no approval; their own approval is refused
    assert (
        f"/fraud/thresholds/{pending.version}/approve/"
        not in alice.get("/fraud/thresholds/").content.decode()
    )
    alice.post(f"/fraud/thresholds/{pending.version}/approve/", {"note": ""})
    pending.refresh_from_db()
    assert pending.status == "proposed"
    # the other lead approves: in force
    page = bob.get("/fraud/thresholds/").content.decode()
    assert f"/fraud/thresholds/{pending.version}/approve/" in page
    assert bob.post(f"/fraud/thresholds/{pending.version}/approve/", {"note": "同意"}).status_code == 302
    assert selectors.thresholds_in_force().review_at == 30
    html = bob.get("/fraud/thresholds/").content.decode()
    assert 'data-testid="review-at">30<' in html and 'data-version="1"' in html


def test_the_held_claims_are_listed_and_released_with_a_note(client) -> None:
    hold = _held()
    analyst = staff_client(client, "fraud_analyst")
    page = analyst.get("/fraud/holds/").content.decode()
    assert f'data-hold="{hold.public_id}"' in page and hold.claim.reference in page
    missing = analyst.post(f"/fraud/holds/{hold.public_id}/release/", {"to": "pass", "note": ""})
    assert missing.status_code == 422 and 'data-field="note"' in missing.content.decode()
    hold.refresh_from_db()
    assert hold.status == "held"
    done = analyst.post(f"/fraud/holds/{hold.public_id}/release/", {"to": "pass", "note": "已电话核实"})
    assert done.status_code == 302
    hold.refresh_from_db()
    assert (hold.status, hold.released_to, hold.released_by) == ("released", "pass", analyst.user)
