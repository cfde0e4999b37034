"""/api/v1/fraud/: roles (fraud_analyst allowed, customer refused), the queue and a case,
clear/confirm, rule changes refused with the field named, the blacklist."""

from __future__ import annotations

import pytest

from huibao.account.models import User, UserKind
from huibao.fraud import selectors
from huibao.fraud.models import BlacklistEntry, FraudCase, FraudRule
from huibao.fraud.services import screen_claim
from huibao.fraud.tests.factories import staff_client, subject

pytestmark = pytest.mark.django_db
VALID_ID = "11010519491231002X"
API = "/api/v1/fraud"


@pytest.fixture
def analyst(client):
    return staff_client(client, "fraud_analyst")


def _case() -> FraudCase:
    screen_claim(subject(file_digests=("ab" * 32,), insured_id_hash="9" * 64))
    return FraudCase.objects.get(screening=screen_claim(subject(file_digests=("ab" * 32,))))


def test_a_customer_is_refused_everywhere(client) -> None:
    case = _case()
    customer = User.objects.create_user(
        username="13800000001", password="x-unused-123", kind=UserKind.CUSTOMER
    )
    client.force_login(customer)
    for url in (f"{API}/cases", f"{API}/cases/{case.public_id}", f"{API}/rules", f"{API}/blacklist"):
        response = client.get(url)
        assert response.status_code == 403 and response.json()["code"] == "staff_only"
    response = client.post(
        f"{API}/blacklist", {"id_number": VALID_ID, "reason": "x"}, content_type="application/json"
    )
    assert response.status_code == 403 and not BlacklistEntry.objects.exists()


def test_not_logged_in_is_401(client) -> None:
    assert client.get(f"{API}/cases").status_code == 401


def test_the_queue_and_a_case_with_its_evidence(analyst) -> None:
    case = _case()
    listed = analyst.get(f"{API}/cases").json()
    assert [c["reference"] for c in listed] == [case.claim.reference]
    one = analyst.get(f"{API}/cases/{case.public_id}").json()
    assert one["fired"][0]["code"] == "duplicate_invoice_file" and one["fired"][0]["matches"][0]["reference"]
    assert analyst.get(f"{API}/cases?rule=blacklisted").json() == []


