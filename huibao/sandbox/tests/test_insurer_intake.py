"""The sandbox insurer's one intake (`insurer.receive`) over its three subjects: what each books,
the acknowledgement it owes, and where they differ (the key, the reference, a booked policy
first)."""

from __future__ import annotations

import json

import pytest

from huibao.sandbox import insurer
from huibao.sandbox.insurer import CANCELLATION, ENDORSEMENT, POLICY, SandboxUnavailable
from huibao.sandbox.models import SandboxInsurerCancellation, SandboxInsurerEndorsement, SandboxInsurerPolicy

pytestmark = pytest.mark.django_db

CALLBACK = "https://huibao.example/insurer/ack/sandbox/"
CANCELLATION_ID = "2b7c4c84-0c1e-4a38-9a55-8f0a1c0d0e11"
POLICY_PAYLOAD = {"insurer_code": "PICC", "policy_number": "P0001", "premium": "12.30"}


@pytest.fixture
def owed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(insurer.notifications, "owe", lambda name, key: calls.append((name, key)))
    return calls


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        (POLICY, "payload without insurer_code or policy_number"),
        (ENDORSEMENT, "payload without insurer_code, policy_number or endorsement_number"),
        (CANCELLATION, "payload without insurer_code, policy_number or cancellation_id"),
    ],
)
def test_a_payload_without_its_keys_is_a_bad_request_naming_them(subject, message) -> None:
    payload = {"insurer_code": "PICC", "policy_number": "" if subject is POLICY else "P0001"}
    with pytest.raises(SandboxUnavailable) as raised:
        insurer.receive(subject, payload, callback_url=CALLBACK)
    assert (raised.value.code, str(raised.value)) == ("bad_request", message)


def test_a_policy_is_booked_with_its_acknowledgement_owed(owed) -> None:
    ref = insurer.receive(POLICY, POLICY_PAYLOAD, callback_url=CALLBACK)
    record = SandboxInsurerPolicy.objects.get(ref=ref)
    assert ref.startswith("SBI") and len(ref) == 23
    assert record.notify_url == CALLBACK
    assert insurer.received_payload(ref) == POLICY_PAYLOAD
    body = json.loads(record.notify_body)
    assert body == {
        "notify_id": record.notify_id,
        "ref": ref,
        "policy_number": "P0001",
        "insurer_code": "PICC",
        "status": "accepted",
        "reason": "",
    }
    assert owed == [(insurer.CHANNEL.name, ref)]


@pytest.mark.parametrize(
    ("subject", "key", "value", "model", "prefix"),
    [
        (ENDORSEMENT, "endorsement_number", "E0001-01", SandboxInsurerEndorsement, "SBE"),
        (
            CANCELLATION,
            "cancellation_id",
            CANCELLATION_ID,
            SandboxInsurerCancellation,
            "SBC",
        ),
    ],
)
def test_an_endorsement_or_a_cancellation_needs_the_policy_booked_and_names_itself(
    owed, subject, key, value, model, prefix
) -> None:
    payload = {"insurer_code": "PICC", "policy_number": "P0001", key: value}
    with pytest.raises(SandboxUnavailable) as raised:
        insurer.receive(subject, payload, callback_url=CALLBACK)
    assert raised.value.code == "unknown_policy"
    assert not model.objects.exists()

    insurer.receive(POLICY, POLICY_PAYLOAD, callback_url=CALLBACK)
    ref = insurer.receive(subject, payload, callback_url=CALLBACK)
    record = model.objects.get(ref=ref)
    assert ref.startswith(prefix) and getattr(record, key) == value
    assert insurer.received(subject, ref) == payload
    body = json.loads(record.notify_body)
    assert (body[key], body["policy_number"], body["ref"]) == (value, "P0001", ref)
    assert owed[-1] == (subject.channel.name, ref)
    assert str(record) == f"PICC {value} → {ref}"


@pytest.mark.parametrize("subject", [POLICY, ENDORSEMENT])
def test_sent_again_the_same_reference_and_the_acknowledgement_again_only_while_unanswered(
    owed, subject
) -> None:
    insurer.receive(POLICY, POLICY_PAYLOAD, callback_url=CALLBACK)
    payload = {**POLICY_PAYLOAD, "endorsement_number": "E0001-01"}
    first = insurer.receive(subject, payload, callback_url=CALLBACK)
    owed.clear()
    assert insurer.receive(subject, payload, callback_url=CALLBACK) == first
    assert owed == [(subject.channel.name, first)]
    subject.model._default_manager.filter(ref=first).update(acknowledged_at="2026-01-01T00:00:00Z")
    owed.clear()
    assert insurer.receive(subject, payload, callback_url=CALLBACK) == first
    assert owed == []
    assert subject.model._default_manager.count() == 1


def test_a_cancellations_reference_is_derived_from_it() -> None:
    made = CANCELLATION.make_ref("PICC", "P0001", "c-1")
    assert made == CANCELLATION.make_ref("PICC", "P0001", "c-1")
    assert made != CANCELLATION.make_ref("PICC", "P0001", "c-2")
    assert POLICY.make_ref("PICC", "P0001", "P0001") != POLICY.make_ref("PICC", "P0001", "P0001")


def test_unknown_references_name_their_subject() -> None:
    for subject in (POLICY, ENDORSEMENT, CANCELLATION):
        with pytest.raises(insurer.SandboxError, match=f"no sandbox insurer {subject.noun} 'nope'"):
            insurer.received(subject, "nope")
