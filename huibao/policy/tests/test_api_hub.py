"""GET /api/v1/policies/{id}/actions and /history?on=…: owner-only, statuses in OpenAPI."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from huibao.policy.lifecycle import lock_policy, transition
from huibao.policy.states import PolicyStatus
from huibao.policy.tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return f.customer()


@pytest.fixture
def policy(owner):
    return f.simple_issued(owner)


def test_actions_as_json_with_page_and_api_links(client, policy, owner) -> None:
    client.force_login(owner)
    response = client.get(f"/api/v1/policies/{policy.public_id}/actions")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "pending_start" and body["status_label"] == "待生效" and body["status_meaning"]
    found = {a["key"]: a for a in body["actions"]}
    assert found["epolicy"]["url"] == f"/policy/mine/{policy.public_id}/epolicy.pdf"
    assert found["epolicy"]["api_url"] == f"/api/v1/policies/{policy.public_id}/epolicy.pdf"
    assert found["history"]["api_url"] == f"/api/v1/policies/{policy.public_id}/history"
    assert [a["order"] for a in body["actions"]] == sorted(a["order"] for a in body["actions"])


def test_history_with_the_policy_as_of_a_day(client, policy, owner) -> None:
    locked = lock_policy(policy.pk)
    started = timezone.now() + datetime.timedelta(days=2)
    transition(locked, PolicyStatus.IN_FORCE, reason="start", actor="test", at=started)
    client.force_login(owner)
    body = client.get(f"/api/v1/policies/{policy.public_id}/history").json()
    assert [e["kind"] for e in body["timeline"]] == ["issued", "status"]
    assert body["timeline"][1]["status"] == "in_force" and body["timeline"][1]["title"] == "保单生效"
    assert body["as_of"] is None
    today = timezone.localdate()
    before = client.get(f"/api/v1/policies/{policy.public_id}/history?on={today.isoformat()}").json()["as_of"]
    assert before == {
        "on": today.isoformat(),
        "status": "pending_start",
        "status_label": "待生效",
        "existed": True,
        "covered": False,
        "data_version": 1,  # as issued
    }
    later = (timezone.localtime(started).date() + datetime.timedelta(days=1)).isoformat()
    after = client.get(f"/api/v1/policies/{policy.public_id}/history?on={later}").json()["as_of"]
    assert after["status"] == "in_force" and after["covered"] is True
    long_ago = client.get(f"/api/v1/policies/{policy.public_id}/history?on=2000-01-01").json()["as_of"]
    assert long_ago["existed"] is False and long_ago["status"] is None and long_ago["data_version"] is None


def test_a_bad_date_names_the_field(client, policy, owner) -> None:
    client.force_login(owner)
    response = client.get(f"/api/v1/policies/{policy.public_id}/history?on=2026-13-40")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_date" and body["errors"][0]["field"] == "on"


def test_owner_only(client, policy) -> None:
    assert client.get(f"/api/v1/policies/{policy.public_id}/actions").status_code == 401
    client.force_login(f.customer())
    for path in ("actions", "history"):
        response = client.get(f"/api/v1/policies/{policy.public_id}/{path}")
        assert response.status_code == 404 and response.json()["code"] == "policy_not_found"


def test_statuses_are_in_the_openapi_schema(client) -> None:
    schema = client.get("/api/openapi.json").json()
    assert "/api/v1/policies/{public_id}/actions" in schema["paths"]
    assert "/api/v1/policies/{public_id}/history" in schema["paths"]
    statuses = schema["components"]["schemas"]["PolicyStatus"]["enum"]
    assert set(statuses) == set(PolicyStatus.values)


def test_history_page_shows_the_timeline_and_the_day(client, policy, owner) -> None:
    client.force_login(owner)
    html = client.get(f"/policy/mine/{policy.public_id}/history/").content.decode()
    assert 'data-testid="timeline"' in html and "保单签发" in html and 'data-testid="as-of"' not in html
    today = timezone.localdate().isoformat()
    html = client.get(f"/policy/mine/{policy.public_id}/history/?on={today}").content.decode()
    assert 'data-testid="as-of"' in html and "保单状态为：待生效" in html and "当日保单不提供保障" in html
    bad = client.get(f"/policy/mine/{policy.public_id}/history/?on=yesterday")
    assert bad.status_code == 422 and "日期格式应为YYYY-MM-DD" in bad.content.decode()
