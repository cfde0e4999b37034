"""Where a sale may happen and who sold it, through quote, application, payment and issuance:
refusals at quote (API) and at issuance, the promise kept to a customer who signed while the
agreement was active, and the seller carried from the agent or referral code to the policy and
its renewal."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from huibao.account.models import User, UserKind
from huibao.application.models import Application
from huibao.application.services.confirm import agree_terms, confirm
from huibao.application.services.data import save_data
from huibao.application.services.identity import verify_identity
from huibao.application.services.pay import pay
from huibao.application.services.sign import sign
from huibao.application.services.start import start_application
from huibao.application.tests import factories as app_f
from huibao.core.errors import ValidationFailed
from huibao.distribution import services
from huibao.distribution.models import InsurerAgreement
from huibao.distribution.tests import factories as f
from huibao.payment import services as payment_services
from huibao.payment.models import Refund
from huibao.payment.tests.factories import notification
from huibao.policy.models import Policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def insurer():
    return f.bare_insurer()


@pytest.fixture
def agreement(insurer) -> InsurerAgreement:
    return f.active(insurer)


@pytest.fixture
def product(insurer, agreement):
    return app_f.simple_product(insurer=insurer)


@pytest.fixture
def user():
    return app_f.customer()


def _post(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


QUOTE = {"plan_code": "basic", "inputs": {"age": 30, "occupation_class": 1, "sum_insured": 100000}}


def test_the_quote_api_refuses_a_product_whose_agreement_is_suspended(product, agreement):
    # given a sellable product
    client = Client()
    assert _post(client, "/api/v1/quotes", {"product_code": product.code, **QUOTE}).status_code == 201
    # when its agreement is suspended
    services.transition(agreement, "suspended", actor=None, reason="资质复核")
    response = _post(client, "/api/v1/quotes", {"product_code": product.code, **QUOTE})
    # then the quote is refused naming the product and why, in Chinese
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["field"] == "product_code"
    assert body["errors"][0]["code"] == "agreement_suspended"
    assert "暂停" in body["errors"][0]["message"]


def test_the_quote_api_checks_the_seller_code(product):
    client = Client()
    unknown = _post(client, "/api/v1/quotes", {"product_code": product.code, "seller_code": "NOPE", **QUOTE})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "seller_code"
    units = f.tree()
    ok = _post(client, "/api/v1/quotes", {"product_code": product.code, "seller_code": "A1", **QUOTE})
    assert ok.status_code == 201
    f.unit("A9", "agent", units["T1"], licence_lines=("travel",))
    refused = _post(client, "/api/v1/quotes", {"product_code": product.code, "seller_code": "A9", **QUOTE})
    assert refused.status_code == 422
    assert refused.json()["errors"][0] == {
        "field": "seller_code",
        "code": "licence_not_covering",
        "message": refused.json()["errors"][0]["message"],
    }


def _issue(app: Application, user: User) -> Application:
    payment = pay(app, user=user)
    fresh = Application.objects.get(pk=app.pk)
    headers, body = notification(payment, payer_name=fresh.applicant_name, payer_id=fresh.applicant_id_number)
    assert payment_services.handle_notification("sandbox", headers, body).code == "succeeded"
    fresh.refresh_from_db()
    return fresh


def test_issuance_keeps_the_promise_to_a_customer_who_signed_while_the_agreement_was_active(
    product, agreement, user
):
    # given a signed application, then the agreement is suspended
    app = app_f.to_signed(product, user)
    services.transition(agreement, "suspended", actor=None, reason="对账争议")
    # when the customer pays
    app = _issue(app, user)
    # then the policy is issued: what they signed for was on sale
    assert app.status == "issued" and app.policies.count() == 1


def test_issuance_is_refused_and_refunded_when_nothing_covered_it_at_signing(
    product, agreement, user, django_capture_on_commit_callbacks
):
    # given an application signed after the agreement was suspended (it was started before)
    app = start_application(quote_ids=[app_f.quote(product, user).pk], user=user)
    services.transition(agreement, "suspended", actor=None, reason="对账争议")
    # when the customer signs and pays (the refund leaves after the commit)
    with django_capture_on_commit_callbacks(execute=True):
        app = _walk_and_issue(app, user)
    # then no policy, the application is cancelled and the premium refunded in full
    assert app.status == "cancelled"
    assert not Policy.objects.filter(application_id=app.pk).exists()
    refund = Refund.objects.get(payment_id=app.payment_id)
    assert refund.amount == app.total_premium


def test_an_agents_application_is_sold_by_the_agent_and_the_policy_keeps_it(product, user):
    # given an agent with a unit
    units = f.tree()
    agent = User.objects.create_user(username="agent-a1", password="x", kind=UserKind.STAFF)
    units["A1"].user = agent
    units["A1"].save(update_fields=["user"])
    # when the agent starts an application
    app = start_application(quote_ids=[app_f.quote(product).pk], started_by=agent)
    # then it is theirs
    assert app.seller_id == units["A1"].pk


def test_an_agent_whose_licence_misses_the_line_cannot_start_it(product):
    units = f.tree()
    agent = User.objects.create_user(username="agent-t", password="x", kind=UserKind.STAFF)
    f.unit("A8", "agent", units["T1"], licence_lines=("travel",), user=agent)
    with pytest.raises(ValidationFailed) as exc:
        start_application(quote_ids=[app_f.quote(product).pk], started_by=agent)
    assert exc.value.errors[0].field == "seller_code"
    assert not Application.objects.exists()


def test_a_referral_code_in_the_session_attributes_the_application_and_its_policy(product, user):
    # given a channel's link ?ref=SUB on a product page
    units = f.tree()
    client = Client()
    client.force_login(user)
    client.get("/?ref=SUB")
    # when the customer starts from a quote on the pages
    quote = app_f.quote(product, user)
    response = client.post(reverse("application:start"), {"quote_id": str(quote.pk)})
    assert response.status_code == 302
    app = Application.objects.get(customer=user)
    # then the application is the sub-channel's, and so is the policy
    assert app.seller_id == units["SUB"].pk
    app = _walk_and_issue(app, user)
    assert Policy.objects.get(application_id=app.pk).seller_id == units["SUB"].pk


def test_an_unknown_or_inactive_referral_code_is_ignored_on_the_pages(product, user):
    units = f.tree()
    services.deactivate_unit(units["CH"], actor=None)
    client = Client()
    client.force_login(user)
    client.get("/?ref=SUB")
    quote = app_f.quote(product, user)
    assert client.post(reverse("application:start"), {"quote_id": str(quote.pk)}).status_code == 302
    assert Application.objects.get(customer=user).seller_id is None


def test_the_application_api_takes_a_seller_code_and_names_it_when_unknown(product, user):
    units = f.tree()
    client = Client()
    client.force_login(user)
    quote = app_f.quote(product, user)
    bad = _post(client, "/api/v1/applications", {"quote_ids": [str(quote.pk)], "seller_code": "NOPE"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "seller_code"
    assert not Application.objects.exists()
    ok = _post(client, "/api/v1/applications", {"quote_ids": [str(quote.pk)], "seller_code": "CH"})
    assert ok.status_code == 201
    assert Application.objects.get().seller_id == units["CH"].pk


def _walk_and_issue(app: Application, user: User) -> Application:
    """Data, identity, confirmation, reading and signature, then payment."""
    d = app_f.data()
    save_data(app, d, actor=user)
    verify_identity(app, name=d.applicant.name, id_number=d.applicant.id_number, user=user)
    app = confirm(app, user=user)
    if app.terms_agreed_at is None:
        agree_terms(app, user=user)
    app_f.read_everything(app, user)
    app = sign(app, user=user, confirmed=True)
    return _issue(app, user)
