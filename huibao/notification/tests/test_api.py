from __future__ import annotations

import pytest

from huibao.notification import selectors, services
from huibao.notification.tests.conftest import ISSUED, make_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, customer):
    client.force_login(customer)
    client.get("/api/v1/messages")  # sets the CSRF cookie
    return client


def _csrf(client):
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value} if "csrftoken" in client.cookies else {}


def test_get_messages_lists_own_inbox_and_the_unread_count(api, customer):
    # given
    services.notify(user=customer, template="policy.issued", context=ISSUED, dedup_key="i:1", reference="P1")
    services.notify(
        user=make_customer(email="o@example.com"),
        template="service.notice",
        context={"title": "t", "text": "x"},
        dedup_key="o:1",
    )
    # when
    response = api.get("/api/v1/messages")
    # then
    body = response.json()
    assert response.status_code == 200
    assert body["unread_count"] == 1
    (message,) = body["messages"]
    assert message["title"] == "保单已生效：百万医疗险" and message["read"] is False
    assert message["reference"] == "P1"


def test_mark_read_and_the_error_shape_for_someone_elses(api, customer):
    # given
    mine = services.notify(user=customer, template="policy.issued", context=ISSUED, dedup_key="i:2")[0]
    theirs = services.notify(
        user=make_customer(email="o@example.com"),
        template="service.notice",
        context={"title": "t", "text": "x"},
        dedup_key="o:2",
    )[0]
    # when
    ok = api.post(f"/api/v1/messages/{mine.public_id}/read", **_csrf(api))
    refused = api.post(f"/api/v1/messages/{theirs.public_id}/read", **_csrf(api))
    # then
    assert ok.status_code == 200 and ok.json()["read"] is True
    assert refused.status_code == 404
    assert refused.json() == {"code": "message_not_found", "message": "消息不存在。", "errors": []}
    assert selectors.unread_count(customer) == 0


def test_preferences_round_trip(api, customer):
    assert api.get("/api/v1/message-preferences").json() == {"email": True, "sms": True, "marketing": False}
    response = api.put(
        "/api/v1/message-preferences",
        data={"email": False, "sms": True, "marketing": True},
        content_type="application/json",
        **_csrf(api),
    )
    assert response.status_code == 200
    assert selectors.preferences_of(customer).marketing is True
    assert selectors.preferences_of(customer).email is False


def test_messages_need_a_login(client):
    response = client.get("/api/v1/messages")
    assert response.status_code == 401
