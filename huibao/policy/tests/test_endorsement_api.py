"""Endorsements over /api/v1 and on the customer's pages: owner-only, the one error shape, the
flow from a change to the applied version and its PDF, and the staff approval queue."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from huibao.account.sms import reset_sms_backends
from huibao.policy import endorsements
from huibao.policy.models import Endorsement, PolicyBeneficiary
from huibao.policy.tests import endorsement_factories as ef
from huibao.policy.tests import factories as f
from huibao.policy.tests.test_endorsement_rules import CHILD_ID, SPOUSE_ID
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


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client: Client, url: str, body: dict) -> tuple[int, dict]:
    response = client.post(url, json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def test_the_api_takes_a_change_from_request_to_applied_owner_only() -> None:
    policy = ef.covered_policy()
    client = _client(policy.customer)
    base = f"/api/v1/policies/{policy.public_id}/endorsements"
    status, body = _post(client, base, {"kind": "contact", "changes": {"phone": "13700007777"}})
    assert status == 201 and body["status"] == "requested" and body["number"] == f"{policy.number}-E01"
    assert "13700007777" not in json.dumps(body) and body["after"][0]["value"] == "137****7777"
    number = body["number"]
    # another customer sees nothing of it
    stranger = _client(f.customer())
    assert stranger.get(f"{base}/{number}").status_code == 404
    assert _post(stranger, base, {"kind": "contact", "changes": {"phone": "13700008888"}})[0] == 404
    assert Client().get(base).status_code == 401
    status, body = _post(client, f"{base}/{number}/confirmation-code", {})
    assert status == 202 and body["status"] == "awaiting_confirmation"
    code = ef.code_to()
    status, body = _post(
        client, f"{base}/{number}/confirmation", {"code": "000000" if code != "000000" else "111111"}
    )
    assert status == 422 and body["errors"][0]["field"] == "code"
    assert client.get(f"{base}/{number}").json()["status"] == "awaiting_confirmation"
    status, body = _post(client, f"{base}/{number}/confirmation", {"code": code})
    assert status == 200 and body["status"] == "applied" and body["version"] == 2
    assert body["pdf_url"].endswith("endorsement.pdf")
    listed = client.get(base).json()
    assert [e["number"] for e in listed] == [number]
    pdf = client.get(body["pdf_url"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert stranger.get(body["pdf_url"]).status_code == 404


def test_the_api_answers_bad_input_and_a_second_open_change_in_the_one_error_shape() -> None:
    policy = ef.covered_policy()
    client = _client(policy.customer)
    base = f"/api/v1/policies/{policy.public_id}/endorsements"
    status, body = _post(
        client,
        base,
        {
            "kind": "beneficiaries",
            "changes": {
                "mode": "named",
                "beneficiaries": [
                    {
                        "name": "李小宝",
                        "id_number": CHILD_ID,
                        "relation": "child",
                        "share_percent": 50,
                        "order": 1,
                    },
                    {
                        "name": "王大伟",
                        "id_number": SPOUSE_ID,
                        "relation": "spouse",
                        "share_percent": 40,
                        "order": 1,
                    },
                ],
            },
        },
    )
    assert status == 422 and body["code"] == "validation_failed"
    assert {(e["field"], e["code"]) for e in body["errors"]} == {("beneficiaries", "shares_not_100")}
    assert not Endorsement.objects.exists()
    assert _post(client, base, {"kind": "contact", "changes": {"phone": "13700007777"}})[0] == 201
    status, body = _post(client, base, {"kind": "beneficiaries", "changes": {"mode": "legal"}})
    assert status == 409 and body["code"] == "endorsement_open"


def test_staff_approve_through_the_api_with_the_permission_only() -> None:
    servicing = {
        **ef.SERVICING,
        "endorsements": {**ef.SERVICING["endorsements"], "needs_approval": ["contact"]},
    }
    policy = ef.covered_policy(servicing=servicing)
    e = endorsements.request_endorsement(policy, "contact", {"phone": "13700007777"}, actor=policy.customer)
    ef.confirm(e, policy.customer)
    clerk = f.staff_login(Client(), f.staff("clerk", []))
    assert clerk.get("/api/v1/staff/endorsements").status_code == 403
    approver = f.staff_login(Client(), f.staff("approver", ["approve_endorsement"]))
    queue = approver.get("/api/v1/staff/endorsements").json()
    assert [q["number"] for q in queue] == [e.number]
    status, body = _post(approver, f"/api/v1/staff/endorsements/{e.number}/rejection", {"reason": ""})
    assert status == 422
    status, body = _post(approver, f"/api/v1/staff/endorsements/{e.number}/approval", {"reason": "核实无误"})
    assert status == 200 and body["status"] == "applied"
    # the customer himself is no staff
    assert _client(policy.customer).get("/api/v1/staff/endorsements").status_code == 403


def test_the_openapi_document_lists_the_endorsement_statuses() -> None:
    schema = Client().get("/api/openapi.json").json()
    post = schema["paths"]["/api/v1/policies/{public_id}/endorsements"]["post"]
    assert {"201", "404", "409", "422"} <= set(post["responses"])


# --- pages ------------------------------------------------------------------------------------


def test_a_customer_changes_a_beneficiary_on_the_pages_and_sees_the_pdf_link() -> None:
    policy = ef.covered_policy()
    client = _client(policy.customer)
    hub = client.get(f"/policy/mine/{policy.public_id}/changes/")
    assert hub.status_code == 200 and "受益人变更" in hub.content.decode()
    url = f"/policy/mine/{policy.public_id}/changes/new/beneficiaries/"
    form = client.get(url)
    assert form.status_code == 200 and 'name="b-0-name"' in form.content.decode()
    bad = client.post(
        url,
        {
            "mode": "named",
            "b-0-name": "王大伟",
            "b-0-id_number": SPOUSE_ID,
            "b-0-relation": "spouse",
            "b-0-order": "1",
            "b-0-share_percent": "50.005",
        },
    )
    assert bad.status_code == 422 and "受益比例最多保留两位小数" in bad.content.decode()
    done = client.post(
        url,
        {
            "mode": "named",
            "b-0-name": "王大伟",
            "b-0-id_number": SPOUSE_ID,
            "b-0-relation": "spouse",
            "b-0-order": "1",
            "b-0-share_percent": "100",
        },
    )
    assert done.status_code == 302
    page_url = done["Location"]
    e = Endorsement.objects.get()
    assert page_url.endswith(f"/changes/{e.number}/")
    assert client.post(page_url + "code/").status_code == 302
    assert client.post(page_url + "confirm/", {"code": ef.code_to()}).status_code == 302
    page = client.get(page_url).content.decode()
    assert "已生效" in page and "endorsement.pdf" in page
    assert list(PolicyBeneficiary.objects.filter(policy=policy).values_list("name", flat=True)) == ["王大伟"]
    assert SPOUSE_ID not in page


def test_the_pages_are_owner_only_and_show_only_allowed_kinds() -> None:
    policy = ef.covered_policy(servicing={"endorsements": {"allowed": ["contact"]}})
    owner = _client(policy.customer)
    page = owner.get(f"/policy/mine/{policy.public_id}/changes/").content.decode()
    assert "联系方式变更" in page and "受益人变更" not in page
    assert owner.get(f"/policy/mine/{policy.public_id}/changes/new/beneficiaries/").status_code == 404
    stranger = _client(f.customer())
    assert stranger.get(f"/policy/mine/{policy.public_id}/changes/").status_code == 404
    assert Client().get(f"/policy/mine/{policy.public_id}/changes/").status_code == 302


def test_the_staff_queue_page_approves() -> None:
    servicing = {
        **ef.SERVICING,
        "endorsements": {**ef.SERVICING["endorsements"], "needs_approval": ["contact"]},
    }
    policy = ef.covered_policy(servicing=servicing)
    e = endorsements.request_endorsement(policy, "contact", {"phone": "13700007777"}, actor=policy.customer)
    ef.confirm(e, policy.customer)
    approver = f.staff_login(Client(), f.staff("approver", ["approve_endorsement"]))
    page = approver.get("/policy/staff/endorsements/")
    assert page.status_code == 200 and e.number in page.content.decode()
    assert (
        approver.post("/policy/staff/endorsements/", {"number": e.number, "decision": "approve"}).status_code
        == 302
    )
    e.refresh_from_db()
    assert e.status == "applied"
    clerk = f.staff_login(Client(), f.staff("clerk", []))
    assert clerk.get("/policy/staff/endorsements/").status_code == 403


def test_the_policy_detail_shows_the_data_an_endorsement_changed() -> None:
    policy = ef.covered_policy()
    e = endorsements.request_endorsement(
        policy, "sum_insured", {"sum_insured": "600000"}, actor=policy.customer
    )
    ef.confirm(e, policy.customer)
    ef.pay_delta(e)
    body = _client(policy.customer).get(f"/api/v1/policies/{policy.public_id}").json()
    assert body["sum_insured"] == "600000.00" and body["premium"] == "600.00"
    page = _client(policy.customer).get(f"/policy/mine/{policy.public_id}/").content.decode()
    assert "¥600.00" in page and "¥600,000.00" in page


def test_the_confirmation_page_asks_for_the_handwritten_signature_where_the_product_does() -> None:
    from huibao.catalog.models import ProductVersion

    servicing = {"endorsements": {**ef.SERVICING["endorsements"], "confirmation": "same_as_application"}}
    policy = ef.covered_policy(servicing=servicing)
    ProductVersion.objects.filter(pk=policy.product_version_id).update(
        application_rules={"signature": "handwritten"}
    )
    e = endorsements.request_endorsement(policy, "contact", {"phone": "13700007777"}, actor=policy.customer)
    client = _client(policy.customer)
    url = f"/policy/mine/{policy.public_id}/changes/{e.number}/"
    assert "data-signature-pad" not in client.get(url).content.decode()  # not before the code
    client.post(url + "code/")
    page = client.get(url).content.decode()
    assert "data-signature-pad" in page and f.HOLDER_NAME in page
    refused = client.post(url + "confirm/", {"code": ef.code_to()})
    assert refused.status_code == 422 and "请投保人在签名框内手写签名" in refused.content.decode()


def test_the_hub_offers_the_change_and_the_history_shows_it_with_the_data_version_at_a_date() -> None:
    import datetime

    import time_machine
    from django.utils import timezone

    policy = ef.covered_policy()
    client = _client(policy.customer)
    actions = client.get(f"/api/v1/policies/{policy.public_id}/actions").json()["actions"]
    endorse = next(a for a in actions if a["key"] == "endorse")
    assert endorse["url"] == f"/policy/mine/{policy.public_id}/changes/"
    assert endorse["api_url"] == f"/api/v1/policies/{policy.public_id}/endorsements"
    assert "保单变更" in client.get(f"/policy/mine/{policy.public_id}/").content.decode()
    later = timezone.now() + datetime.timedelta(days=3)
    with time_machine.travel(later):
        e = endorsements.request_endorsement(
            policy, "contact", {"phone": "13700007777"}, actor=policy.customer
        )
        ef.confirm(e, policy.customer)
    history = client.get(
        f"/api/v1/policies/{policy.public_id}/history?on={timezone.localdate(later):%Y-%m-%d}"
    )
    body = history.json()
    kinds = [(t["kind"], t["title"]) for t in body["timeline"] if t["kind"] == "endorsement"]
    assert kinds == [("endorsement", "申请联系方式变更"), ("endorsement", "联系方式变更生效")]
    assert body["as_of"]["data_version"] == 2
    before = client.get(
        f"/api/v1/policies/{policy.public_id}/history?on={timezone.localdate():%Y-%m-%d}"
    ).json()
    assert before["as_of"]["data_version"] == 1
    page = client.get(f"/policy/mine/{policy.public_id}/history/?on={timezone.localdate(later):%Y-%m-%d}")
    assert "保单数据第2版" in page.content.decode()
    # a lapsed policy offers no change
    from huibao.policy.models import Policy

    Policy.objects.filter(pk=policy.pk).update(status="lapsed")
    actions = client.get(f"/api/v1/policies/{policy.public_id}/actions").json()["actions"]
    assert "endorse" not in {a["key"] for a in actions}


def test_the_servicing_queue_has_the_pending_approvals_for_approvers_only() -> None:
    policy = ef.covered_policy(servicing=ef.with_approval("contact"))
    e = endorsements.request_endorsement(policy, "contact", {"phone": "13700007777"}, actor=policy.customer)
    ef.confirm(e, policy.customer)
    roles = ["view_policy", "view_insurerdelivery"]
    approver = f.staff_login(Client(), f.staff("approver", ["approve_endorsement", *roles]))
    page = approver.get("/policy/staff/servicing/")
    assert page.status_code == 200 and e.number in page.content.decode()
    other = f.staff_login(Client(), f.staff("viewer", roles))
    response = other.get("/policy/staff/servicing/")
    assert response.status_code == 200 and e.number not in response.content.decode()
