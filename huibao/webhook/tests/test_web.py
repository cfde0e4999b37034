from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from huibao.core.models import AuditEntry
from huibao.fraud.tests.factories import staff_client
from huibao.webhook import sending, services
from huibao.webhook.models import WebhookDelivery, WebhookEndpoint
from huibao.webhook.states import DeliveryStatus

from .conftest import make_endpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return staff_client(Client(), "operator", username="op1")


def _dead(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.DEAD, attempts=7)


def test_an_operator_adds_an_endpoint_and_sees_its_secret_once(operator):
    # when
    response = operator.post(
        reverse("webhook:endpoints"),
        {"subscriber": "CH001", "url": "https://partner.example.com/hooks", "event_types": ["policy.issued"]},
    )
    # then
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    secret = re.search(r'data-testid="secret">(whsec_[^<]+)<', response.content.decode()).group(1)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret == secret and endpoint.event_types == ["policy.issued"]
    assert endpoint.created_by == operator.user
    page = operator.get(reverse("webhook:endpoint", args=[endpoint.public_id])).content.decode()
    listing = operator.get(reverse("webhook:endpoints")).content.decode()
    assert secret not in page and secret not in listing and "CH001" in listing
    entry = AuditEntry.objects.get(action="webhook.endpoint_created")
    assert entry.actor_id == operator.user.pk and secret not in str(entry.after)


