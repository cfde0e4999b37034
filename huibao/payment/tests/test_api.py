"""`GET /api/v1/payments/{id}` for the payer's account only, and the back office: read-only
payments with the payer's ID masked, notifications as evidence, and finance's audited refund."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from huibao.account.models import User, UserKind
from huibao.core.models import AuditEntry
from huibao.payment import api as payment_api
from huibao.payment import services
from huibao.payment.models import Payment, Refund
from huibao.payment.states import PaymentStatus
from huibao.payment.tests import factories as f
from huibao.sandbox import notifications
from huibao.sandbox import payment as sandbox
from huibao.sandbox.models import SandboxCheckout

pytestmark = pytest.mark.django_db

KIND = "test_order"
MASKED_ID = "110***********1239"


def customer(phone: str) -> User:
    user = User(username=f"c{phone}", kind=UserKind.CUSTOMER)
    user.set_phone(phone)
    user.set_password("pw-123456")
    user.save()
    return user


@pytest.fixture(autouse=True)
def _orders_belong_to_the_customer_named_in_the_reference() -> Iterator[None]:
    payment_api.register_payment_viewer(KIND, lambda reference_id, user: reference_id == str(user.pk))
    yield
    payment_api._viewers.pop(KIND, None)


@pytest.fixture(autouse=True)
def _gateway_posts_through_the_test_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))


def paid(amount: str = "128.50", *, ref: str = "A1") -> Payment:
    """Paid by the applicant on the sandbox gateway, its notification delivered."""
    p = f.payment(amount, ref=ref)
    sandbox.submit_payment(
        p.provider_txn_id,
        payer_name=f.APPLICANT_NAME,
        id_number=f.APPLICANT_ID,
        card_number=f.GOOD_CARD,
        action="pay",
    )
    assert sandbox.deliver(p.provider_txn_id)
    p.refresh_from_db()
    assert p.status == PaymentStatus.SUCCEEDED
    return p


# --- API --------------------------------------------------------------------------------------------


def test_the_payer_sees_status_amount_and_refunds() -> None:
    owner = customer("13900003333")
    p = paid(ref=str(owner.pk))
    services.refund(p, p.amount, "客户撤单")
    client = Client()
    client.force_login(owner)
    response = client.get(f"/api/v1/payments/{p.public_id}")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "refunded" and body["amount"] == "128.50" and body["refunded_amount"] == "128.50"
    assert body["paid_at"] and body["checkout_url"] is None
    assert [(r["amount"], r["reason"], r["status"]) for r in body["refunds"]] == [
        ("128.50", "客户撤单", "succeeded")
    ]
    assert f.APPLICANT_ID not in response.content.decode()


def test_an_open_payment_shows_its_pay_page() -> None:
    owner = customer("13900003334")
    p = f.payment(ref=str(owner.pk))
    client = Client()
    client.force_login(owner)
    body = client.get(f"/api/v1/payments/{p.public_id}").json()
    assert body["status"] == "pending" and body["checkout_url"] == p.checkout_url and body["paid_at"] is None


def test_anyone_else_gets_404_and_nobody_401() -> None:
    owner = customer("13900004444")
    p = paid(ref=str(owner.pk))
    stranger = Client()
    stranger.force_login(customer("13900005555"))
    response = stranger.get(f"/api/v1/payments/{p.public_id}")
    assert response.status_code == 404 and response.json()["code"] == "payment_not_found"
    assert Client().get(f"/api/v1/payments/{p.public_id}").status_code == 401
    # a payment of a kind no app registered is nobody's to see
    other_kind = f.payment(kind="unregistered", ref=str(owner.pk))
    client = Client()
    client.force_login(owner)
    assert client.get(f"/api/v1/payments/{other_kind.public_id}").status_code == 404


# --- back office -----------------------------------------------------------------------------------


def staff_client(username: str, codenames: list[str]) -> tuple[Client, User]:
    group, _ = Group.objects.get_or_create(name=f"role-{username}")
    group.permissions.set(
        Permission.objects.filter(content_type__app_label="payment", codename__in=codenames)
    )
    user = User.objects.create_user(
        username=username, password="x-unused-123", kind=UserKind.STAFF, is_staff=True
    )
    user.groups.add(group)
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client, user


FINANCE = ["view_payment", "change_payment", "view_refund", "view_providernotification"]
LIST = "/admin/payment/payment/"


@pytest.fixture
def finance() -> tuple[Client, User]:
    return staff_client("fin_zhao", FINANCE)


def test_payments_are_read_only_and_masked(finance: tuple[Client, User]) -> None:
    client, _ = finance
    p = paid()
    listing = client.get(LIST)
    detail = client.get(f"{LIST}{p.pk}/change/")
    notes = client.get("/admin/payment/providernotification/")
    for response in (listing, detail, notes):
        html = response.content.decode()
        assert response.status_code == 200
        assert f.APPLICANT_ID not in html
    assert MASKED_ID in listing.content.decode() and MASKED_ID in detail.content.decode()
    assert "checkout_opened" in detail.content.decode()  # the history inline
    assert 'name="_save"' not in detail.content.decode()
    assert client.get(f"{LIST}add/").status_code == 403
    assert client.post(f"{LIST}{p.pk}/delete/").status_code == 403


def _refund_page(client: Client, payments: list[Payment]) -> Any:
    return client.post(LIST, {"action": "refund_action", "_selected_action": [str(p.pk) for p in payments]})


def _seen(page: Any) -> str:
    """The refunded-so-far snapshot the confirmation page carries (hidden field `seen`)."""
    match = re.search(r'name="seen" value="([^"]*)"', page.content.decode())
    return html.unescape(match.group(1)) if match else ""


def _refund_post(client: Client, payments: list[Payment], **form: Any) -> Any:
    """Submits the refund form as a browser would: from the confirmation page just shown."""
    data = {"action": "refund_action", "_selected_action": [str(p.pk) for p in payments], **form}
    if "apply" in form and "seen" not in form:
        data["seen"] = _seen(_refund_page(client, payments))
    return client.post(LIST, data)


def test_finance_refunds_with_a_reason_and_it_is_audited(finance: tuple[Client, User]) -> None:
    client, user = finance
    p = paid()
    # the action first asks for the reason
    page = _refund_post(client, [p])
    assert page.status_code == 200 and "退款原因" in page.content.decode()
    # without a reason nothing happens
    missing = _refund_post(client, [p], apply="1", reason="")
    assert missing.status_code == 200 and not Refund.objects.exists()
    # with one, the whole amount goes back through the provider
    done = _refund_post(client, [p], apply="1", reason="客户在犹豫期内撤单")
    assert done.status_code == 302
    p.refresh_from_db()
    refund = Refund.objects.get(payment=p)
    assert (
        p.status == PaymentStatus.REFUNDED
        and refund.amount == p.amount
        and refund.reason == "客户在犹豫期内撤单"
    )
    assert SandboxCheckout.objects.get(txn_id=p.provider_txn_id).refunded_fen == 12850
    requested = AuditEntry.objects.get(action="payment.refund_requested", object_id=str(p.public_id))
    assert requested.actor_id == user.pk and requested.after["reason"] == "客户在犹豫期内撤单"
    assert AuditEntry.objects.filter(action="payment.refunded", object_id=str(p.public_id)).exists()


def test_partial_refund_of_one_payment_and_refusal_of_an_unpaid_one(finance: tuple[Client, User]) -> None:
    client, _ = finance
    p = paid("100.00")
    _refund_post(client, [p], apply="1", reason="部分退费", amount="30")
    p.refresh_from_db()
    assert p.status == PaymentStatus.PARTIALLY_REFUNDED and p.refunded_amount == 30
    pending = f.payment(ref="A2")
    response = _refund_post(client, [pending], apply="1", reason="误操作")
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.PENDING and not pending.refunds.exists()
    messages = [m.message for m in response.wsgi_request._messages]  # type: ignore[attr-defined]
    assert any("仅支付成功的订单可以退款" in m for m in messages)


def test_a_viewer_without_the_change_permission_cannot_refund() -> None:
    client, _ = staff_client("cs_qian", ["view_payment"])
    p = paid()
    listing = client.get(LIST)
    assert listing.status_code == 200 and "refund_action" not in listing.content.decode()
    _refund_post(client, [p], apply="1", reason="想退")
    p.refresh_from_db()
    assert p.status == PaymentStatus.SUCCEEDED and not Refund.objects.exists()


def test_a_double_submitted_partial_refund_refunds_once(finance: tuple[Client, User]) -> None:
    client, _ = finance
    p = paid("100.00")
    # given the confirmation page shown once
    seen = _seen(_refund_page(client, [p]))
    assert seen == f"{p.pk}:0.00"
    # when the same filled-in page is submitted twice (double click, browser resend)
    form = {"apply": "1", "reason": "部分退费", "amount": "30", "seen": seen}
    first = _refund_post(client, [p], **form)
    second = _refund_post(client, [p], **form)
    # then only one refund went out, and the second submission says why
    p.refresh_from_db()
    assert first.status_code == second.status_code == 302
    assert p.refunded_amount == Decimal("30.00") and Refund.objects.filter(payment=p).count() == 1
    messages = [m.message for m in second.wsgi_request._messages]  # type: ignore[attr-defined]
    assert any("避免重复退款" in m for m in messages)
    # and a page opened afresh refunds the rest
    _refund_post(client, [p], apply="1", reason="退还余额")
    p.refresh_from_db()
    assert p.status == PaymentStatus.REFUNDED and p.refunded_amount == Decimal("100.00")


@pytest.mark.parametrize("amount", ["10.005", "NaN", "Infinity", "1e30", "-0.01"])
def test_refund_amounts_must_be_positive_and_to_the_fen(finance: tuple[Client, User], amount: str) -> None:
    client, _ = finance
    p = paid("100.00")
    response = _refund_post(client, [p], apply="1", reason="部分退费", amount=amount)
    # the form comes back with an error; nothing is refunded or rounded
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    p.refresh_from_db()
    assert p.refunded_amount == 0 and not Refund.objects.exists()
