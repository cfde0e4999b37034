"""The customer's claim pages and /api/v1/claims: owner only, errors naming the field, the
upload from the phone, the timeline; every status in the OpenAPI document."""

from __future__ import annotations

import datetime
import io

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from huibao.claim.models import Claim, ClaimMaterial
from huibao.claim.services import report_claim
from huibao.claim.states import ClaimStatus
from huibao.claim.tests.factories import (
    GOOD_CARD,
    in_force,
    jpeg,
    medical_policy,
    pdf,
    report_input,
    start_of,
)
from huibao.policy.actions import actions_for
from huibao.policy.tests.factories import customer, staff, staff_login

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def policy():
    return in_force(medical_policy(customer()))


@pytest.fixture
def day_130(policy):
    when = datetime.datetime.combine(start_of(policy), datetime.time(10)) + datetime.timedelta(days=130)
    with time_machine.travel(when, tick=False):
        yield


def _incident(policy, days=120):
    return (start_of(policy) + datetime.timedelta(days=days)).isoformat()


def _form(policy, **overrides):
    data = {
        "claim_type": "medical",
        "incident_date": _incident(policy),
        "region_code": "310101",
        "place": "上海市第一人民医院",
        "description": "急性阑尾炎住院手术",
        "amount_claimed": "8600",
        "social_insurance_settled": "1",
        "payee_name": "李春花",
        "payee_account": GOOD_CARD,
    }
    data.update(overrides)
    return data


def test_the_hub_offers_claim_on_an_in_force_policy(policy):
    keys = [a.key for a in actions_for(policy, policy.customer)]
    assert "claim" in keys


def test_report_page_is_owner_only_and_reports(client, policy, day_130):
    url = f"/claims/report/{policy.public_id}/"
    assert client.get(url).status_code == 302  # log in first
    client.force_login(customer())
    assert client.get(url).status_code == 404
    client.force_login(policy.customer)
    page = client.get(url)
    assert page.status_code == 200 and 'name="incident_date"' in page.content.decode()
    response = client.post(url, _form(policy))
    claim = Claim.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/claims/{claim.public_id}/"


def test_report_page_shows_the_refusal_on_the_field_and_saves_nothing(client, policy, day_130):
    client.force_login(policy.customer)
    response = client.post(f"/claims/report/{policy.public_id}/", _form(policy, amount_claimed="0"))
    assert response.status_code == 422
    assert "索赔金额须大于0元" in response.content.decode()
    waiting = client.post(
        f"/claims/report/{policy.public_id}/", _form(policy, incident_date=_incident(policy, 10))
    )
    assert "等待期" in waiting.content.decode()
    assert not Claim.objects.exists()


def test_the_live_check_explains_eligibility(client, policy, day_130):
    client.force_login(policy.customer)
    url = f"/claims/report/{policy.public_id}/check/"
    ok = client.post(url, {"claim_type": "medical", "incident_date": _incident(policy)}).content.decode()
    assert 'data-testid="eligible"' in ok and "等待期已过" in ok
    early = client.post(
        url, {"claim_type": "medical", "incident_date": _incident(policy, 10)}
    ).content.decode()
    assert 'data-testid="not-eligible"' in early and "等待期" in early


def test_detail_page_uploads_from_the_phone_shows_the_checklist_and_submits(client, policy, day_130):
    client.force_login(policy.customer)
    client.post(f"/claims/report/{policy.public_id}/", _form(policy))
    claim = Claim.objects.get()
    url = f"/claims/{claim.public_id}/"
    page = client.get(url).content.decode()
    assert 'accept="image/*,application/pdf" capture' in page and 'data-testid="checklist-missing"' in page
    fake = SimpleUploadedFile("photo.jpg", b"not an image at all", content_type="image/jpeg")
    refused = client.post(url, {"action": "upload", "kind": "id_card", "file": fake})
    assert refused.status_code == 422 and "不是图片或PDF" in refused.content.decode()
    assert not ClaimMaterial.objects.exists()
    for kind, data in (("id_card", jpeg()), ("invoice", pdf())):
        upload = SimpleUploadedFile("x.bin", data)
        assert client.post(url, {"action": "upload", "kind": kind, "file": upload}).status_code == 302
    page = client.get(url).content.decode()
    assert 'data-testid="checklist-complete"' in page and 'data-testid="submit"' in page
    assert client.post(url, {"action": "submit"}).status_code == 302
    claim.refresh_from_db()
    assert (
        claim.status == ClaimStatus.UNDER_REVIEW and claim.materials_complete_at is not None
    )  # over the fast-track limit
    page = client.get(url).content.decode()
    assert "材料已齐全，等待审核" in page and 'data-testid="upload-form"' not in page
    assert claim.number in client.get("/claims/").content.decode()
    client.force_login(customer())
    assert client.get(url).status_code == 404