def test_clear_and_confirm(analyst) -> None:
    case = _case()
    refused = analyst.post(
        f"{API}/cases/{case.public_id}/clearance", {"note": ""}, content_type="application/json"
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "note"
    taken = analyst.post(f"{API}/cases/{case.public_id}/take").json()
    assert taken["status"] == "in_review" and taken["assigned_to"] == "analyst"
    done = analyst.post(
        f"{API}/cases/{case.public_id}/confirmation",
        {"note": "确认", "blacklist_reason": "重复材料"},
        content_type="application/json",
    )
    assert done.status_code == 200 and done.json()["status"] == "confirmed"
    assert selectors.is_blacklisted(case.claim.claimant_id_hash)
    again = analyst.post(
        f"{API}/cases/{case.public_id}/clearance", {"note": "x"}, content_type="application/json"
    )
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"


def test_a_rule_change_makes_a_version_and_bad_parameters_name_the_field(analyst) -> None:
    rules = analyst.get(f"{API}/rules").json()
    assert {r["code"] for r in rules} >= {"duplicate_invoice_number", "just_under_fast_track"}
    bad = analyst.put(
        f"{API}/rules/just_under_fast_track",
        {"parameters": {"count": 3, "percent": "90", "days": 180, "threshold": "2000"}},
        content_type="application/json",
    )
    body = bad.json()
    assert bad.status_code == 422 and [e["field"] for e in body["errors"]] == ["parameters.percent"]
    assert FraudRule.objects.filter(code="just_under_fast_track").count() == 1
    good = analyst.put(
        f"{API}/rules/just_under_fast_track",
        {"parameters": {"count": 4, "percent": "5", "days": 90, "threshold": "2000"}, "reason": "收紧"},
        content_type="application/json",
    )
    assert (
        good.status_code == 200
        and good.json()["version"] == 2
        and good.json()["parameters"]["percent"] == "5"
    )
    assert analyst.put(f"{API}/rules/nope", {}, content_type="application/json").status_code == 404


def test_the_blacklist_over_the_api(analyst) -> None:
    bad = analyst.post(
        f"{API}/blacklist", {"id_number": "123", "reason": "x"}, content_type="application/json"
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "id_number"
    added = analyst.post(
        f"{API}/blacklist",
        {"id_number": VALID_ID, "name": "王五", "reason": "骗保"},
        content_type="application/json",
    )
    assert (
        added.status_code == 201 and added.json()["name"] == "王*" and VALID_ID not in added.content.decode()
    )
    duplicate = analyst.post(
        f"{API}/blacklist", {"id_number": VALID_ID, "reason": "y"}, content_type="application/json"
    )
    assert duplicate.status_code == 409
    entry_id = added.json()["id"]
    removed = analyst.post(
        f"{API}/blacklist/{entry_id}/removal", {"reason": "误报"}, content_type="application/json"
    )
    assert removed.status_code == 200 and removed.json()["removal_reason"] == "误报"
    assert analyst.get(f"{API}/blacklist").json() == []
    assert len(analyst.get(f"{API}/blacklist?include_removed=true").json()) == 1


def test_thresholds_through_the_api_need_two_leads(client) -> None:
    from django.test import Client

    alice = staff_client(Client(), "fraud_lead", username="api_lead_a")
    bob = staff_client(Client(), "fraud_lead", username="api_lead_b")
    # bad input: the project's error shape naming the field, nothing written
    bad = alice.post(
        f"{API}/thresholds", {"review_at": 80, "block_at": 50, "reason": "x"}, content_type="application/json"
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "block_at"
    sent = alice.post(
        f"{API}/thresholds",
        {"review_at": 30, "block_at": 90, "reason": "收紧"},
        content_type="application/json",
    )
    assert sent.status_code == 201 and sent.json()["status"] == "proposed"
    own = alice.post(f"{API}/thresholds/1/approval", {}, content_type="application/json")
    assert own.status_code == 403 and own.json()["code"] == "same_person"
    done = bob.post(f"{API}/thresholds/1/approval", {"note": "同意"}, content_type="application/json")
    assert done.status_code == 200 and done.json()["decided_by"] == "api_lead_b"
    page = staff_client(client, "fraud_analyst").get(f"{API}/thresholds").json()
    assert page["in_force"] == {"version": 1, "review_at": 30, "block_at": 90, "hold_enabled": True}
    # an analyst reads but cannot propose
    refused = client.post(
        f"{API}/thresholds", {"review_at": 20, "block_at": 90, "reason": "x"}, content_type="application/json"
    )
    assert refused.status_code == 403


def test_a_hold_is_listed_and_released_through_the_api(analyst) -> None:
    from huibao.fraud.models import FraudHold

    screen_claim(subject(invoice_numbers=("DUP-A",), insured_id_hash="9" * 64, claimant_id_hash="9" * 64))
    screen_claim(subject(invoice_numbers=("DUP-A",), insured_id_hash="k" * 64, claimant_id_hash="k" * 64))
    held = screen_claim(subject(insured_id_hash="k" * 64, claimant_id_hash="k" * 64))
    hold = FraudHold.objects.get(screening=held)
    listed = analyst.get(f"{API}/holds").json()
    assert [h["reference"] for h in listed] == [held.claim.reference] and listed[0]["then_route"] == "pass"
    bad = analyst.post(
        f"{API}/holds/{hold.public_id}/release", {"to": "later", "note": "x"}, content_type="application/json"
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "to"
    done = analyst.post(
        f"{API}/holds/{hold.public_id}/release",
        {"to": "review", "note": "一并复核"},
        content_type="application/json",
    )
    assert done.status_code == 200 and done.json()["released_to"] == "review"
    assert FraudCase.objects.filter(screening=held, status="open").exists()
