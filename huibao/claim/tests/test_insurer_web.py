"""The chase board, the chase button and the settings page (staff only, by permission), the API
under /api/v1/claim-insurers/, and the signed material links the insurer fetches."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.test import Client

from huibao.claim import insurer
from huibao.claim.insurer_models import ClaimChase, InsurerClaimDelivery
from huibao.claim.models import InsurerClaimSettings
from huibao.claim.tests.factories import in_force, medical_policy
from huibao.claim.tests.insurer_factories import at, complete_claim, connector_mode, staff
from huibao.policy.tests.factories import customer
from huibao.sandbox import insurer_claims

pytestmark = pytest.mark.django_db
BOARD = "/claims/staff/insurers/"
SETTINGS = "/claims/staff/insurers/settings/"
API = "/api/v1/claim-insurers"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    insurer_claims.CLAIM_FAULTS.force(0)


@pytest.fixture
def owner():
    return customer()


@pytest.fixture
def policy(owner):
    return in_force(medical_policy(owner))


@pytest.fixture
def claim(owner, policy):
    connector_mode(policy, days=10)
    with at(policy, 130):
        made = complete_claim(owner, policy)
    with at(policy, 130, 1):
        insurer.deliver_claim(InsurerClaimDelivery.objects.get(claim=made).pk)
    made.refresh_from_db()
    return made


def test_a_customer_or_a_stranger_is_kept_out(client, owner, claim) -> None:
    # given: not logged in, then the customer
    assert client.get(BOARD).status_code == 302
    client.force_login(owner)
    # when
    page = client.get(BOARD)
    chase = client.post(f"/claims/staff/{claim.public_id}/chase/")
    api = client.get(f"{API}/waiting")
    # then
    assert page.status_code == 302 and "/staff/" in page["Location"]
    assert chase.status_code == 302 and not ClaimChase.objects.exists()
    assert api.status_code == 403 and api.json()["code"] == "staff_only"


def test_staff_without_the_claim_permission_get_403(client, claim) -> None:
    # given: an underwriter
    staff(client, "underwriter")
    # then
    assert client.get(BOARD).status_code == 403
    assert client.post(f"/claims/staff/{claim.public_id}/chase/").status_code == 403
    assert client.get(f"{API}/waiting").json()["code"] == "not_allowed"
    assert not ClaimChase.objects.exists()


def test_the_board_shows_the_waiting_claim_its_steps_and_the_overdue_flag(client, policy, claim) -> None:
    # given: a claims adjuster; 12 days after complete materials (promised 10)
    with time_machine.travel(claim.materials_complete_at + datetime.timedelta(days=12), tick=False):
        staff(client, "claims_adjuster")
        # when
        page = client.get(BOARD)
        api = client.get(f"{API}/waiting").json()
    # then
    html = page.content.decode()
    assert page.status_code == 200 and claim.number in html
    assert 'data-overdue="1"' in html and "已超时" in html and "已转保险公司" in html
    assert "12天" in html  # the time since complete materials
    [group] = api
    assert group["insurer_code"] == policy.insurer.code and group["mode"] == "connector"
    assert group["overdue"] == 1 and group["claims"][0]["delivery_status"] == "sent"
    assert [s["label"] for s in group["claims"][0]["steps"]] == ["报案", "材料齐全", "已转保险公司"]


def test_the_chase_button_records_a_chase(client, policy, claim) -> None:
    # when
    with at(policy, 133):
        staff(client, "claims_adjuster")
        response = client.post(f"/claims/staff/{claim.public_id}/chase/", {"note": "第二次催办"})
        board = client.get(response["Location"]).content.decode()
    # then: sent again (the insurer had not yet said it took it)
    assert response.status_code == 302 and "已催办" in board
    chase = ClaimChase.objects.get(claim=claim)
    assert chase.action == "resent" and chase.note == "第二次催办"


def test_the_chase_over_the_api(client, policy, claim) -> None:
    # when
    with at(policy, 133):
        staff(client, "claims_adjuster")
        response = client.post(
            f"{API}/claims/{claim.public_id}/chase", {"note": "api"}, content_type="application/json"
        )
        missing = client.post(
            f"{API}/claims/00000000-0000-0000-0000-000000000000/chase", {}, content_type="application/json"
        )
    # then
    assert response.status_code == 200 and response.json()["action"] == "resent"
    assert missing.status_code == 404 and missing.json()["code"] == "claim_not_found"
    assert ClaimChase.objects.count() == 1


def test_an_operator_sets_an_insurer_on_the_page_and_bad_days_are_refused(client, policy) -> None:
    # given
    staff(client, "operator")
    code = policy.insurer.code
    # when: 45 days
    bad = client.post(
        SETTINGS, {"insurer": code, "mode": "connector", "decision_days": "45", "payer": "insurer"}
    )
    # then: refused naming the field, nothing saved
    assert bad.status_code == 422
    assert 'data-field="decision_days"' in bad.content.decode()
    assert not InsurerClaimSettings.objects.exists()
    # when
    good = client.post(
        SETTINGS, {"insurer": code, "mode": "connector", "decision_days": "20", "payer": "insurer"}
    )
    # then
    assert good.status_code == 302
    row = InsurerClaimSettings.objects.get(insurer=policy.insurer)
    assert (row.mode, row.decision_days, row.payer) == ("connector", 20, "insurer")
    assert code in client.get(SETTINGS).content.decode()


def test_settings_over_the_api(client, policy) -> None:
    # given
    staff(client, "operator")
    url = f"{API}/{policy.insurer.code}/settings"
    # when
    bad = client.put(
        url, {"mode": "fax", "decision_days": 31, "payer": "platform"}, content_type="application/json"
    )
    good = client.put(
        url, {"mode": "connector", "decision_days": 7, "payer": "platform"}, content_type="application/json"
    )
    listed = client.get(f"{API}/settings").json()
    # then
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"mode", "decision_days"}
    assert good.status_code == 200 and good.json()["decision_days"] == 7
    assert any(r["insurer_code"] == policy.insurer.code and r["configured"] for r in listed)


def test_a_claims_adjuster_cannot_change_settings(client, policy) -> None:
    staff(client, "claims_adjuster")
    assert client.get(SETTINGS).status_code == 403
    response = client.put(
        f"{API}/{policy.insurer.code}/settings",
        {"mode": "connector", "decision_days": 7, "payer": "platform"},
        content_type="application/json",
    )
    assert response.status_code == 403 and not InsurerClaimSettings.objects.exists()


def test_the_insurer_fetches_a_material_by_its_signed_link_only(claim) -> None:
    # given: the links the insurer received
    received = insurer_claims.received_claim(claim.number)
    url = next(m["url"] for m in received["materials"] if m["kind"] == "invoice")
    path = url.removeprefix("https://huibao.example")
    anonymous = Client()
    # when
    ok = anonymous.get(path)
    forged = anonymous.get(path[:-3] + "abc/")
    # then
    assert ok.status_code == 200 and b"".join(ok.streaming_content).startswith(b"%PDF")
    assert ok["Cache-Control"] == "private, no-store"
    assert forged.status_code == 404


def test_the_demo_sets_insurers_each_way_once() -> None:
    # given: four insurers
    from huibao.catalog.models import Insurer
    from huibao.claim.insurer_demo import load_insurer_settings

    for code in ("ZA", "PA", "TK", "CP"):
        Insurer.objects.create(
            code=f"demo{code.lower()}", name=f"演示保险{code}", short_name=code, kind="life"
        )
    # when
    first = load_insurer_settings()
    again = load_insurer_settings()
    # then
    modes = sorted(InsurerClaimSettings.objects.values_list("mode", "payer"))
    assert first == Insurer.objects.count() and again == 0
    assert ("connector", "insurer") in modes and ("connector", "platform") in modes
    assert ("back_office", "platform") in modes
