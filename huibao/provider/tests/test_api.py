"""/api/v1/provider/: a provider's own tasks (another's is 404), and the operators' endpoints,
with bad input answered in the one error shape and changing nothing."""

from __future__ import annotations

import json

import pytest

from huibao.provider.models import ServiceProvider, ServiceTask
from huibao.provider.states import TaskStatus
from huibao.provider.tests import factories as f

pytestmark = pytest.mark.django_db
API = "/api/v1/provider"


def post(client, url, body=None):
    return client.post(url, json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def mine():
    return f.provider("深圳公估", regions=("4403",))


@pytest.fixture
def prov(client, mine):
    return f.login(client, f.provider_user(mine))


def test_provider_lists_reads_and_works_its_own_tasks(prov, mine):
    # given
    own = f.task(mine, reference="CLM-A")
    other = f.task(f.provider("别家"), reference="CLM-B")
    # when
    listed = prov.get(f"{API}/tasks").json()
    # then
    assert [t["subject_reference"] for t in listed] == ["CLM-A"]
    assert prov.get(f"{API}/tasks/{other.public_id}").status_code == 404
    assert post(prov, f"{API}/tasks/{other.public_id}/accept").status_code == 404
    accepted = post(prov, f"{API}/tasks/{own.public_id}/accept")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    noted = post(prov, f"{API}/tasks/{own.public_id}/updates", {"note": "已出发"})
    assert noted.json()["status"] == "in_progress"
    done = post(
        prov, f"{API}/tasks/{own.public_id}/completion", {"report": "查勘完毕", "assessed_amount": "800.00"}
    )
    assert done.status_code == 200
    assert done.json()["assessed_amount"] == "800.00"
    assert [e["action"] for e in done.json()["events"]] == [
        "offered",
        "accepted",
        "started",
        "note",
        "completed",
    ]
    assert prov.get(f"{API}/tasks?status=completed").json()[0]["id"] == str(own.public_id)
    other.refresh_from_db()
    assert other.status == TaskStatus.OFFERED


def test_bad_input_answers_the_error_shape_and_changes_nothing(prov, mine):
    task = f.task(mine)
    post(prov, f"{API}/tasks/{task.public_id}/accept")
    bad = post(prov, f"{API}/tasks/{task.public_id}/completion", {"report": "", "assessed_amount": "1.234"})
    assert bad.status_code == 422
    body = bad.json()
    assert body["code"] == "validation_failed"
    assert body["errors"][0]["field"] == "report" and body["errors"][0]["message"] == "请填写服务报告"
    again = post(prov, f"{API}/tasks/{task.public_id}/accept")
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    task.refresh_from_db()
    assert task.status == TaskStatus.ACCEPTED and task.events.count() == 2


def test_decline_over_the_api_names_the_new_task(prov, mine):
    task = f.task(mine)
    nxt = f.provider("广东公估")
    got = post(prov, f"{API}/tasks/{task.public_id}/decline", {"reason": "无空闲查勘员"})
    assert got.status_code == 200
    new = ServiceTask.objects.get(reoffer_of=task)
    assert got.json()["reoffered_as"] == str(new.public_id) and new.provider == nxt
    assert got.json()["task"]["status"] == "declined"


def test_not_logged_in_and_not_a_provider(client):
    assert client.get(f"{API}/tasks").status_code == 401
    f.login(client, f.staff("operator"))
    assert client.get(f"{API}/tasks").status_code == 404


@pytest.fixture
def adjuster(client):
    return f.login(client, f.staff("claims_adjuster"))


def test_adjuster_assigns_and_ranking_answers(adjuster):
    best = f.provider("深圳公估", regions=("4403",))
    f.provider("广东公估")
    ranked = adjuster.get(f"{API}/ranking?kind=survey&region=440305").json()
    assert [p["name"] for p in ranked] == ["深圳公估", "广东公估"]
    body = {"reference": "CLM-77", "region": "440305", "kind": "survey", "summary": "现场查勘"}
    first = post(adjuster, f"{API}/assignments", body)
    second = post(adjuster, f"{API}/assignments", body)
    assert first.status_code == 200 and first.json()["provider"] == best.name
    assert second.json()["id"] == first.json()["id"] and ServiceTask.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"kind": "rescue"}, "kind", "not_capable"),
        ({"region": "990000"}, "region", "unknown_region"),
        ({"kind": "flying"}, "kind", "unknown_kind"),
    ],
)
def test_assignment_bad_input(adjuster, change, field, code):
    chosen = f.provider("广东公估")
    body = {
        "reference": "CLM-78",
        "region": "440305",
        "kind": "survey",
        "provider_id": str(chosen.public_id),
        **change,
    }
    got = post(adjuster, f"{API}/assignments", body)
    assert got.status_code == 422
    assert [(e["field"], e["code"]) for e in got.json()["errors"]] == [(field, code)]
    assert not ServiceTask.objects.exists()


def test_operator_manages_providers_over_the_api(client):
    f.login(client, f.staff("operator"))
    body = {
        "code": "cd-hosp",
        "name": "成都某医院",
        "kind": "hospital",
        "capabilities": ["medical_review"],
        "regions": ["5101"],
    }
    created = post(client, f"{API}/providers", body)
    assert created.status_code == 201 and created.json()["regions"] == ["5101"]
    dup = post(client, f"{API}/providers", body)
    assert dup.status_code == 422 and dup.json()["errors"][0]["field"] == "code"
    assert ServiceProvider.objects.count() == 1
    listed = client.get(f"{API}/providers?region=51&kind=medical_review").json()
    assert [p["code"] for p in listed] == ["cd-hosp"]
    bad_region = client.get(f"{API}/providers?region=5")
    assert bad_region.status_code == 422 and bad_region.json()["errors"][0]["field"] == "region"
    pid = created.json()["id"]
    suspended = post(client, f"{API}/providers/{pid}/status", {"status": "suspended", "reason": "整改"})
    assert suspended.json()["status"] == "suspended"


def test_provider_staff_cannot_use_operator_endpoints(prov):
    assert prov.get(f"{API}/providers").status_code == 403
    assert (
        post(prov, f"{API}/assignments", {"reference": "X", "region": "44", "kind": "survey"}).status_code
        == 403
    )


def test_task_list_queries_do_not_grow_with_tasks(prov, mine, django_assert_max_num_queries):
    for n in range(6):
        task = f.task(mine, reference=f"CLM-Q{n}")
    from huibao.provider import services

    services.accept(task, actor=None)
    with django_assert_max_num_queries(12):
        listed = prov.get(f"{API}/tasks").json()
    assert len(listed) == 6 and [e["action"] for e in listed[-1]["events"]] == ["offered", "accepted"]
