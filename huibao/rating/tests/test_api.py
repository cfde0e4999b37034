import json
import uuid

import pytest
from django.test import Client

from huibao.account.models import User
from huibao.rating import services
from huibao.rating.models import Quote
from huibao.rating.tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    services.clear_cache()


def post(client, body):
    return client.post("/api/v1/quotes", data=json.dumps(body), content_type="application/json")


def test_post_quote_returns_201_with_premium_and_explanation(client: Client):
    # given a term-life product on sale
    version = factories.term_life_version()
    # when a quote is requested
    response = post(
        client,
        {
            "product_code": version.product.code,
            "plan_code": "standard",
            "inputs": {
                "age": 35,
                "sex": "M",
                "sum_insured": 500000,
                "term": "20y",
                "payment_mode": "monthly",
            },
        },
    )
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["premium"] == "280.50"
    assert body["annual_premium"] == "280.50"
    assert body["instalment"] == "23.38"
    # per period, as every page shows it: the first instalment billing collects, and the year
    assert body["per_period"] == {"amount": "23.38", "period": "month", "annual_total": "280.50"}
    assert body["product_code"] == version.product.code
    assert body["product_version_id"] == version.pk
    assert body["plan_name"] == "标准版"
    assert body["steps"][0]["lookups"][0] == {"table": "base_rate", "key": "31|M|20y", "value": "0.55"}
    assert Quote.objects.filter(pk=body["id"], channel="api").exists()


def test_invalid_inputs_give_422_with_every_field(client: Client):
    version = factories.accident_version()
    response = post(
        client,
        {
            "product_code": version.product.code,
            "plan_code": "basic",
            "inputs": {"age": 70, "occupation_class": 5, "sum_insured": 5000000},
        },
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "quote_rejected"
    assert {(e["field"], e["code"]) for e in body["errors"]} == {
        ("inputs.age", "age_out_of_range"),
        ("inputs.occupation_class", "occupation_not_accepted"),
        ("inputs.sum_insured", "sum_insured_above_limit"),
    }
    assert "65周岁" in next(e["message"] for e in body["errors"] if e["field"] == "inputs.age")


def test_unknown_product_gives_404(client: Client):
    response = post(client, {"product_code": "nope", "plan_code": "x", "inputs": {}})
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "product_code"


def test_get_quote_returns_the_stored_quote(client: Client):
    version = factories.travel_version()
    created = post(
        client,
        {
            "product_code": version.product.code,
            "plan_code": "plus",
            "inputs": {"age": 30, "destination_zone": "world", "trip_days": 40},
        },
    ).json()
    response = client.get(f"/api/v1/quotes/{created['id']}")
    assert response.status_code == 200
    body = response.json()
    assert body["premium"] == created["premium"] == "400.00"
    assert body["steps"] == created["steps"]
    assert body["instalment"] is None and body["annual_premium"] is None
    assert body["per_period"] == {"amount": "400.00", "period": None, "annual_total": None}


def test_quote_of_a_customer_is_hidden_from_others(client: Client):
    # given a quote made by a logged-in customer
    owner = User.objects.create_user(username="quote-owner", password="x-Secret-123")
    version = factories.accident_version()
    quote = services.create_quote(
        product_code=version.product.code,
        plan_code="basic",
        inputs={"age": 30, "occupation_class": 1, "sum_insured": 100000},
        user=owner,
    )
    # when someone else asks for it
    response = client.get(f"/api/v1/quotes/{quote.pk}")
    # then it is not found, while the owner sees it
    assert response.status_code == 404
    client.force_login(owner)
    assert client.get(f"/api/v1/quotes/{quote.pk}").status_code == 200
    assert client.get(f"/api/v1/quotes/{uuid.uuid4()}").status_code == 404
