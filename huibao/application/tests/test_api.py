"""The application flow over `/api/v1`: quote to issued policy through the HTTP API and the sandbox
pay page, each refusal a 422/404/409 naming the field and changing nothing, duplicate and forged
notifications, and a payment confirmed while issuance was not running."""

from __future__ import annotations

import dataclasses
import datetime
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from huibao.application.models import Application, DisclosureReading
from huibao.application.selectors import REFERENCE_KIND
from huibao.application.services.data import save_data
from huibao.application.services.identity import verify_identity
from huibao.application.services.pay import on_payment_confirmed, pay, recover_paid_applications
from huibao.application.services.start import start_application
from huibao.application.states import ApplicationStatus
from huibao.application.tests import factories as f
from huibao.core.models import AuditEntry
from huibao.payment import services as payment_services
from huibao.payment.models import Payment
from huibao.payment.states import PaymentStatus
from huibao.payment.tests.factories import GOOD_CARD, OTHER_ID, client_transport, notification
from huibao.sandbox import notifications
from huibao.sandbox import payment as sandbox
from huibao.sandbox.models import SandboxCheckout

pytestmark = pytest.mark.django_db

BASE = "/api/v1/applications"


class Api:
    """A logged-in customer's JSON calls."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.client.generic(
            method,
            path,
            json.dumps(body) if body is not None else "",
            content_type="application/json",
        )
        response.data = response.json() if response["Content-Type"].startswith("application/json") else None  # type: ignore[attr-defined]
        return response

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, body if body is not None else {})

    def put(self, path: str, body: Any) -> Any:
        return self.call("PUT", path, body)


def login(user: Any) -> Api:
    client = Client()
    client.force_login(user)
    return Api(client)


@pytest.fixture
def user():
    return f.customer()


@pytest.fixture
def api(user) -> Api:
    return login(user)


@pytest.fixture
def product():
    return f.simple_product(min_read_seconds=0)


@pytest.fixture(autouse=True)
def _gateway_posts_through_the_test_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "http_post", client_transport(Client()))


def data_body(applicant_id: str, *, name: str = f.APPLICANT_NAME, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "applicant": {
            "name": name,
            "id_number": applicant_id,
            "phone": "13900001111",
            "email": "wang@example.com",
            "address": "北京市朝阳区建国路1号",
        },
        "insured": [{"relation": "self"}],
        "beneficiary_mode": "legal",
    }
    body.update(overrides)
    return body


def field_errors(response: Any) -> dict[str, str]:
    return {e["field"]: e["code"] for e in response.data["errors"]}


def start(api: Api, product: Any) -> dict[str, Any]:
    quote = api.post(
        "/api/v1/quotes", {"product_code": product.code, "plan_code": "basic", "inputs": {"age": 30}}
    )
    assert quote.status_code == 201, quote.data
    response = api.post(BASE, {"quote_ids": [quote.data["id"]], "channel": "app"})
    assert response.status_code == 201, response.data
    return dict(response.data)


def to_signed(api: Api, product: Any, applicant_id: str | None = None) -> dict[str, Any]:
    """Through the API up to a signed application (documents with no minimum time)."""
    applicant_id = applicant_id or f.resident_id(f.years_ago(35))
    state = start(api, product)
    url = f"{BASE}/{state['id']}"
    assert api.put(f"{url}/data", data_body(applicant_id)).status_code == 200
    assert (
        api.post(f"{url}/identity", {"name": f.APPLICANT_NAME, "id_number": applicant_id}).status_code == 200
    )
    state = api.post(f"{url}/confirm").data
    for doc in state["documents"]:
        assert api.post(f"{url}/documents/{doc['id']}/open").status_code == 200
        assert api.post(f"{url}/documents/{doc['id']}/read", {"scrolled_to_end": True}).status_code == 200
    for clause in state["clauses"]:
        assert api.post(f"{url}/clauses/{clause['document_id']}/{clause['code']}/show").status_code == 200
        assert api.post(f"{url}/clauses/{clause['document_id']}/{clause['code']}/confirm").status_code == 200
    signed = api.post(f"{url}/signatures", {"role": "applicant", "confirmed": True})
    assert signed.status_code == 200, signed.data
    return dict(signed.data)


def pay_on_the_sandbox_page(checkout_url: str, *, name: str, id_number: str) -> Payment:
    """The payer submits the hosted pay page; the gateway delivers its signed notification."""
    page = Client().post(
        checkout_url, {"payer_name": name, "id_number": id_number, "card_number": GOOD_CARD, "action": "pay"}
    )
    # paid: the cashier sends the payer back to our pay page at once
    assert page.status_code == 302 and page["Location"].endswith("/pay/"), page.content.decode()
    txn_id = checkout_url.rstrip("/").rsplit("/", 1)[1]
    assert sandbox.deliver(txn_id)
    return Payment.objects.get(provider_txn_id=txn_id)


# --- the whole flow ---------------------------------------------------------------------------------


def test_quote_to_issued_policy_through_the_api(api: Api, product, user) -> None:
    # given: a logged-in customer with a quote
    applicant_id = f.resident_id(f.years_ago(35))
    state = start(api, product)
    url = f"{BASE}/{state['id']}"
    assert state["status"] == "draft" and state["next_step"] == "fill_data"
    assert state["items"][0]["product_code"] == product.code and state["items"][0]["premium"] == "100.00"
    assert state["signature_method"] == "confirmation"

    # when / then: each step moves `next_step` on
    state = api.put(f"{url}/data", data_body(applicant_id)).data
    assert state["next_step"] == "verify_identity" and state["data_revision"] == 2
    assert state["applicant"]["id_number"] == applicant_id[:3] + "*" * 11 + applicant_id[-4:]
    assert applicant_id not in json.dumps(state)
    mine = api.get(f"{url}/data").data
    assert mine["applicant"]["id_number"] == applicant_id  # the owner's own data, to edit

    state = api.post(f"{url}/identity", {"name": f.APPLICANT_NAME, "id_number": applicant_id}).data
    assert state["identity"]["verified"] and state["next_step"] == "confirm"

    state = api.post(f"{url}/confirm").data
    assert state["status"] == "accepted" and state["confirmed"]
    assert state["items"][0]["underwriting"]["outcome"] == "accept"
    assert state["next_step"] == "read_documents"
    [doc] = state["documents"]
    assert doc["state"] == "unopened" and doc["content_sha256"]

    opened = api.post(f"{url}/documents/{doc['id']}/open").data
    assert opened["state"] == "reading" and opened["body"]
    read = api.post(f"{url}/documents/{doc['id']}/read", {"scrolled_to_end": True}).data
    assert read["state"] == "read"

    state = api.get(url).data
    assert state["next_step"] == "confirm_clauses"
    [clause] = state["clauses"]
    clause_url = f"{url}/clauses/{clause['document_id']}/{clause['code']}"
    assert api.post(f"{clause_url}/show").data["state"] == "shown"
    assert api.post(f"{clause_url}/confirm").data["state"] == "confirmed"

    state = api.get(url).data
    assert state["next_step"] == "sign"
    assert state["signatures"] == [
        {
            "role": "applicant",
            "insured_position": None,
            "name": f.APPLICANT_NAME,
            "method": "confirmation",
            "signed": False,
            "signed_at": None,
        }
    ]
    state = api.post(f"{url}/signatures", {"role": "applicant", "confirmed": True}).data
    assert state["status"] == "signed" and state["next_step"] == "pay"

    opened_payment = api.post(f"{url}/payment").data
    assert opened_payment["amount"] == "100.00" and opened_payment["status"] == "pending"
    assert api.post(f"{url}/payment").data["id"] == opened_payment["id"]  # a retry: the same payment
    assert api.get(url).data["next_step"] == "complete_payment"

    payment = pay_on_the_sandbox_page(
        opened_payment["checkout_url"], name=f.APPLICANT_NAME, id_number=applicant_id
    )

    # then: paid and issued, one policy, visible to the owner
    assert payment.status == PaymentStatus.SUCCEEDED
    state = api.get(url).data
    assert state["status"] == "issued" and state["next_step"] == "done"
    assert len(state["policies"]) == 1 and state["policies"][0]["number"]
    assert state["payment"]["status"] == "succeeded" and state["payment"]["checkout_url"] is None
    paid = api.get(f"/api/v1/payments/{opened_payment['id']}").data
    assert paid["status"] == "succeeded" and paid["amount"] == "100.00" and paid["paid_at"]
    listing = api.get(BASE).data
    assert listing["total"] == 1 and listing["items"][0]["status"] == "issued"
    steps = list(
        AuditEntry.objects.filter(object_id=state["id"]).order_by("id").values_list("action", flat=True)
    )
    assert steps[0] == "application.started" and steps[-1] == "application.issued"


def test_the_openapi_schema_documents_the_flow(client: Client) -> None:
    schema = client.get("/api/openapi.json").json()
    paths = schema["paths"]
    assert "applications" in paths[BASE]["post"]["tags"]
    assert "422" in paths[BASE + "/{public_id}/data"]["put"]["responses"]
    assert "/api/v1/payments/{public_id}" in paths
    assert "next_step" in schema["components"]["schemas"]["ApplicationOut"]["properties"]


# --- who may call -----------------------------------------------------------------------------------


def test_not_logged_in_is_401_and_someone_elses_application_is_404(api: Api, product) -> None:
    state = start(api, product)
    assert Client().get(f"{BASE}/{state['id']}").status_code == 401
    other = login(f.customer("13900002222"))
    assert other.get(f"{BASE}/{state['id']}").status_code == 404
    response = other.put(f"{BASE}/{state['id']}/data", data_body(f.resident_id(f.years_ago(35))))
    assert response.status_code == 404 and response.data["code"] == "application_not_found"
    assert other.get(BASE).data["total"] == 0
    assert Application.objects.get(public_id=state["id"]).data_revision == 1


def test_unsafe_methods_need_the_csrf_token(user, product) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    quote = f.quote(product, user)
    refused = client.post(BASE, {"quote_ids": [str(quote.pk)]}, content_type="application/json")
    assert refused.status_code == 403 and not Application.objects.exists()
    client.get("/")  # any page sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    accepted = client.post(
        BASE, {"quote_ids": [str(quote.pk)]}, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 201


def test_unknown_or_malformed_quote_is_named(api: Api) -> None:
    response = api.post(BASE, {"quote_ids": ["not-a-uuid"]})
    assert response.status_code == 422 and field_errors(response) == {"quote_ids": "invalid"}
    response = api.post(BASE, {"quote_ids": ["3f0c6d0e-6a51-4c8a-9f61-2a7c1f0b8d11"]})
    assert response.status_code == 404 and field_errors(response) == {"quote_ids": "unknown_quote"}
    assert not Application.objects.exists()


# --- refusals name the field and change nothing ---------------------------------------------------


def test_invalid_id_checksum_is_a_422_on_applicant_id_number(api: Api, product) -> None:
    state = start(api, product)
    good = f.resident_id(f.years_ago(35))
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    response = api.put(f"{BASE}/{state['id']}/data", data_body(bad))
    assert response.status_code == 422
    assert "applicant.id_number" in field_errors(response)
    assert all(e["message"] for e in response.data["errors"])
    app = Application.objects.get(public_id=state["id"])
    assert app.applicant_name == "" and app.data_revision == 1 and not app.insured_persons.exists()


def test_beneficiary_shares_not_100_is_a_422_and_nothing_is_saved(api: Api) -> None:
    product = f.simple_product(rules={"signature": "confirmation", "beneficiary": "named_allowed"})
    state = start(api, product)
    beneficiaries = [
        {
            "name": "李红",
            "id_number": f.resident_id(f.years_ago(33), male=False),
            "relation": "spouse",
            "share_percent": "60",
        },
        {
            "name": "王小小",
            "id_number": f.resident_id(f.years_ago(5)),
            "relation": "child",
            "share_percent": 30,
        },
    ]
    body = data_body(
        f.resident_id(f.years_ago(35)),
        insured=[{"relation": "self", "beneficiaries": beneficiaries}],
        beneficiary_mode="named",
    )
    response = api.put(f"{BASE}/{state['id']}/data", body)
    assert response.status_code == 422
    assert field_errors(response) == {"insured[0].beneficiaries": "shares_not_100"}
    assert "90" in response.data["errors"][0]["message"]
    assert Application.objects.get(public_id=state["id"]).data_revision == 1
    beneficiaries[1]["share_percent"] = "40"
    saved = api.put(f"{BASE}/{state['id']}/data", body)
    assert saved.status_code == 200
    assert [b["share_percent"] for b in saved.data["insured"][0]["beneficiaries"]] == ["60.00", "40.00"]


def test_reading_too_short_is_a_422_naming_reading_time(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    product = f.simple_product(min_read_seconds=5)
    state = start(api, product)
    url = f"{BASE}/{state['id']}"
    doc_id = state["documents"][0]["id"]
    unopened = api.post(f"{url}/documents/{doc_id}/read", {"scrolled_to_end": True})
    assert unopened.status_code == 422 and field_errors(unopened) == {"document": "not_opened"}
    opened = api.post(f"{url}/documents/{doc_id}/open").data
    assert opened["seconds_left"] == 5
    too_soon = api.post(f"{url}/documents/{doc_id}/read", {"scrolled_to_end": True})
    assert too_soon.status_code == 422 and field_errors(too_soon) == {"reading_time": "too_short"}
    assert "5秒" in too_soon.data["errors"][0]["message"]
    assert DisclosureReading.objects.get(application__public_id=state["id"]).completed_at is None
    # six seconds later by the server's clock
    later = timezone.now() + datetime.timedelta(seconds=6)
    monkeypatch.setattr(timezone, "now", lambda: later)
    not_scrolled = api.post(f"{url}/documents/{doc_id}/read", {"scrolled_to_end": False})
    assert not_scrolled.status_code == 422 and field_errors(not_scrolled) == {
        "scrolled_to_end": "not_scrolled"
    }
    done = api.post(f"{url}/documents/{doc_id}/read", {"scrolled_to_end": True})
    assert done.status_code == 200 and done.data["state"] == "read"


def test_steps_out_of_order_are_refused(api: Api, product) -> None:
    state = start(api, product)
    url = f"{BASE}/{state['id']}"
    confirm = api.post(f"{url}/confirm")
    assert confirm.status_code == 422 and {"applicant", "identity"} <= set(field_errors(confirm))
    sign = api.post(f"{url}/signatures", {"confirmed": True})
    assert sign.status_code == 422 and "status" in field_errors(sign)
    pay = api.post(f"{url}/payment")
    assert pay.status_code == 409 and pay.data["code"] == "not_payable"
    assert api.get(url).data["status"] == "draft"


def test_cancel_then_nothing_more(api: Api, product) -> None:
    state = start(api, product)
    url = f"{BASE}/{state['id']}"
    cancelled = api.post(f"{url}/cancel").data
    assert cancelled["status"] == "cancelled" and cancelled["next_step"] == "cancelled"
    again = api.put(f"{url}/data", data_body(f.resident_id(f.years_ago(35))))
    assert again.status_code == 409 and again.data["code"] == "application_closed"


def test_application_form_pdf_once_rendered(api: Api, product, settings, tmp_path) -> None:
    from huibao.application.documents import render_application_form
    from huibao.esign import pdf as esign_pdf

    settings.VAR_DIR = tmp_path / "var"
    settings.HUIBAO_SIGNING_KEY_PASSPHRASE = ""
    esign_pdf._signer.cache_clear()
    state = to_signed(api, product)
    url = f"{BASE}/{state['id']}/application-form.pdf"
    assert state["application_form"] == {"ready": False, "url": None}
    not_yet = api.get(url)
    assert not_yet.status_code == 409 and not_yet.data["code"] == "form_not_ready"
    render_application_form(Application.objects.get(public_id=state["id"]))
    response = api.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert api.get(f"{BASE}/{state['id']}").data["application_form"]["url"] == url
    esign_pdf._signer.cache_clear()


def test_face_check_when_the_product_asks_for_it(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from huibao.identity.tests.factories import client_transport as face_transport
    from huibao.sandbox import identity as face_sandbox
    from huibao.sandbox import notifications

    monkeypatch.setattr(notifications, "http_post", face_transport(Client()))
    product = f.simple_product(rules={"signature": "confirmation", "face_check": {"always": True}})
    applicant_id = f.resident_id(f.years_ago(35))
    state = start(api, product)
    url = f"{BASE}/{state['id']}"
    api.put(f"{url}/data", data_body(applicant_id))
    api.post(f"{url}/identity", {"name": f.APPLICANT_NAME, "id_number": applicant_id})
    state = api.post(f"{url}/confirm").data
    for doc in state["documents"]:
        api.post(f"{url}/documents/{doc['id']}/open")
        api.post(f"{url}/documents/{doc['id']}/read", {"scrolled_to_end": True})
    for clause in state["clauses"]:
        api.post(f"{url}/clauses/{clause['document_id']}/{clause['code']}/show")
        api.post(f"{url}/clauses/{clause['document_id']}/{clause['code']}/confirm")
    state = api.get(url).data
    assert state["next_step"] == "face_check" and state["face"]["required"]
    refused = api.post(f"{url}/signatures", {"confirmed": True})
    assert refused.status_code == 422 and field_errors(refused) == {"face": "not_passed"}
    bad_return = api.post(f"{url}/face", {"return_url": "https://elsewhere.example/"})
    assert bad_return.status_code == 422 and field_errors(bad_return) == {"return_url": "return_url_invalid"}
    # when: the customer goes through the face service's page
    session_url = api.post(f"{url}/face", {"return_url": "/apply/face-done/"}).data["session_url"]
    assert api.get(url).data["face"]["status"] == "pending"
    token = session_url.rstrip("/").rsplit("/", 1)[1]
    face_sandbox.submit_face(token)
    assert face_sandbox.deliver(token)
    # then
    state = api.get(url).data
    assert state["face"]["status"] == "passed" and state["next_step"] == "sign"


# --- payment ------------------------------------------------------------------------------------------


def test_payment_by_someone_else_is_refused_refunded_and_not_issued(api: Api, product) -> None:
    state = to_signed(api, product)
    url = f"{BASE}/{state['id']}"
    opened = api.post(f"{url}/payment").data
    payment = pay_on_the_sandbox_page(opened["checkout_url"], name="李四", id_number=OTHER_ID)
    assert payment.status == PaymentStatus.REFUSED and payment.failure_reason == "payer_not_applicant"
    checkout = SandboxCheckout.objects.get(txn_id=payment.provider_txn_id)
    assert checkout.refunded_fen == checkout.amount_fen
    state = api.get(url).data
    assert state["status"] == "signed" and state["policies"] == []
    assert state["next_step"] == "pay"
    assert state["payment"]["failure_reason"] == "payer_not_applicant"
    assert state["payment"]["failure_message"].startswith("付款人须为投保人本人")
    shown = api.get(f"/api/v1/payments/{opened['id']}").data
    assert shown["status"] == "refused" and shown["refunds"][0]["amount"] == "100.00"
    # the applicant pays again with their own card: a new payment
    again = api.post(f"{url}/payment").data
    assert again["id"] != opened["id"]


def test_forged_notification_is_rejected_and_changes_nothing(api: Api, product, client: Client) -> None:
    applicant_id = f.resident_id(f.years_ago(35))
    state = to_signed(api, product, applicant_id)
    opened = api.post(f"{BASE}/{state['id']}/payment").data
    payment = Payment.objects.get(public_id=opened["id"])
    headers, body = notification(payment, payer_name=f.APPLICANT_NAME, payer_id=applicant_id)
    headers["Huibao-Sandbox-Signature"] = "0" * 64
    response = client.generic(
        "POST",
        "/payment/notify/sandbox/",
        body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )
    assert response.status_code == 400
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert api.get(f"{BASE}/{state['id']}").data["status"] == "awaiting_payment"


def test_paid_while_issuance_was_not_running_is_recovered_exactly_once(api: Api, product) -> None:
    # given: the process "dies" between the payment and the issuance (no paid hook ran)
    applicant_id = f.resident_id(f.years_ago(35))
    state = to_signed(api, product, applicant_id)
    opened = api.post(f"{BASE}/{state['id']}/payment").data
    payment_services.unregister_paid_hook(REFERENCE_KIND, on_payment_confirmed)
    try:
        payment = pay_on_the_sandbox_page(
            opened["checkout_url"], name=f.APPLICANT_NAME, id_number=applicant_id
        )
    finally:
        payment_services.register_paid_hook(REFERENCE_KIND, on_payment_confirmed)
    assert payment.status == PaymentStatus.SUCCEEDED
    app = Application.objects.get(public_id=state["id"])
    assert app.status == ApplicationStatus.AWAITING_PAYMENT and not app.policies.exists()
    assert api.get(f"{BASE}/{state['id']}").data["next_step"] == "wait_issue"
    # when: the recovery sweep runs, twice
    first = recover_paid_applications()
    second = recover_paid_applications()
    # then
    assert first == [app.number] and second == []
    app.refresh_from_db()
    assert app.status == ApplicationStatus.ISSUED and app.policies.count() == 1


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_duplicate_notifications_issue_exactly_one_policy() -> None:
    # given: a signed application with an open payment, and 50 copies of the success
    # notification (25 retries of one notify id, 25 re-sends under new ids) released at once
    product = f.simple_product(min_read_seconds=0)
    user = f.customer()
    app = f.to_signed(product, user)
    payment = pay(app, user=user)
    app.refresh_from_db()
    first = notification(payment, payer_name=app.applicant_name, payer_id=app.applicant_id_number)
    copies = [first] * 25 + [
        notification(payment, payer_name=app.applicant_name, payer_id=app.applicant_id_number)
        for _ in range(25)
    ]

    def deliver(copy: tuple[dict[str, str], bytes]) -> payment_services.NotificationOutcome:
        try:
            return payment_services.handle_notification("sandbox", *copy)
        finally:
            connection.close()

    # when
    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(deliver, copies))

    # then
    assert all(o.acknowledge for o in outcomes), [o.code for o in outcomes if not o.acknowledge]
    assert [o.code for o in outcomes].count("succeeded") == 1
    app.refresh_from_db()
    assert app.status == ApplicationStatus.ISSUED and app.policies.count() == 1
    assert AuditEntry.objects.filter(object_id=str(app.public_id), action="application.issued").count() == 1


def test_confirming_data_that_changed_since_it_was_shown_is_refused(api: Api, product, user) -> None:
    app = start_application(quote_ids=[f.quote(product, user).pk], user=user)
    d = f.data()
    save_data(app, d, actor=user)
    verify_identity(app, name=d.applicant.name, id_number=d.applicant.id_number, user=user)
    shown = api.get(f"{BASE}/{app.public_id}").data["data_revision"]
    changed = dataclasses.replace(d, applicant=dataclasses.replace(d.applicant, phone="13900009999"))
    save_data(app, changed, actor=user)  # changed in another tab
    stale = api.post(f"{BASE}/{app.public_id}/confirm", {"data_revision": shown})
    assert stale.status_code == 409 and stale.data["code"] == "data_changed"
    assert Application.objects.get(pk=app.pk).status == ApplicationStatus.DRAFT
    current = api.get(f"{BASE}/{app.public_id}").data["data_revision"]
    assert api.post(f"{BASE}/{app.public_id}/confirm", {"data_revision": current}).status_code == 200


def test_reading_and_confirming_can_show_the_next_clause_in_the_same_call(api: Api) -> None:
    # given three documents with a key clause each (three different clauses), none read yet
    product = f.simple_product(one_document=False)
    f.distinct_clauses(product)
    applicant_id = f.resident_id(f.years_ago(35))
    state = start(api, product)
    url = f"{BASE}/{state['id']}"
    api.put(f"{url}/data", data_body(applicant_id))
    api.post(f"{url}/identity", {"name": f.APPLICANT_NAME, "id_number": applicant_id})
    state = api.post(f"{url}/confirm").data
    documents, clauses = state["documents"], state["clauses"]
    assert len(documents) == 3 and [c["document_id"] for c in clauses] == [d["id"] for d in documents]
    docs = [f"{url}/documents/{d['id']}" for d in documents]
    paths = [f"{url}/clauses/{c['document_id']}/{c['code']}" for c in clauses]

    def shown() -> list[int]:
        """The documents whose clause was recorded as shown, in order."""
        entries = AuditEntry.objects.filter(object_id=state["id"], action="application.clause_shown")
        return [e.after["document"] for e in entries.order_by("id")]

    for doc in docs:
        api.post(f"{doc}/open")
    # when a reading is refused, asking for the next clause changes nothing
    refused = api.post(f"{docs[0]}/read?show_next=true", {"scrolled_to_end": False})
    assert refused.status_code == 422 and field_errors(refused) == {"scrolled_to_end": "not_scrolled"}
    assert shown() == []
    # when the first document is read asking for the next clause
    answer = api.post(f"{docs[0]}/read?show_next=true", {"scrolled_to_end": True}).data
    # then its clause comes back shown, recorded as shown like a separate call
    assert answer["state"] == "read"
    assert (answer["next_clause"]["document_id"], answer["next_clause"]["state"]) == (
        documents[0]["id"],
        "shown",
    )
    assert shown() == [documents[0]["id"]]
    # and reading the second meanwhile gives the same first clause again, shown once
    again = api.post(f"{docs[1]}/read?show_next=true", {"scrolled_to_end": True}).data
    assert again["next_clause"]["document_id"] == documents[0]["id"] and shown() == [documents[0]["id"]]
    # when the first clause is confirmed asking for the next
    answer = api.post(f"{paths[0]}/confirm?show_next=true").data
    # then it is confirmed and the second comes back shown
    assert answer["state"] == "confirmed" and answer["document_id"] == clauses[0]["document_id"]
    nxt = answer["next_clause"]
    assert (nxt["document_id"], nxt["state"], nxt["confirmed_at"]) == (
        clauses[1]["document_id"],
        "shown",
        None,
    )
    assert shown() == [documents[0]["id"], documents[1]["id"]]
    # when the second is confirmed the same way while the third's document is unread
    answer = api.post(f"{paths[1]}/confirm?show_next=true").data
    # then nothing more is shown
    assert answer["state"] == "confirmed" and answer["next_clause"] is None
    assert shown() == [documents[0]["id"], documents[1]["id"]]
    assert api.get(url).data["clauses"][2]["state"] == "pending"
    # and reading the third shows its clause; the last confirmation has no next
    answer = api.post(f"{docs[2]}/read?show_next=true", {"scrolled_to_end": True}).data
    assert answer["next_clause"]["document_id"] == documents[2]["id"]
    assert shown() == [d["id"] for d in documents]
    last = api.post(f"{paths[2]}/confirm?show_next=true").data
    assert last["state"] == "confirmed" and last["next_clause"] is None
    assert api.get(url).data["next_step"] == "sign"


def test_every_field_put_through_the_api_comes_back_and_reaches_the_policy(api: Api) -> None:
    # given: a product with a subject field, named beneficiaries, a spouse as insured, two questions
    product = f.simple_product(
        rules={
            "signature": "confirmation",
            "beneficiary": "named_allowed",
            "insured_relations": ["self", "spouse"],
            "subject": [{"code": "employer", "label": "工作单位", "required": True}],
        },
        health_questions=[
            {"code": "hospital", "text": "过去两年内是否住院治疗？"},
            {"code": "chronic", "text": "是否患有慢性病？"},
        ],
    )
    applicant_id = f.resident_id(f.years_ago(36))
    spouse_id = f.resident_id(f.years_ago(33), male=False, region="310115")
    beneficiaries = [
        {"name": "王小宝", "id_number": f.resident_id(f.years_ago(6)), "relation": "child", "order": 1},
        {
            "name": "张桂兰",
            "id_number": f.resident_id(f.years_ago(62), male=False),
            "relation": "parent",
            "order": 1,
        },
    ]
    body = {
        "applicant": {
            "name": "王建国",
            "id_number": applicant_id,
            "phone": "13900005555",
            "email": "jianguo@example.com",
            "address": "上海市浦东新区世纪大道100号",
            "occupation": "会计",
        },
        "insured": [
            {
                "relation": "spouse",
                "name": "李秀英",
                "id_number": spouse_id,
                "phone": "13900006666",
                "occupation": "教师",
                "occupation_class": 2,
                "health_answers": {"hospital": False, "chronic": False},
                "beneficiaries": [{**b, "share_percent": "50"} for b in beneficiaries],
            }
        ],
        "beneficiary_mode": "named",
        "subject": {"employer": "浦东会计师事务所"},
    }
    state = start(api, product)
    url = f"{BASE}/{state['id']}"
    # when: every field is put, and the application goes on to an issued policy
    assert api.put(f"{url}/data", body).status_code == 200
    mine = api.get(f"{url}/data").data
    assert api.post(f"{url}/identity", {"name": "王建国", "id_number": applicant_id}).status_code == 200
    state = api.post(f"{url}/confirm").data
    for doc in state["documents"]:
        api.post(f"{url}/documents/{doc['id']}/open")
        api.post(f"{url}/documents/{doc['id']}/read", {"scrolled_to_end": True})
    for clause in state["clauses"]:
        api.post(f"{url}/clauses/{clause['document_id']}/{clause['code']}/show")
        api.post(f"{url}/clauses/{clause['document_id']}/{clause['code']}/confirm")
    assert api.post(f"{url}/signatures", {"role": "applicant", "confirmed": True}).status_code == 200
    checkout = api.post(f"{url}/payment").data["checkout_url"]
    pay_on_the_sandbox_page(checkout, name="王建国", id_number=applicant_id)
    state = api.get(url).data
    # then: what was put is what the owner reads back, every field
    (insured,) = mine["insured"]
    assert mine["applicant"] == {
        **body["applicant"],
        "region": "110000",
    }  # region: from the ID when not given
    assert mine["beneficiary_mode"] == "named" and mine["subject"] == body["subject"]
    assert {k: insured[k] for k in ("relation", "name", "id_number", "phone", "occupation")} == {
        k: body["insured"][0][k] for k in ("relation", "name", "id_number", "phone", "occupation")
    }
    assert str(insured["occupation_class"]) == "2" and insured["health_answers"] == {
        "hospital": False,
        "chronic": False,
    }
    assert [
        (b["name"], b["id_number"], b["relation"], str(b["order"]), b["share_percent"])
        for b in insured["beneficiaries"]
    ] == [(b["name"], b["id_number"], b["relation"], "1", "50.00") for b in beneficiaries]
    # and: the issued policy names the same people, shares and subject
    assert state["status"] == "issued"
    policy = api.get(f"/api/v1/policies/{state['policies'][0]['id']}").data
    assert policy["beneficiary_mode"] == "named"
    assert [(b["name"], b["relation"], b["order"], b["share_percent"]) for b in policy["beneficiaries"]] == [
        ("王小宝", "子女", 1, "50.00"),
        ("张桂兰", "父母", 1, "50.00"),
    ]
    assert policy["holder"]["name"] == "王建国" and policy["insured"]["name"] == "李秀英"
    assert policy["subject"] == [{"code": "employer", "label": "工作单位", "value": "浦东会计师事务所"}]