def test_a_bad_endpoint_form_names_the_fields(operator):
    response = operator.post(
        reverse("webhook:endpoints"), {"subscriber": "", "url": "ftp://x", "event_types": []}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "请填写订阅方代码" in body and "回调地址须为" in body and "请至少选择一种事件类型" in body
    assert not WebhookEndpoint.objects.exists()


def test_edit_rotate_deactivate_are_audited(operator):
    endpoint, old = make_endpoint("CH001", "https://a.example.com/h")
    url = reverse("webhook:endpoint", args=[endpoint.public_id])
    response = operator.post(
        url,
        {"url": "https://b.example.com/h", "event_types": ["policy.issued", "claim.paid"], "is_active": "on"},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.url == "https://b.example.com/h" and endpoint.event_types == [
        "claim.paid",
        "policy.issued",
    ]
    rotated = operator.post(reverse("webhook:rotate_secret", args=[endpoint.public_id]))
    new = re.search(r'data-testid="secret">(whsec_[^<]+)<', rotated.content.decode()).group(1)
    endpoint.refresh_from_db()
    assert new != old and endpoint.secret == new
    operator.post(reverse("webhook:deactivate", args=[endpoint.public_id]))
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    actions = list(
        AuditEntry.objects.filter(object_id=str(endpoint.public_id)).values_list("action", flat=True)
    )
    assert {"webhook.endpoint_changed", "webhook.secret_rotated", "webhook.endpoint_deactivated"} <= set(
        actions
    )
    assert not AuditEntry.objects.filter(after__icontains=new).exists()


def test_resend_from_the_operator_page_sends_a_dead_delivery_again(
    operator, partner, django_capture_on_commit_callbacks
):
    # given a dead delivery
    make_endpoint("CH001", partner.url)
    services.publish("CH001", "policy.issued", {"n": 1}, ref="P1")
    delivery = WebhookDelivery.objects.get()
    _dead(delivery)
    page = operator.get(reverse("webhook:delivery", args=[delivery.public_id]))
    assert "已放弃" in page.content.decode() and 'data-testid="resend"' in page.content.decode()
    # when the operator presses 重新发送 (the job runs after the commit)
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(reverse("webhook:resend", args=[delivery.public_id]))
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0
    assert sending.send(delivery.pk) == DeliveryStatus.SUCCEEDED
    # then
    assert len(partner.received) == 1
    entry = AuditEntry.objects.get(action="webhook.delivery_resent")
    assert entry.actor_id == operator.user.pk and entry.before["status"] == "dead"
    attempts = operator.get(reverse("webhook:delivery", args=[delivery.public_id])).content.decode()
    assert attempts.count('data-testid="attempt-row"') == 1


def test_resend_all_dead_of_a_subscriber(operator):
    make_endpoint("CH001")
    make_endpoint("CH002")
    for n in range(3):
        services.publish("CH001", "policy.issued", {"n": n}, ref=f"P{n}")
    services.publish("CH002", "policy.issued", {"n": 9}, ref="P9")
    for d in WebhookDelivery.objects.all():
        _dead(d)
    operator.post(reverse("webhook:resend_dead"), {"subscriber": "CH001"})
    statuses = dict(WebhookDelivery.objects.values_list("subscriber", "status").order_by("subscriber"))
    assert statuses == {"CH001": "pending", "CH002": "dead"}
    assert WebhookDelivery.objects.filter(subscriber="CH001", status="pending").count() == 3
    assert AuditEntry.objects.filter(action="webhook.delivery_resent").count() == 3


def test_the_delivery_log_filters(operator):
    make_endpoint("CH001", types=["policy.issued", "claim.paid"])
    make_endpoint("CH002")
    services.publish("CH001", "policy.issued", {}, ref="A-ISSUED")
    services.publish("CH001", "claim.paid", {}, ref="A-PAID")
    services.publish("CH002", "policy.issued", {}, ref="B-ISSUED")
    _dead(WebhookDelivery.objects.get(event__ref="A-PAID"))

    def shown(**query):
        body = operator.get(reverse("webhook:deliveries"), query).content.decode()
        return {ref for ref in ("A-ISSUED", "A-PAID", "B-ISSUED") if ref in body}

    assert shown() == {"A-ISSUED", "A-PAID", "B-ISSUED"}
    assert shown(subscriber="CH001") == {"A-ISSUED", "A-PAID"}
    assert shown(status="dead") == {"A-PAID"}
    assert shown(event_type="policy.issued") == {"A-ISSUED", "B-ISSUED"}


def test_a_test_ping_goes_to_that_endpoint_only(operator, partner):
    endpoint, _ = make_endpoint("CH001", partner.url, ["claim.paid"])
    make_endpoint("CH001", "https://other.example.com/h", ["claim.paid"])
    response = operator.post(reverse("webhook:ping", args=[endpoint.public_id]))
    delivery = WebhookDelivery.objects.get()
    assert (
        response.status_code == 302
        and delivery.endpoint == endpoint
        and delivery.event_type == "webhook.ping"
    )
    assert sending.send(delivery.pk) == DeliveryStatus.SUCCEEDED
    assert partner.received[0].headers["Huibao-Event-Type"] == "webhook.ping"


def test_who_may_see_and_change(partner):
    endpoint, _ = make_endpoint("CH001")
    service = staff_client(Client(), "customer_service", username="cs1")
    assert service.get(reverse("webhook:endpoints")).status_code == 403
    auditor = staff_client(Client(), "auditor", username="au1")
    assert auditor.get(reverse("webhook:deliveries")).status_code == 200
    assert auditor.post(reverse("webhook:rotate_secret", args=[endpoint.public_id])).status_code == 403
    assert Client().get(reverse("webhook:endpoints")).status_code == 302
    operator_nav = staff_client(Client(), "operator", username="op9").get(reverse("webhook:endpoints"))
    assert reverse("webhook:endpoints") in operator_nav.content.decode()


def test_the_gate_is_the_accounts_gate():
    from huibao.account import access
    from huibao.account.models import User, UserKind
    from huibao.webhook.web import access as webhook_access

    verified = staff_client(Client(), "operator", username="op-v")
    unverified_staff = User.objects.create_user(
        username="op-u", password="x-unused-123", kind=UserKind.STAFF, is_staff=True
    )
    customer = User.objects.create_user(username="cust", password="x-unused-123", kind=UserKind.CUSTOMER)
    plain = Client()
    plain.force_login(unverified_staff)
    assert plain.get(reverse("webhook:endpoints")).status_code == 302
    cust = Client()
    cust.force_login(customer)
    assert cust.get(reverse("webhook:endpoints")).status_code == 302
    for client in (verified, plain, cust):
        request = client.get(reverse("webhook:endpoints")).wsgi_request
        assert webhook_access.is_verified_staff(request.user) == access.is_verified_staff(request.user)
    assert webhook_access.STAFF_KIND == UserKind.STAFF


def test_the_back_office_speaks_english_too(operator):
    make_endpoint("CH001")
    services.publish("CH001", "policy.issued", {}, ref="P1")
    operator.cookies["django_language"] = "en"
    body = operator.get(reverse("webhook:deliveries"), headers={"accept-language": "en"}).content.decode()
    assert "Delivery log" in body and "推送记录" not in body
