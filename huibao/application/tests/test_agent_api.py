"""The agent-started flow over `/api/v1`: an agent with a staff bearer token starts an application
from a quote, fills in the data and makes the invitation; the customer claims it and checks,
confirms, reads, signs and pays themself. The agent never acts for the customer, a change after
confirmation sends the application back for confirmation, and bad input is named by field."""

from __future__ import annotations

import json
from typing import Any

import pyotp
import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from huibao.account.demo import totp_secret_base32
from huibao.account.models import User
from huibao.account.services import create_staff_user, enrol_totp
from huibao.application.models import Application
from huibao.application.states import ApplicationStatus
from huibao.application.tests import factories as f
from huibao.application.tests.test_api import data_body, field_errors, pay_on_the_sandbox_page
from huibao.payment.states import PaymentStatus
from huibao.payment.tests.factories import client_transport
from huibao.sandbox import notifications

pytestmark = pytest.mark.django_db

AGENT = "/api/v1/agent/applications"
BASE = "/api/v1/applications"
STAFF_PASSWORD = "Sturdy-pass-2026"


class Api:
    """JSON calls with a bearer token, or through the client's session when `token` is None."""

    def __init__(self, client: Client | None = None, token: str | None = None) -> None:
        self.client = client or Client()
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> Any:
        extra = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}
        response = self.client.generic(
            method,
            path,
            json.dumps(body) if body is not None else "",
            content_type="application/json",
            **extra,
        )
        is_json = response.get("Content-Type", "").startswith("application/json")
        response.data = response.json() if is_json else None  # type: ignore[attr-defined]
        return response

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, body if body is not None else {})

    def put(self, path: str, body: Any) -> Any:
        return self.call("PUT", path, body)


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    monkeypatch.setattr(notifications, "http_post", client_transport(Client()))


def staff(username: str) -> tuple[User, Any]:
    """A staff member in the demo role "agent", with a confirmed authenticator."""
    user = create_staff_user(username, STAFF_PASSWORD, ["agent"])
    return user, enrol_totp(user)


def staff_token(username: str) -> tuple[User, Api]:
    """An agent's app: username + password + TOTP → a bearer token."""
    user, device = staff(username)
    response = Api().post(
        "/api/v1/auth/tokens",
        {
            "username": username,
            "password": STAFF_PASSWORD,
            "totp": pyotp.TOTP(totp_secret_base32(device)).now(),
            "name": "展业App",
        },
    )
    assert response.status_code == 201, response.data
    return user, Api(token=response.data["token"])


def customer_token(phone: str = "13900001111") -> tuple[User, Api]:
    user = f.customer(phone)
    response = Api().post("/api/v1/auth/tokens", {"phone": phone, "password": "pw-123456"})
    assert response.status_code == 201, response.data
    return user, Api(token=response.data["token"])


def customer_session(phone: str = "13900002222") -> tuple[User, Api]:
    user = f.customer(phone)
    client = Client()
    client.force_login(user)
    return user, Api(client)


@pytest.fixture
def agent() -> tuple[User, Api]:
    return staff_token("agent_zhang")


@pytest.fixture
def product():
    return f.simple_product(min_read_seconds=0)


def quote_id(api: Api, product: Any) -> str:
    response = api.post(
        "/api/v1/quotes", {"product_code": product.code, "plan_code": "basic", "inputs": {"age": 30}}
    )
    assert response.status_code == 201, response.data
    return str(response.data["id"])


def agent_start(api: Api, product: Any) -> dict[str, Any]:
    response = api.post(AGENT, {"quote_ids": [quote_id(api, product)]})
    assert response.status_code == 201, response.data
    return dict(response.data)


