"""The policy endpoints of /api/v1: the customer's policies (only their own), detail, the signed
e-policy, public verification without personal data (rate limited), NPS once per application."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from huibao.esign.pdf import verify_pdf
from huibao.policy.limits import VERIFY_LIMIT
from huibao.policy.models import NpsResponse
from huibao.policy.tests import factories as f
from huibao.policy.tests.test_web import personal_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return f.customer("13900005555")


@pytest.fixture
def policy(owner):
    version = f.product_version(insurer_code="zhongan")
    person = f.Person(beneficiaries=[("王大宝", "child", Decimal(100))])
    app = f.application([(version, person, 500_000, "320.00", {"term": "1y"})], customer=owner)
    return f.issue(app)[0]


def test_list_and_detail_show_only_the_customers_own_policies(client, owner, policy) -> None:
    other = f.simple_issued(f.customer("13900006666"))
    client.force_login(owner)
    listed = client.get("/api/v1/policies")
    assert listed.status_code == 200
    assert [(p["id"], p["number"]) for p in listed.json()] == [(str(policy.public_id), policy.number)]
    detail = client.get(f"/api/v1/policies/{policy.public_id}")
    assert detail.status_code == 200 and detail.json()["premium"] == "320.00"
    assert client.get(f"/api/v1/policies/{other.public_id}").status_code == 404


def test_policies_need_a_log_in(client, policy) -> None:
    assert client.get("/api/v1/policies").status_code == 401
    assert client.get(f"/api/v1/policies/{policy.public_id}/epolicy.pdf").status_code == 401


def test_epolicy_download_is_a_valid_signed_pdf(client, owner, policy) -> None:
    client.force_login(owner)
    response = client.get(f"/api/v1/policies/{policy.public_id}/epolicy.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert verify_pdf(response.content).valid


def test_verification_is_public_and_shows_no_personal_data(client, policy) -> None:
    response = client.get(f"/api/v1/policies/verify/{policy.verification_code}")
    assert response.status_code == 200
    body = response.content.decode()
    assert json.loads(body)["number"] == policy.number
    for secret in personal_data(policy):
        assert secret not in body, secret
    missing = client.get("/api/v1/policies/verify/not-a-code")
    assert missing.status_code == 404 and missing.json()["code"] == "not_genuine"


def test_verification_is_rate_limited_per_address(client, policy) -> None:
    for _ in range(VERIFY_LIMIT):
        client.get("/api/v1/policies/verify/guess")
    limited = client.get(f"/api/v1/policies/verify/{policy.verification_code}")
    assert limited.status_code == 429 and limited.json()["code"] == "too_many_checks"


def test_nps_is_recorded_once_and_out_of_range_is_refused(client, owner, policy) -> None:
    client.force_login(owner)
    url = f"/api/v1/applications/{policy.application.public_id}/nps"
    bad = client.post(url, {"score": 11}, content_type="application/json")
    assert bad.status_code == 422 and not NpsResponse.objects.exists()
    ok = client.post(url, {"score": 10, "comment": "很快"}, content_type="application/json")
    assert ok.status_code == 201 and ok.json()["score"] == 10
    again = client.post(url, {"score": 3}, content_type="application/json")
    assert again.status_code == 409
    assert list(NpsResponse.objects.values_list("score", "comment")) == [(10, "很快")]
