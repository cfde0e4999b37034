"""The renewal page and API: owner-only, the premium explained, accept → cashier, automatic
renewal on/off, decline; the hub's "renew" action; statuses in OpenAPI."""

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from huibao.policy.actions import actions_for
from huibao.policy.tests.factories import customer
from huibao.renewal import services
from huibao.renewal.models import RenewalOffer
from huibao.renewal.states import OfferStatus
from huibao.renewal.tests.factories import expiry_date, renewable_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def offer():
    policy = renewable_policy()
    day = expiry_date(policy) - datetime.timedelta(days=30)
    with time_machine.travel(
        timezone.make_aware(datetime.datetime.combine(day, datetime.time(8))), tick=False
    ):
        services.make_offers(day)
        yield RenewalOffer.objects.select_related("policy").get(policy=policy)


def _page(offer):
    return reverse("renewal:offer", kwargs={"public_id": offer.policy.public_id})


def _api(offer, tail=""):
    return f"/api/v1/policies/{offer.policy.public_id}/renewal-offer{tail}"


def test_the_page_shows_the_offer_explained_to_its_owner_only(client, offer):
    assert client.get(_page(offer)).status_code == 302  # login first
    client.force_login(customer())
    assert client.get(_page(offer)).status_code == 404  # another customer's policy
    client.force_login(offer.policy.customer)
    page = client.get(_page(offer))
    assert page.status_code == 200
    html = page.content.decode()
    assert "¥300.00" in html and "年龄段基础保费" in html and "31周岁" in html
    assert 'data-testid="accept"' in html


def test_accept_on_the_page_goes_to_the_cashier(client, offer):
    client.force_login(offer.policy.customer)
    response = client.post(_page(offer), {"action": "accept"})
    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.status == OfferStatus.ACCEPTED
    assert "sandbox" in response["Location"] or response["Location"].startswith("http")


def test_auto_renewal_on_the_page_needs_a_card_then_shows_the_account(client, offer):
    client.force_login(offer.policy.customer)
    refused = client.post(_page(offer), {"action": "auto_on"})
    assert refused.status_code == 400
    assert "银行卡号" in refused.content.decode()
    ok = client.post(_page(offer), {"action": "auto_on", "card_number": "4242 4242 4242 4242"})
    assert ok.status_code == 302
    page = client.get(_page(offer)).content.decode()
    assert 'data-testid="auto-on"' in page and "4242" in page and "4242424242424242" not in page
    client.post(_page(offer), {"action": "auto_off"})
    offer.refresh_from_db()
    assert offer.auto_renew is False


def test_api_is_owner_only_and_acts(client, offer):
    assert client.get(_api(offer)).status_code == 401
    client.force_login(customer())
    missing = client.get(_api(offer))
    assert missing.status_code == 404
    assert missing.json()["code"] == "policy_not_found"
    assert client.post(_api(offer, "/decline"), content_type="application/json").status_code == 404
    client.force_login(offer.policy.customer)
    body = client.get(_api(offer)).json()
    assert body["status"] == "offered" and body["premium"] == "300.00" and body["insured_age"] == 31
    assert [s["label"] for s in body["steps"]] == ["年龄段基础保费", "应缴保费"]
    bad = client.post(_api(offer, "/auto-renewal"), {"enabled": True}, content_type="application/json")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "card_number"
    on = client.post(
        _api(offer, "/auto-renewal"),
        {"enabled": True, "card_number": "4242424242424242"},
        content_type="application/json",
    )
    assert on.status_code == 200 and on.json()["auto_renew"] is True and on.json()["mandate_account"]
    accepted = client.post(_api(offer, "/accept"), content_type="application/json")
    assert accepted.status_code == 200 and accepted.json()["amount"] == "300.00"
    declined = client.post(_api(offer, "/decline"), content_type="application/json")
    assert declined.json()["status"] == "declined"
    again = client.post(_api(offer, "/accept"), content_type="application/json")
    assert again.status_code == 409


def test_openapi_lists_the_offer_statuses(client):
    schema = client.get("/api/openapi.json").json()
    text = str(schema["components"]["schemas"])
    for status in OfferStatus.values:
        assert status in text
    assert "/api/v1/policies/{policy_id}/renewal-offer/accept" in schema["paths"]


def test_the_hub_offers_renew_while_the_offer_is_open(offer):
    policy, user = offer.policy, offer.policy.customer
    keys = [a.key for a in actions_for(policy, user)]
    assert keys[0] == "renew"
    services.decline(offer, user=user)
    assert "renew" not in [a.key for a in actions_for(policy, user)]
