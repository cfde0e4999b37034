"""The sandbox partner's webhook receiver: it verifies what the platform signs, refuses a forgery,
drops a duplicate, and fails on demand so the platform's retries can be seen."""

from __future__ import annotations

import datetime
import json

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from huibao.fraud.tests.factories import staff_client
from huibao.sandbox import partner_webhooks
from huibao.sandbox.models import SandboxPartnerWebhook
from huibao.webhook import rules, sending, services, tasks
from huibao.webhook.models import WebhookDelivery
from huibao.webhook.states import DeliveryStatus


def _signed(secret: str, body: bytes, webhook_id: str = "evt_1", at: int | None = None) -> dict[str, str]:
    ts = at if at is not None else int(timezone.now().timestamp())
    return {
        "HTTP_HUIBAO_WEBHOOK_ID": webhook_id,
        "HTTP_HUIBAO_TIMESTAMP": str(ts),
        "HTTP_HUIBAO_SIGNATURE": rules.signature(secret, webhook_id, ts, body),
    }


@pytest.fixture
def endpoint(db, settings):
    settings.HUIBAO_WEBHOOK_ALLOW_HTTP = True
    return services.create_endpoint(
        "CH001", "http://127.0.0.1:9/sandbox/partner-webhooks/CH001/", ["policy.issued"]
    )


@pytest.mark.django_db
def test_the_receiver_accepts_a_signed_webhook_and_refuses_a_forged_one(endpoint):
    _, secret = endpoint
    url = reverse("sandbox:partner_webhooks", args=["CH001"])
    body = json.dumps({"id": "evt_1", "type": "policy.issued", "data": {}}).encode()
    client = Client(enforce_csrf_checks=True)
    ok = client.post(url, body, content_type="application/json", **_signed(secret, body))
    assert ok.status_code == 200 and ok.json() == {"received": True, "duplicate": False}
    again = client.post(url, body, content_type="application/json", **_signed(secret, body))
    assert again.status_code == 200 and again.json()["duplicate"] is True
    forged = client.post(url, body, content_type="application/json", **_signed("whsec_guess", body))
    assert forged.status_code == 401 and forged.json() == {"error": "bad_signature"}
    tampered = client.post(
        url, body.replace(b"policy", b"claims"), content_type="application/json", **_signed(secret, body)
    )
    assert tampered.status_code == 401
    stale = client.post(
        url,
        body,
        content_type="application/json",
        **_signed(secret, body, at=int(timezone.now().timestamp()) - 900),
    )
    assert stale.json() == {"error": "stale_timestamp"}
    rows = list(SandboxPartnerWebhook.objects.order_by("id").values_list("verified", "answered", "problem"))
    assert rows == [
        (True, 200, ""),
        (True, 200, ""),
        (False, 401, "bad_signature"),
        (False, 401, "bad_signature"),
        (False, 401, "stale_timestamp"),
    ]


@pytest.mark.django_db
def test_a_partner_without_endpoint_refuses_everything():
    body = b"{}"
    response = Client().post(
        reverse("sandbox:partner_webhooks", args=["NOBODY"]), body, content_type="application/json",
        **_signed("whsec_x", body),
    )  # fmt: skip
    assert response.status_code == 401 and response.json() == {"error": "no_endpoint"}


@pytest.mark.django_db(transaction=True)
def test_the_platform_delivers_to_the_sandbox_partner_which_fails_twice_then_accepts(live_server, settings):
    # given the sandbox partner CH001 told to fail the next two deliveries
    settings.HUIBAO_WEBHOOK_ALLOW_HTTP = True
    url = f"{live_server.url}/sandbox/partner-webhooks/CH001/"
    services.create_endpoint("CH001", url, ["policy.issued"])
    partner_webhooks.set_fail_next("CH001", 2)
    services.publish("CH001", "policy.issued", {"policy_number": "P2026000001"}, ref="P2026000001")
    delivery = WebhookDelivery.objects.get()
    # when the platform delivers it, and the sweep retries after each back-off
    assert tasks.deliver_webhook.call(delivery.pk) == DeliveryStatus.FAILED
    for _ in range(2):
        delivery.refresh_from_db()
        with time_machine.travel(delivery.next_attempt_at + datetime.timedelta(seconds=1), tick=True):
            tasks.deliver_due_webhooks.call()
    # then the third attempt was accepted, with a valid signature each time
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 3
    answered = list(SandboxPartnerWebhook.objects.order_by("id").values_list("answered", "verified"))
    assert answered == [(500, True), (500, True), (200, True)]
    assert partner_webhooks.fail_next("CH001") == 0
    assert sending.send(delivery.pk) == DeliveryStatus.SUCCEEDED  # not sent again
    assert SandboxPartnerWebhook.objects.count() == 3


@pytest.mark.django_db
def test_the_sandbox_page_shows_what_was_received_and_sets_failures(endpoint):
    _, secret = endpoint
    body = json.dumps({"id": "evt_7", "type": "policy.issued", "data": {"policy_number": "P7"}}).encode()
    url = reverse("sandbox:partner_webhooks", args=["CH001"])
    Client().post(url, body, content_type="application/json", **_signed(secret, body, webhook_id="evt_7"))
    operator = staff_client(Client(), "operator", username="op1")
    page = operator.get(url).content.decode()
    assert "evt_7" in page and "P7" in page and 'data-testid="received-row"' in page
    operator.post(reverse("sandbox:partner_webhooks_fail", args=["CH001"]), {"count": "3"})
    assert partner_webhooks.fail_next("CH001") == 3
    assert Client().get(url).status_code == 302  # staff only
    assert staff_client(Client(), "customer_service", username="cs1").get(url).status_code == 403


@pytest.mark.django_db
def test_not_served_outside_development(endpoint, settings):
    settings.HUIBAO_STRICT = True
    response = Client().post(
        reverse("sandbox:partner_webhooks", args=["CH001"]), b"{}", content_type="application/json"
    )
    assert response.status_code == 404