def prepared_and_invited(api: Api, product: Any, applicant_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The agent starts, fills in and invites: (the state, the invitation)."""
    state = agent_start(api, product)
    saved = api.put(f"{AGENT}/{state['id']}/data", data_body(applicant_id))
    assert saved.status_code == 200, saved.data
    invitation = api.post(f"{AGENT}/{state['id']}/invitation")
    assert invitation.status_code == 201, invitation.data
    return dict(saved.data), dict(invitation.data)


def read_and_confirm_clauses(api: Api, url: str, state: dict[str, Any]) -> None:
    for doc in state["documents"]:
        assert api.post(f"{url}/documents/{doc['id']}/open").status_code == 200
        assert api.post(f"{url}/documents/{doc['id']}/read", {"scrolled_to_end": True}).status_code == 200
    for clause in state["clauses"]:
        clause_url = f"{url}/clauses/{clause['document_id']}/{clause['code']}"
        assert api.post(f"{clause_url}/show").status_code == 200
        assert api.post(f"{clause_url}/confirm").status_code == 200


# --- the whole flow ---------------------------------------------------------------------------------


def test_agent_prepares_over_the_api_and_the_customer_completes_it_themself(agent, product) -> None:
    agent_user, agent_api = agent
    applicant_id = f.resident_id(f.years_ago(35))
    # given: the agent's app starts an application from a quote
    state = agent_start(agent_api, product)
    url = f"{BASE}/{state['id']}"
    assert state["status"] == "draft" and state["channel"] == "agent" and state["next_step"] == "fill_data"
    assert state["is_owner"] is False and state["customer"] is None and state["invited"] is False
    app = Application.objects.get(public_id=state["id"])
    assert app.started_by == agent_user and app.customer is None
    # no invitation before the data is there
    early = agent_api.post(f"{AGENT}/{state['id']}/invitation")
    assert early.status_code == 422 and early.data["code"] == "data_incomplete"
    assert set(field_errors(early)) == {"applicant", "insured"}

    # when: the agent fills in the customer's data and makes the invitation
    saved = agent_api.put(f"{AGENT}/{state['id']}/data", data_body(applicant_id))
    assert saved.status_code == 200, saved.data
    assert saved.data["next_step"] == "verify_identity" and saved.data["data_revision"] == 2
    # what the agent sees is masked like on the agent's page
    assert saved.data["applicant"]["name"] != f.APPLICANT_NAME and "*" in saved.data["applicant"]["name"]
    assert applicant_id not in json.dumps(saved.data) and "13900001111" not in json.dumps(saved.data)
    invitation = agent_api.post(f"{AGENT}/{state['id']}/invitation")
    assert invitation.status_code == 201, invitation.data
    token = invitation.data["token"]
    assert invitation.data["url"] == f"http://testserver/apply/invite/{token}/"
    assert invitation.data["qr_svg"].startswith('<svg class="qr"') and invitation.data["expires_at"]
    listed = agent_api.get(AGENT).data
    assert listed["total"] == 1 and listed["items"][0]["customer"] is None
    assert agent_api.get(f"{AGENT}/{state['id']}").data["invited"] is True

    # the agent can neither act for the customer nor take the link themself
    identity = {"name": f.APPLICANT_NAME, "id_number": applicant_id}
    for path, body in ((f"{url}/identity", identity), (f"{url}/confirm", {})):
        refused = agent_api.post(path, body)
        assert refused.status_code == 403 and refused.data["code"] == "not_applicant", path
    assert agent_api.post(f"{BASE}/claim", {"token": token}).status_code == 403

    # then: the customer's app claims it (the whole link, as the QR code holds it) and goes on
    customer, customer_api = customer_token()
    claimed = customer_api.post(f"{BASE}/claim", {"token": invitation.data["url"]})
    assert claimed.status_code == 200, claimed.data
    assert claimed.data["is_owner"] is True and claimed.data["applicant"]["name"] == f.APPLICANT_NAME
    assert Application.objects.get(public_id=state["id"]).customer == customer
    assert customer_api.get(BASE).data["total"] == 1
    assert agent_api.get(AGENT).data["items"][0]["customer"] == "139****1111"

    assert customer_api.post(f"{url}/identity", identity).status_code == 200
    confirmed = customer_api.post(f"{url}/confirm")
    assert confirmed.status_code == 200 and confirmed.data["status"] == "accepted"
    read_and_confirm_clauses(customer_api, url, confirmed.data)
    # no signing (nor paying) by proxy
    by_proxy = agent_api.post(f"{url}/signatures", {"role": "applicant", "confirmed": True})
    assert by_proxy.status_code == 403 and by_proxy.data["code"] == "not_applicant"
    signed = customer_api.post(f"{url}/signatures", {"role": "applicant", "confirmed": True})
    assert signed.status_code == 200 and signed.data["status"] == "signed", signed.data
    assert agent_api.post(f"{url}/payment").status_code == 403
    opened = customer_api.post(f"{url}/payment")
    assert opened.status_code == 200, opened.data
    checkout_url = opened.data["checkout_url"]
    payment = pay_on_the_sandbox_page(checkout_url, name=f.APPLICANT_NAME, id_number=applicant_id)

    # the customer's policy; the agent sees it issued and can change nothing any more
    assert payment.status == PaymentStatus.SUCCEEDED
    issued = customer_api.get(url).data
    assert issued["status"] == "issued" and len(issued["policies"]) == 1
    app.refresh_from_db()
    assert app.customer == customer and app.started_by == agent_user
    assert app.signatures.get().signer_name == f.APPLICANT_NAME
    seen = agent_api.get(f"{AGENT}/{state['id']}").data
    assert seen["status"] == "issued" and seen["customer"] == "139****1111"
    late = agent_api.put(f"{AGENT}/{state['id']}/data", data_body(applicant_id))
    assert late.status_code == 409 and late.data["code"] == "application_closed"


def test_an_agent_change_after_confirmation_sends_it_back_for_the_customers_confirmation(
    agent, product
) -> None:
    _agent_user, agent_api = agent
    applicant_id = f.resident_id(f.years_ago(35))
    state, invitation = prepared_and_invited(agent_api, product, applicant_id)
    url = f"{BASE}/{state['id']}"
    _customer, customer_api = customer_session()
    assert customer_api.post(f"{BASE}/claim", {"token": invitation["token"]}).status_code == 200
    customer_api.post(f"{url}/identity", {"name": f.APPLICANT_NAME, "id_number": applicant_id})
    confirmed = customer_api.post(f"{url}/confirm").data
    read_and_confirm_clauses(customer_api, url, confirmed)
    signed = customer_api.post(f"{url}/signatures", {"role": "applicant", "confirmed": True}).data
    assert signed["status"] == "signed"
    # when: the agent changes a field after the customer confirmed and signed
    changed = data_body(applicant_id)
    changed["applicant"]["email"] = "new@example.com"
    amended = agent_api.put(f"{AGENT}/{state['id']}/data", changed)
    # then: back to draft, confirmation and signature void; the customer must confirm again
    assert amended.status_code == 200, amended.data
    assert amended.data["status"] == "draft" and amended.data["confirmed"] is False
    assert not any(s["signed"] for s in amended.data["signatures"])
    mine = customer_api.get(url).data
    assert mine["status"] == "draft" and mine["next_step"] == "confirm"
    assert customer_api.get(f"{url}/data").data["applicant"]["email"] == "new@example.com"
    app = Application.objects.get(public_id=state["id"])
    assert app.status == ApplicationStatus.DRAFT and not app.is_confirmed and not app.signatures.exists()
    # the customer confirms the changed data themself
    again = customer_api.post(f"{url}/confirm")
    assert again.status_code == 200 and again.data["status"] == "accepted"


# --- who may call -----------------------------------------------------------------------------------


def test_only_verified_staff_reach_the_agent_endpoints(agent, product) -> None:
    _agent_user, agent_api = agent
    state = agent_start(agent_api, product)
    one = f"{AGENT}/{state['id']}"
    calls = [("GET", AGENT, None), ("POST", AGENT, {"quote_ids": []}), ("GET", one, None)]
    calls += [("PUT", f"{one}/data", data_body(f.resident_id(f.years_ago(35))))]
    calls += [("POST", f"{one}/invitation", {})]
    # not logged in
    for method, path, body in calls:
        assert Api().call(method, path, body).status_code == 401, (method, path)
    # a customer (session or token), and a staff session without its TOTP step
    _c1, by_session = customer_session()
    _c2, by_token = customer_token()
    unverified_user, _device = staff("agent_wang")
    unverified = Client()
    unverified.force_login(unverified_user)
    for caller in (by_session, by_token, Api(unverified)):
        for method, path, body in calls:
            response = caller.call(method, path, body)
            assert response.status_code == 403 and response.data["code"] == "staff_only", (method, path)
    assert Application.objects.get().data_revision == 1


def test_a_verified_staff_session_works_too(product) -> None:
    user, device = staff("agent_zhao")
    client = Client()
    logged_in = client.post(
        reverse("account:staff_login"),
        {
            "username": "agent_zhao",
            "password": STAFF_PASSWORD,
            "otp_token": pyotp.TOTP(totp_secret_base32(device)).now(),
        },
    )
    assert logged_in.status_code == 302
    api = Api(client)
    state = agent_start(api, product)
    assert api.get(AGENT).data["total"] == 1
    assert Application.objects.get(public_id=state["id"]).started_by == user


def test_another_agents_application_is_404(agent, product) -> None:
    _agent_user, agent_api = agent
    state = agent_start(agent_api, product)
    _other_user, other = staff_token("agent_sun")
    one = f"{AGENT}/{state['id']}"
    assert other.get(one).status_code == 404
    response = other.put(f"{one}/data", data_body(f.resident_id(f.years_ago(35))))
    assert response.status_code == 404 and response.data["code"] == "application_not_found"
    assert other.post(f"{one}/invitation").status_code == 404
    assert other.get(AGENT).data == {"total": 0, "items": []}
    # nor is a customer's own application the agent's
    _customer, customer_api = customer_session()
    own = customer_api.post(BASE, {"quote_ids": [quote_id(customer_api, product)], "channel": "app"})
    assert own.status_code == 201
    assert agent_api.get(f"{AGENT}/{own.data['id']}").status_code == 404
    assert Application.objects.get(public_id=state["id"]).data_revision == 1


# --- bad input is named ---------------------------------------------------------------------------


def test_bad_input_is_named_by_field_and_changes_nothing(agent, product) -> None:
    _agent_user, agent_api = agent
    missing = agent_api.post(AGENT, {})
    assert missing.status_code == 422 and field_errors(missing) == {"quote_ids": "required"}
    malformed = agent_api.post(AGENT, {"quote_ids": ["not-a-uuid"]})
    assert malformed.status_code == 422 and field_errors(malformed) == {"quote_ids": "invalid"}
    unknown = agent_api.post(AGENT, {"quote_ids": ["3f0c6d0e-6a51-4c8a-9f61-2a7c1f0b8d11"]})
    assert unknown.status_code == 404 and field_errors(unknown) == {"quote_ids": "unknown_quote"}
    empty = agent_api.post(AGENT, {"quote_ids": []})
    assert empty.status_code == 422 and field_errors(empty) == {"quote_ids": "required"}
    assert not Application.objects.exists()

    state = agent_start(agent_api, product)
    good = f.resident_id(f.years_ago(35))
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    response = agent_api.put(f"{AGENT}/{state['id']}/data", data_body(bad))
    assert response.status_code == 422 and "applicant.id_number" in field_errors(response)
    no_applicant = agent_api.put(f"{AGENT}/{state['id']}/data", {"insured": []})
    assert no_applicant.status_code == 422 and field_errors(no_applicant) == {"applicant": "required"}
    app = Application.objects.get(public_id=state["id"])
    assert app.applicant_name == "" and app.data_revision == 1 and not app.insured_persons.exists()


def test_claiming_names_the_token_and_only_the_latest_link_works(agent, product) -> None:
    _agent_user, agent_api = agent
    applicant_id = f.resident_id(f.years_ago(35))
    state, first = prepared_and_invited(agent_api, product, applicant_id)
    second = agent_api.post(f"{AGENT}/{state['id']}/invitation").data
    _customer, customer_api = customer_token()
    no_token = customer_api.post(f"{BASE}/claim", {})
    assert no_token.status_code == 422 and field_errors(no_token) == {"token": "required"}
    for stale in (first["token"], "", "nonsense"):
        refused = customer_api.post(f"{BASE}/claim", {"token": stale})
        assert refused.status_code == 404 and field_errors(refused) == {"token": "invalid_invitation"}
    assert Application.objects.get(public_id=state["id"]).customer is None
    for _twice in range(2):  # claiming again is harmless
        assert customer_api.post(f"{BASE}/claim", {"token": second["token"]}).status_code == 200
    _other, other_api = customer_session()
    taken = other_api.post(f"{BASE}/claim", {"token": second["token"]})
    assert taken.status_code == 403 and taken.data["code"] == "claimed_by_other"


def test_the_openapi_schema_documents_the_agent_endpoints(client: Client) -> None:
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"post", "get"} <= set(paths[AGENT])
    assert "put" in paths[AGENT + "/{public_id}/data"]
    assert "post" in paths[AGENT + "/{public_id}/invitation"]
    assert "post" in paths[BASE + "/claim"]
    assert "agent applications" in paths[AGENT]["post"]["tags"]


def test_the_agents_page_still_refuses_an_invitation_before_the_data(product) -> None:
    # the rule moved into `services.invite_customer`; the page shows its message
    _user, device = staff("agent_qian")
    client = Client()
    client.post(
        reverse("account:staff_login"),
        {
            "username": "agent_qian",
            "password": STAFF_PASSWORD,
            "otp_token": pyotp.TOTP(totp_secret_base32(device)).now(),
        },
    )
    state = agent_start(Api(client), product)
    response = client.post(reverse("application:agent_invite", args=[state["id"]]), follow=True)
    assert "请先填写并保存投保信息，再发送邀请" in response.content.decode()
    assert not Application.objects.get(public_id=state["id"]).invite_token_hash
