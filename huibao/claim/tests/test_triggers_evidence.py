"""The evidence of an event's payouts: one Merkle root per event in the audit chain, each
traveller's payout provable against it, and a changed payout, benefit or ledger entry failing
its proof."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from huibao.claim import triggers_evidence
from huibao.claim.event_models import TriggeredPayout, TriggerEvent
from huibao.claim.models import BenefitEntry
from huibao.claim.tests.trigger_factories import (
    KEY,
    SOURCE,
    flight_body,
    flight_policy,
    flight_version,
    signed,
)
from huibao.core import evidence
from huibao.core.models import AuditEntry, EvidenceLeaf, EvidenceRoot
from huibao.payment.models import Payout
from huibao.policy.tests.factories import customer

URL = f"/api/v1/events/{SOURCE}/flight"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keys(settings):
    settings.EVENT_SOURCE_KEYS = {SOURCE: KEY}


@pytest.fixture
def paid(client):
    """Three travellers on MU5101 paid by one delay event, and one whose benefit waits for an
    account (no stored account)."""
    version = flight_version()
    on_board = [flight_policy(version) for _ in range(3)]
    waiting = flight_policy(version, owner=customer(), account=False)
    body = flight_body(on_board[0], event_id="EV-PROOF", delay_minutes=250)
    response = client.post(URL, body, content_type="application/json", **signed(body))
    assert response.status_code == 200 and response.json()["payouts"] == 4, response.content
    return TriggerEvent.objects.get(event_id="EV-PROOF"), on_board, waiting


def _tp(policy) -> TriggeredPayout:
    return TriggeredPayout.objects.select_related("policy", "event", "payout").get(policy=policy)


def test_an_event_seals_one_root_for_all_its_payouts_not_an_entry_per_traveller(paid):
    # given / when: the event (the fixture)
    event, on_board, waiting = paid
    # then: one root over one leaf per traveller, under each payout's reference
    root = EvidenceRoot.objects.get(kind=triggers_evidence.KIND, batch_ref=f"E{event.pk}")
    refs = set(EvidenceLeaf.objects.filter(root=root).values_list("leaf_ref", flat=True))
    assert root.size == 4 and refs == {f"E{event.pk}:{p.number}" for p in [*on_board, waiting]}
    # and the chain holds the event's own entry and the root's, nothing per traveller
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions.count("evidence.seal") == 1 and actions.count("claim.trigger_event_received") == 1
    for per_traveller in ("claim.benefit_recorded", "payout.requested", "claim.triggered_payout"):
        assert per_traveller not in actions
    # and verify_audit recomputes the event's root from its leaves
    assert evidence.verify_roots() == []
    call_command("verify_audit")


def test_each_traveller_s_payout_is_provable_against_the_chain(paid, client, tmp_path):
    # given
    event, on_board, waiting = paid
    for policy in [*on_board, waiting]:
        tp = _tp(policy)
        # when
        proof = triggers_evidence.prove(tp)
        # then: the proof holds offline and against the chain, and the rows hash to the leaf
        assert evidence.check_proof(proof).ok
        assert triggers_evidence.check(tp).ok, triggers_evidence.check(tp).problems
        assert proof["leaf_ref"] == tp.payout.reference if tp.payout else f"E{event.pk}:{policy.number}"
    # the waiting benefit's document names no payout; the others their payout
    assert triggers_evidence.prove(_tp(waiting))["document"]["payout"] is None
    assert triggers_evidence.prove(_tp(on_board[0]))["document"]["payout"]["id"] == _tp(on_board[0]).payout_id
    # and the public proof endpoint answers the same proof, which the verifier command accepts
    staff = customer()
    client.force_login(staff)
    ref = f"E{event.pk}:{on_board[1].number}"
    answer = client.get(f"/api/v1/evidence/{triggers_evidence.KIND}/{ref}/proof")
    assert answer.status_code == 200, answer.content
    assert (
        answer.json()["digest"]
        == triggers_evidence.digest(triggers_evidence.document_of(_tp(on_board[1]))).hex()
    )
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(answer.json()), encoding="utf-8")
    call_command("verify_evidence_proof", str(path), "--chain")


@pytest.mark.parametrize("change", ["payout amount", "payout account", "benefit amount", "ledger entry"])
def test_a_changed_payout_or_benefit_fails_its_proof(paid, change):
    # given: one traveller's rows changed after the event
    _, on_board, _ = paid
    tp = _tp(on_board[0])
    other = _tp(on_board[1])
    if change == "payout amount":
        Payout.objects.filter(pk=tp.payout_id).update(amount=Decimal("2000.00"))
    elif change == "payout account":
        Payout.objects.filter(pk=tp.payout_id).update(account_number_hash="0" * 64, account_last4="0000")
    elif change == "benefit amount":
        TriggeredPayout.objects.filter(pk=tp.pk).update(amount=Decimal("2000.00"))
    else:
        BenefitEntry.objects.filter(reference=tp.payout.reference).update(paid=Decimal("2000.00"))
    # when
    checked = triggers_evidence.check(_tp(on_board[0]))
    # then: its proof fails, naming the rows; another traveller's still holds
    assert not checked.ok
    assert "the payout's rows no longer match the evidence sealed for the event" in checked.problems
    assert triggers_evidence.check(other).ok


def test_a_changed_sealed_leaf_is_reported_by_verify_audit(paid):
    # given: one traveller's sealed digest changed in the table
    event, on_board, _ = paid
    ref = f"E{event.pk}:{on_board[2].number}"
    forged = triggers_evidence.digest({"forged": True})
    EvidenceLeaf.objects.filter(kind=triggers_evidence.KIND, leaf_ref=ref).update(digest=forged)
    # when / then: the event's root no longer matches the chain's, and proving fails
    problems = evidence.verify_roots()
    assert len(problems) == 1 and f"{triggers_evidence.KIND}/E{event.pk}" in problems[0]
    with pytest.raises(CommandError):
        call_command("verify_audit")
    with pytest.raises(evidence.EvidenceCorrupted):
        triggers_evidence.prove(_tp(on_board[0]))


def test_the_same_event_again_seals_nothing_more(paid, client):
    # given
    _, on_board, _ = paid
    body = flight_body(on_board[0], event_id="EV-PROOF", delay_minutes=250)
    # when: delivered again, and a second report of the flight
    again = client.post(URL, body, content_type="application/json", **signed(body))
    other = flight_body(on_board[0], event_id="EV-PROOF-2", delay_minutes=250)
    second = client.post(URL, other, content_type="application/json", **signed(other))
    # then: nobody paid twice, one root only
    assert again.json()["duplicate"] is True and second.json()["payouts"] == 0
    assert EvidenceRoot.objects.filter(kind=triggers_evidence.KIND).count() == 1
    assert Payout.objects.filter(kind="trigger").count() == 3  # the waiting one has none yet
