"""An operator onboards a channel partner's systems: creates its API client in the back office
(the secret shown once), registers its webhook endpoint at the sandbox partner receiver on the
live server; the partner (this test, with the shown secret) submits an embedded batch through a
signed API call; the worker finishes it and the delivery sweep sends `batch.completed`; the
operator sees the delivery succeeded in the log, and the sandbox receiver shows it verified."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from playwright.sync_api import expect

from huibao.account.services import create_staff_user, enrol_totp, sync_roles
from huibao.embedded import services as embedded_services
from huibao.embedded.models import EmbeddedBatch
from huibao.embedded.services import sale_to_dict
from huibao.embedded.tests import factories as f
from huibao.partner.models import ApiClient
from huibao.partner.tests.factories import Credentials, authorization, channel_partner
from huibao.webhook import tasks
from huibao.webhook.models import WebhookDelivery
from huibao.webhook.states import DeliveryStatus

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def operator_session() -> str:
    sync_roles()
    staff = create_staff_user("e2e_partner_ops", "Sturdy-pass-2026", ["operator"])
    device = enrol_totp(staff)
    client = Client()
    client.force_login(staff)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client.cookies["sessionid"].value


def test_an_operator_creates_a_channel_s_api_client_and_sees_its_first_webhook_delivered(
    live_server: Any, phone: Any, settings: Any, screenshot_dir: Any
) -> None:
    # given: a return-shipping product sold embedded, and the channel partner of a shop
    settings.HUIBAO_WEBHOOK_ALLOW_HTTP = True
    product = f.return_shipping()
    shop = channel_partner(f.channel(), code="e2e-shop")
    base = live_server.url
    phone.context.add_cookies([{"name": "sessionid", "value": operator_session(), "url": base}])

    # when: the operator creates the shop's API client, allowed to sell embedded
    phone.goto(f"{base}/partners/{shop.pk}/")
    form = phone.get_by_test_id("client-form")
    form.locator('input[name=scopes][value="embedded:issue"]').check()
    form.locator("button[type=submit]").click()
    # then: its key id and secret are shown, once
    expect(phone.get_by_test_id("issued-secret")).to_be_visible()
    key_id = phone.get_by_test_id("issued-key-id").inner_text().strip()
    secret = phone.get_by_test_id("issued-secret").inner_text().strip()
    phone.goto(f"{base}/partners/{shop.pk}/")
    expect(phone.get_by_test_id("client-row")).to_contain_text(key_id)
    expect(phone.get_by_test_id("issued-secret")).to_have_count(0)

    # when: the operator registers the shop's webhook endpoint at the sandbox receiver
    receiver = f"{base}/sandbox/partner-webhooks/{shop.code}/"
    phone.goto(f"{base}/webhooks/")
    endpoint_form = phone.get_by_test_id("endpoint-form")
    endpoint_form.locator("#subscriber").fill(shop.code)
    endpoint_form.locator("#url").fill(receiver)
    endpoint_form.locator('input[name=event_types][value="batch.completed"]').check()
    endpoint_form.get_by_test_id("save").click()
    expect(phone.get_by_test_id("secret")).to_be_visible()

    # and the shop submits a batch of two sales (one bad) with the shown secret, over HTTP
    creds = Credentials(ApiClient.objects.get(key_id=key_id), secret=secret)
    path = "/api/partner/v1/embedded/batches"
    rows = [sale_to_dict(f.sale(product)), {**sale_to_dict(f.sale(product)), "identity_ref": "bad"}]
    body = json.dumps({"rows": rows}).encode()
    answer = httpx.post(
        base + path,
        content=body,
        headers={
            "Authorization": authorization(creds, "POST", path, body),
            "Content-Type": "application/json",
            "Idempotency-Key": "e2e-file-1",
        },
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    # and the worker finishes the batch, and the delivery sweep runs (both in-process)
    embedded_services.process_batch(EmbeddedBatch.objects.get(public_id=answer.json()["id"]).pk)
    tasks.deliver_due_webhooks.call()

    # then: the delivery log shows batch.completed delivered
    delivery = WebhookDelivery.objects.select_related("event").get()
    assert delivery.event.event_type == "batch.completed" and delivery.status == DeliveryStatus.SUCCEEDED
    phone.goto(f"{base}/webhooks/deliveries/?subscriber={shop.code}")
    row = phone.get_by_test_id("delivery-row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("delivery-status")).to_have_text("已送达")
    expect(row).to_contain_text("batch.completed")
    phone.screenshot(path=str(screenshot_dir / "partner-webhook-deliveries.png"), full_page=True)
    # and the sandbox partner received it, with a valid signature
    phone.goto(receiver)
    received = phone.get_by_test_id("received-row")
    expect(received).to_have_count(1)
    expect(received).to_contain_text("batch.completed")
    expect(received).to_contain_text("验签通过")
    expect(received).to_contain_text('"accepted":1,')
