"""The cancellation page and API: the refund explained before confirming, the SMS code, the
result; owner-only; statuses in the OpenAPI document; the back office retries a failed refund."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from huibao.payment.provider import RefundResult, get_provider
from huibao.payment.tests.factories import client_transport
from huibao.policy import cancellation as svc
from huibao.policy import services
from huibao.policy.models import Cancellation, Policy
from huibao.policy.states import CancellationStatus, PolicyStatus
from huibao.policy.tests import cancel_factories as cf
from huibao.policy.tests import factories as f
from huibao.sandbox import notifications

pytestmark = pytest.mark.django_db
D = Decimal
ISSUED = datetime.date(2026, 3, 1)
DAY = datetime.date(2026, 3, 5)


@pytest.fixture(autouse=True)
def _gateway_through_the_test_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "http_post", client_transport(Client()))


def owned(premium: str = "320.00") -> tuple[Client, object, Policy]:
    user = f.customer()
    with cf.at(ISSUED):
        policy = cf.one_policy(user, premium=premium)
    client = Client()
    client.force_login(user)
    return client, user, policy


# --- pages -----------------------------------------------------------------------------------------


def test_the_customer_sees_the_refund_line_by_line_confirms_and_sees_the_result() -> None:
    client, _user, policy = owned("320.00")
    url = reverse("policy:cancel", args=[policy.public_id])
    with cf.at(DAY):
        # my policies has the entry
        mine = client.get(reverse("policy:mine")).content.decode()
        assert f'href="{url}"' in mine and 'data-testid="cancel-entry"' in mine
        # the quote, before anything is asked
        page = client.get(url).content.decode()
        assert 'data-testid="refund-explained"' in page and "已缴保费" in page and "¥320.00" in page
        assert 'data-testid="send-code"' in page
        # the reason, then the code
        response = client.post(url, {"action": "request", "reason": "no_longer_needed"})
        assert response.status_code == 302
        page = client.get(url).content.decode()
        assert 'data-testid="confirm-cancel"' in page and "139****1111" in page
        response = client.post(url, {"action": "confirm", "code": cf.sms_code()})
        assert response.status_code == 302
        c = Cancellation.objects.get()
        svc.refund(c.pk)  # the task
        page = client.get(url).content.decode()
    assert 'data-testid="cancel-result"' in page and "已完成" in page
    assert 'data-testid="refund-amount">¥320.00' in page
    policy.refresh_from_db()
    assert policy.status == PolicyStatus.CANCELLED_COOLING_OFF


def test_a_missing_reason_and_a_wrong_code_are_shown_on_the_fields() -> None:
    client, _user, policy = owned()
    url = reverse("policy:cancel", args=[policy.public_id])
    with cf.at(DAY):
        response = client.post(url, {"action": "request", "reason": ""})
        assert response.status_code == 422 and "请选择退保原因" in response.content.decode()
        client.post(url, {"action": "request", "reason": "other", "reason_text": "换了保险"})
        good = cf.sms_code()
        response = client.post(url, {"action": "confirm", "code": "000000" if good != "000000" else "111111"})
    assert response.status_code == 422 and 'role="alert"' in response.content.decode()
    assert Cancellation.objects.get().status == CancellationStatus.AWAITING_CONFIRMATION


def test_withdrawing_keeps_the_policy() -> None:
    client, _user, policy = owned()
    url = reverse("policy:cancel", args=[policy.public_id])
    with cf.at(DAY):
        client.post(url, {"action": "request", "reason": "no_longer_needed"})
        response = client.post(url, {"action": "withdraw"})
    assert response.status_code == 302
    assert Cancellation.objects.get().status == CancellationStatus.WITHDRAWN
    policy.refresh_from_db()
    assert policy.status != PolicyStatus.CANCELLED_COOLING_OFF


def test_another_customers_policy_is_404_and_anonymous_is_sent_to_log_in() -> None:
    _client, _user, policy = owned()
    url = reverse("policy:cancel", args=[policy.public_id])
    stranger = Client()
    stranger.force_login(f.customer())
    assert stranger.get(url).status_code == 404
    assert stranger.post(url, {"action": "request", "reason": "no_longer_needed"}).status_code == 404
    assert Client().get(url).status_code == 302
    assert not Cancellation.objects.exists()


def test_elder_mode_page_renders() -> None:
    client, _user, policy = owned()
    session = client.session
    session["elder_mode"] = True
    session.save()
    with cf.at(DAY):
        response = client.get(reverse("policy:cancel", args=[policy.public_id]))
    assert response.status_code == 200 and 'data-testid="refund-line"' in response.content.decode()


# --- API ---------------------------------------------------------------------------------------------


def test_api_quote_request_confirm_and_status() -> None:
    client, _user, policy = owned("365.00")
    base = f"/api/v1/policies/{policy.public_id}"
    with cf.at(datetime.date(2026, 3, 20)):
        services.update_policy_statuses()
        quote = client.get(f"{base}/cancellation-quote")
        assert quote.status_code == 200
        body = quote.json()
        # 2–20 March: 19 days in force; (365 − 19) × 0.75 = 259.50
        assert body["kind"] == "surrender" and body["amount"] == "259.50"
        assert [line["code"] for line in body["lines"]] == ["paid", "earned", "fee_rate"]
        created = client.post(
            f"{base}/cancellations",
            json.dumps({"reason": "too_expensive"}),
            content_type="application/json",
        )
        assert created.status_code == 201, created.content
        cid = created.json()["id"]
        assert created.json()["status"] == "awaiting_confirmation"
        confirmed = client.post(
            f"{base}/cancellations/{cid}/confirmation",
            json.dumps({"code": cf.sms_code()}),
            content_type="application/json",
        )
        assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
        svc.refund(Cancellation.objects.get().pk)
        status = client.get(f"{base}/cancellations/{cid}").json()
    assert status["status"] == "completed" and status["refunded"] == "259.50"
    assert status["refunds"][0]["status"] == "succeeded"


def test_api_refusals_use_the_error_shape_and_are_owner_only() -> None:
    client, _user, policy = owned()
    base = f"/api/v1/policies/{policy.public_id}"
    with cf.at(DAY):
        bad = client.post(
            f"{base}/cancellations", json.dumps({"reason": "other"}), content_type="application/json"
        )
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "reason_text"
        stranger = Client()
        stranger.force_login(f.customer())
        assert stranger.get(f"{base}/cancellation-quote").status_code == 404
        assert Client().get(f"{base}/cancellation-quote").status_code == 401
        created = client.post(
            f"{base}/cancellations", json.dumps({"reason": "financial"}), content_type="application/json"
        )
        cid = created.json()["id"]
        assert stranger.get(f"{base}/cancellations/{cid}").status_code == 404
        wrong = client.post(
            f"{base}/cancellations/{cid}/confirmation",
            json.dumps({"code": "12345"}),
            content_type="application/json",
        )
        assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "code"
    Policy.objects.filter(pk=policy.pk).update(status=PolicyStatus.EXPIRED)
    with cf.at(DAY):
        refused = client.get(f"{base}/cancellation-quote")
    assert refused.status_code == 409 and refused.json()["code"] == "not_cancellable"


def test_openapi_lists_the_cancellation_statuses() -> None:
    schema = Client().get("/api/openapi.json").json()
    assert "/api/v1/policies/{public_id}/cancellations/{cancellation_id}/confirmation" in schema["paths"]
    text = json.dumps(schema["components"]["schemas"], ensure_ascii=False)
    for status in CancellationStatus.values:
        assert f'"{status}"' in text


# --- back office -------------------------------------------------------------------------------------


def test_staff_see_the_refund_status_and_retry_a_failed_refund(monkeypatch: pytest.MonkeyPatch) -> None:
    _client, user, policy = owned()
    provider = get_provider("sandbox")
    original = provider.refund
    monkeypatch.setattr(provider, "refund", lambda payment, amount: RefundResult(False, "", "bank down"))
    with cf.at(DAY):
        c = svc.request_cancellation(policy, user=user, reason="no_longer_needed")
        c = svc.confirm(c, user=user, code=cf.sms_code())
        svc.refund(c.pk)
    monkeypatch.setattr(provider, "refund", original)
    staff = f.staff_login(Client(), f.staff("ops", ["view_cancellation", "change_cancellation"]))
    changelist = reverse("admin:policy_cancellation_changelist")
    page = staff.get(changelist).content.decode()
    assert policy.number in page and "退款失败" in page
    response = staff.post(changelist, {"action": "retry_refund", "_selected_action": [c.pk]})
    assert response.status_code == 302
    c.refresh_from_db()
    assert c.status == CancellationStatus.COMPLETED and c.refunded == D("320.00")
    # a viewer without the change permission has no retry
    viewer = f.staff_login(Client(), f.staff("viewer", ["view_cancellation"]))
    viewer.post(changelist, {"action": "retry_refund", "_selected_action": [c.pk]})
    assert "retry_refund" not in viewer.get(changelist).content.decode()


def test_the_policy_page_offers_cancellation_until_the_policy_is_cancelled() -> None:
    from huibao.policy.actions import actions_for

    client, user, policy = owned()
    url = reverse("policy:cancel", args=[policy.public_id])
    detail = client.get(reverse("policy:detail", args=[policy.public_id])).content.decode()
    assert f'href="{url}"' in detail
    assert "cancel" in [a.key for a in actions_for(policy, user)]
    api = client.get(f"/api/v1/policies/{policy.public_id}/actions").json()
    assert any(a.get("key") == "cancel" for a in (api if isinstance(api, list) else api.get("actions", [])))
    with cf.at(DAY):
        c = svc.request_cancellation(policy, user=user, reason="no_longer_needed")
        svc.confirm(c, user=user, code=cf.sms_code())
    policy.refresh_from_db()
    assert "cancel" not in [a.key for a in actions_for(policy, user)]
    mine = client.get(reverse("policy:mine")).content.decode()
    assert 'data-testid="cancel-entry"' not in mine


def test_the_servicing_queue_lists_a_failed_refund_and_retries_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _client, user, policy = owned()
    provider = get_provider("sandbox")
    original = provider.refund
    monkeypatch.setattr(provider, "refund", lambda payment, amount: RefundResult(False, "", "bank down"))
    with cf.at(DAY):
        c = svc.request_cancellation(policy, user=user, reason="no_longer_needed")
        c = svc.confirm(c, user=user, code=cf.sms_code())
        svc.refund(c.pk)
    monkeypatch.setattr(provider, "refund", original)
    ops = f.staff_login(
        Client(), f.staff("queue", ["view_policy", "view_cancellation", "change_cancellation"])
    )
    page = ops.get(reverse("policy:staff_servicing")).content.decode()
    assert 'data-testid="cancellation-row"' in page and policy.number in page
    response = ops.post(reverse("policy:staff_cancellation_retry", args=[c.public_id]))
    assert response.status_code == 302
    c.refresh_from_db()
    assert c.status == CancellationStatus.COMPLETED
    # a viewer of the queue without the cancellation permissions sees no such section
    viewer = f.staff_login(Client(), f.staff("viewer2", ["view_policy"]))
    assert (
        'data-testid="cancellation-row"' not in viewer.get(reverse("policy:staff_servicing")).content.decode()
    )
    assert viewer.post(reverse("policy:staff_cancellation_retry", args=[c.public_id])).status_code in (
        302,
        403,
    )


def test_the_refund_is_explained_in_english_too() -> None:
    from django.conf import settings

    client, _user, policy = owned("365.00")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with cf.at(datetime.date(2026, 3, 20)):
        services.update_policy_statuses()
        page = client.get(reverse("policy:cancel", args=[policy.public_id])).content.decode()
    assert "Premium paid" in page and "Premium ¥365.00 × 19 days covered ÷ 365 days of cover" in page
    assert "Unearned premium × 25%" in page
