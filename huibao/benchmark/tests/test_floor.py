"""The floor endpoint: one locked read of the caller's row, one audit entry, one small update, a
small JSON answer — with the application API's authentication, and out of the public OpenAPI."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from huibao.account.models import User, UserKind
from huibao.account.tokens import issue_token
from huibao.benchmark.models import FloorRow
from huibao.core.models import AuditEntry

pytestmark = [pytest.mark.django_db, pytest.mark.urls("huibao.benchmark.tests.urls")]


def _customer(name: str) -> User:
    user = User(username=name, kind=UserKind.CUSTOMER)
    user.set_unusable_password()
    user.save()
    return user


def _logged_in(user: User) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/api/openapi.json")  # any page: nothing sets the CSRF cookie; set it by hand
    client.cookies["csrftoken"] = "a" * 32
    return client


def _step(client: Client, row: FloorRow | uuid.UUID, step: int, **extra: str):
    public_id = row.public_id if isinstance(row, FloorRow) else row
    return client.post(
        f"/api/bench/floor/{public_id}",
        json.dumps({"step": step}),
        content_type="application/json",
        **extra,
    )


def test_a_step_locks_the_callers_row_writes_one_audit_entry_and_one_update():
    # given
    user = _customer("floor-a")
    row = FloorRow.objects.create(owner=user)
    client = _logged_in(user)
    entries = AuditEntry.objects.count()
    # when
    with CaptureQueriesContext(connection) as queries:
        response = _step(client, row, 3, HTTP_X_CSRFTOKEN="a" * 32)
    # then
    assert response.status_code == 200, response.content
    assert response.json() == {"id": str(row.public_id), "step": 3, "steps_done": 1}
    row.refresh_from_db()
    assert (row.step, row.steps_done) == (3, 1)
    assert AuditEntry.objects.count() == entries + 1
    entry = AuditEntry.objects.latest("id")
    assert (entry.action, entry.object_id, entry.actor_id) == (
        "bench.floor_step",
        str(row.public_id),
        user.pk,
    )
    sql = [q["sql"] for q in queries.captured_queries]
    writes = [s for s in sql if s.startswith(("INSERT", "UPDATE"))]
    assert [s.split()[0] + " " + s.split()[1 if s.startswith("UPDATE") else 2] for s in writes] == [
        'INSERT "core_auditentry"',
        'UPDATE "benchmark_floorrow"',
    ]
    locked = [s for s in sql if "benchmark_floorrow" in s and s.startswith("SELECT")]
    assert len(locked) == 1
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in locked[0]


def test_another_customers_row_answers_404_and_changes_nothing():
    # given
    owner, stranger = _customer("floor-owner"), _customer("floor-stranger")
    row = FloorRow.objects.create(owner=owner)
    client = _logged_in(stranger)
    entries = AuditEntry.objects.count()
    # when
    response = _step(client, row, 1, HTTP_X_CSRFTOKEN="a" * 32)
    # then
    assert response.status_code == 404
    assert response.json()["code"] == "floor_row_not_found"
    row.refresh_from_db()
    assert (row.step, row.steps_done) == (0, 0)
    assert AuditEntry.objects.count() == entries


def test_the_session_needs_the_csrf_token_and_a_log_in_as_the_real_steps_do():
    # given
    user = _customer("floor-csrf")
    row = FloorRow.objects.create(owner=user)
    # when
    without_token = _step(_logged_in(user), row, 1)
    anonymous = _step(Client(), row, 1)
    # then
    assert without_token.status_code == 403
    assert anonymous.status_code == 401
    row.refresh_from_db()
    assert row.steps_done == 0


def test_a_bearer_token_is_accepted_without_csrf_as_on_the_real_api():
    # given
    user = _customer("floor-token")
    row = FloorRow.objects.create(owner=user)
    secret = issue_token(user, name="bench").secret
    # when
    response = _step(Client(enforce_csrf_checks=True), row, 2, HTTP_AUTHORIZATION=f"Bearer {secret}")
    # then
    assert response.status_code == 200, response.content
    assert response.json()["steps_done"] == 1


def test_a_step_out_of_range_is_refused_naming_the_field():
    # given
    user = _customer("floor-range")
    row = FloorRow.objects.create(owner=user)
    # when
    response = _step(_logged_in(user), row, 10**6, HTTP_X_CSRFTOKEN="a" * 32)
    # then
    assert response.status_code == 422
    assert "step" in response.content.decode()
    row.refresh_from_db()
    assert row.steps_done == 0


def test_the_floor_is_not_in_the_public_openapi_document():
    # when
    paths = Client().get("/api/openapi.json").json()["paths"]
    # then
    assert paths
    assert not [p for p in paths if "bench" in p or "floor" in p]