def test_api_reports_uploads_submits_and_answers_errors_in_one_shape(client, policy, day_130):
    body = {k: v for k, v in _form(policy).items() if k != "social_insurance_settled"}
    body["policy_id"] = str(policy.public_id)
    assert client.post("/api/v1/claims", body, content_type="application/json").status_code == 401
    client.force_login(policy.customer)
    bad = client.post("/api/v1/claims", {**body, "amount_claimed": "-1"}, content_type="application/json")
    assert bad.status_code == 422
    assert {"field": "amount_claimed", "code": "amount_not_positive"}.items() <= bad.json()["errors"][
        0
    ].items()
    assert set(bad.json()) == {"code", "message", "errors"}
    created = client.post("/api/v1/claims", body, content_type="application/json")
    assert created.status_code == 201, created.content
    claim = created.json()
    assert claim["status"] == "reported" and claim["payee_account"].endswith("5679")
    assert GOOD_CARD not in created.content.decode()
    assert claim["missing"] == ["id_card", "invoice"]
    again = client.post("/api/v1/claims", body, content_type="application/json")
    assert again.status_code == 409 and Claim.objects.count() == 1
    base = f"/api/v1/claims/{claim['id']}"
    not_image = client.post(f"{base}/materials", {"kind": "invoice", "file": io.BytesIO(b"hello")})
    assert not_image.status_code == 422 and not_image.json()["errors"][0]["field"] == "file"
    early = client.post(f"{base}/submit", content_type="application/json")
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "materials"
    for kind, data in (("id_card", jpeg()), ("invoice", pdf())):
        uploaded = client.post(f"{base}/materials", {"kind": kind, "file": SimpleUploadedFile("a", data)})
        assert uploaded.status_code == 201, uploaded.content
    submitted = client.post(f"{base}/submit", content_type="application/json").json()
    assert submitted["status"] == "under_review"  # over the fast-track limit: queued at once
    assert [s["status"] for s in submitted["timeline"]] == ["reported", "materials_complete", "under_review"]
    assert [c["number"] for c in client.get("/api/v1/claims").json()] == [claim["number"]]
    withdrawn = client.post(
        f"{base}/withdraw", {"reason": "不需要了"}, content_type="application/json"
    ).json()
    assert withdrawn["status"] == "withdrawn"
    client.force_login(customer())
    assert client.get(base).status_code == 404


def test_api_eligibility_explains_before_reporting(client, policy, day_130):
    client.force_login(policy.customer)
    answer = client.post(
        "/api/v1/claims/eligibility",
        {"policy_id": str(policy.public_id), "claim_type": "medical", "incident_date": _incident(policy, 10)},
        content_type="application/json",
    ).json()
    assert answer["eligible"] is False and answer["problems"][0]["code"] == "in_waiting_period"


def test_api_eligibility_answers_in_english_for_an_english_customer(client, policy, day_130, settings):
    # given a customer who chose English
    client.force_login(policy.customer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    # when the claim is checked before reporting
    answer = client.post(
        "/api/v1/claims/eligibility",
        {"policy_id": str(policy.public_id), "claim_type": "medical", "incident_date": _incident(policy, 10)},
        content_type="application/json",
    ).json()
    # then the problem is explained in English
    assert answer["problems"][0]["message"].startswith("The incident date is in the waiting period:")


def test_openapi_documents_every_claim_status(client):
    schema = client.get("/api/openapi.json").json()
    text = str(schema["components"]["schemas"])
    for status in ClaimStatus.values:
        assert status in text


def test_the_back_office_shows_a_claim_read_only_with_the_account_masked(client, policy, day_130):
    claim = report_claim(policy.customer, report_input(policy))
    adjuster = staff("adjuster1", ["view_claim"], app_label="claim")
    staff_login(client, adjuster)
    page = client.get(f"/admin/claim/claim/{claim.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert claim.number in html and GOOD_CARD not in html and "5679" in html
