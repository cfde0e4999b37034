from decimal import Decimal

import pytest

from huibao.catalog.models import LineOfBusiness, ProductStatus
from huibao.catalog.tests.factories import (
    CrowdFactory,
    InsurerFactory,
    ScenarioFactory,
    bump_revision,
    on_sale_product,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def market():
    zhongan = InsurerFactory(code="zhongan", name="众安在线财产保险股份有限公司", short_name="众安保险")
    pingan = InsurerFactory(code="pingan", name="中国平安财产保险股份有限公司", short_name="平安产险")
    adults = CrowdFactory(code="adult", name="成人")
    health = ScenarioFactory(code="health", name="健康保障")
    medical = on_sale_product(
        name="尊享e生百万医疗险",
        code="zunxiang",
        insurer=zhongan,
        line=LineOfBusiness.MEDICAL,
        coverages=("一般医疗保险金", "重大疾病医疗保险金"),
        crowds=(adults,),
        scenarios=(health,),
        premium_from=Decimal("136"),
        sales_count=900,
        eligibility={
            "min_age_days": 30,
            "max_age": 60,
            "occupation_classes": [1, 2, 3, 4],
            "regions": [],
            "health_questions": [{"code": "q1", "text": "过去两年是否住院？", "knock_out_answer": True}],
        },
    )
    accident = on_sale_product(
        name="平安综合意外险",
        code="pa-accident",
        insurer=pingan,
        premium_from=Decimal("59.5"),
        sales_count=50,
    )
    return {"medical": medical, "accident": accident, "zhongan": zhongan, "pingan": pingan}


def test_list_products(client, market):
    # when
    response = client.get("/api/v1/products")

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2
    first = body["items"][0]
    assert first["code"] == "zunxiang"
    assert first["premium_from"] == "136.00"
    assert first["insurer"] == {
        "code": "zhongan",
        "name": "众安在线财产保险股份有限公司",
        "short_name": "众安保险",
    }
    assert first["line"] == {"code": "medical", "label": "医疗险"}
    assert first["crowds"] == [{"code": "adult", "label": "成人"}]
    assert first["version"] == 1
    assert {"code": "medical", "label": "医疗险", "count": 1} in body["facets"]["line"]


def test_list_products_search_and_filters(client, market):
    # when
    by_query = client.get("/api/v1/products", {"q": "医疗"}).json()
    by_insurer = client.get("/api/v1/products", {"insurer": "pingan"}).json()
    by_price = client.get("/api/v1/products", {"max_premium": "100", "sort": "price_desc"}).json()
    by_age = client.get("/api/v1/products", {"age": 61}).json()

    # then
    assert [p["code"] for p in by_query["items"]] == ["zunxiang"]
    assert [p["code"] for p in by_insurer["items"]] == ["pa-accident"]
    assert [p["code"] for p in by_price["items"]] == ["pa-accident"]
    assert by_price["items"][0]["premium_from"] == "59.50"
    assert [p["code"] for p in by_age["items"]] == ["pa-accident"]


def test_list_products_rejects_bad_parameters(client, market):
    # when
    too_many = client.get("/api/v1/products", {"limit": 101})
    bad_sort = client.get("/api/v1/products", {"sort": "cheapest"})

    # then
    assert too_many.status_code == 422
    assert bad_sort.status_code == 422
    assert bad_sort.json()["errors"][0]["field"] == "sort"


def test_list_query_count_does_not_grow_with_page_size(client, market, django_assert_max_num_queries):
    # given: 30 more products and a warm index
    for i in range(30):
        on_sale_product(name=f"意外险{i}号", code=f"bulk-{i}", crowds=(CrowdFactory(code="adult"),))
    client.get("/api/v1/products")

    # when / then
    with django_assert_max_num_queries(5):
        response = client.get("/api/v1/products", {"limit": 100})
    assert len(response.json()["items"]) == 32


def test_product_detail(client, market, django_assert_max_num_queries):
    # when
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/products/zunxiang")

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 1
    assert body["cooling_off_days"] == 15
    plan = body["plans"][0]
    assert plan["code"] == "basic"
    assert [c["name"] for c in plan["coverages"]] == ["一般医疗保险金", "重大疾病医疗保险金"]
    coverage = plan["coverages"][0]
    assert coverage["sum_insured"] == "100000.00"
    assert coverage["deductible"] == "0.00"
    assert coverage["reimbursement_ratio"] == "1"
    assert coverage["waiting_period_days"] == 0
    assert body["eligibility"]["max_age"] == 60
    assert body["eligibility"]["health_questions"] == [
        {"code": "q1", "text": "过去两年是否住院？", "sex": None}  # asked of everyone
    ]
    assert body["term_options"][0]["code"] == "1y"
    assert body["payment_modes"] == [{"code": "single", "label": "趸交"}]
    assert body["renewal"]["renewable"] is True
    document = body["documents"][0]
    assert document["kind"] == {"code": "terms", "label": "保险条款"}
    assert document["key_clauses"][0]["kind"] == "exclusion"
    assert document["body"] is None
    inputs = {i["name"]: i for i in body["quote_inputs"]}
    assert inputs["plan"]["choices"] == [{"value": "basic", "label": "基础版"}]
    assert inputs["age"]["min"] == "0"
    assert inputs["age"]["max"] == "60"
    assert inputs["sum_insured"]["required"] is False  # a fixed plan
    assert [c["value"] for c in inputs["occupation_class"]["choices"]] == ["1", "2", "3", "4"]
    assert "sex" not in inputs  # the spec does not use it
    assert "region" not in inputs  # sold everywhere, and the spec does not use it


def test_product_detail_spec_inputs(client, market):
    # given: a spec that prices by sex and by its own trip_days input
    version = market["accident"].current_version
    version.pricing = {
        "inputs": {"trip_days": {"type": "integer", "label": "出行天数", "min": 1, "max": 180, "default": 7}},
        "tables": {"rate": {"keys": ["sex"], "values": {"M": "1", "F": "0.9"}}},
        "steps": [{"name": "premium", "label": "保费", "expr": "table('rate') * trip_days"}],
        "result": "premium",
    }
    version.save(update_fields=["pricing"])

    # when
    body = client.get("/api/v1/products/pa-accident").json()

    # then
    inputs = {i["name"]: i for i in body["quote_inputs"]}
    assert [c["value"] for c in inputs["sex"]["choices"]] == ["M", "F"]
    assert inputs["trip_days"] == {
        "name": "trip_days",
        "label": "出行天数",
        "type": "integer",
        "required": False,
        "choices": [],
        "min": "1",
        "max": "180",
        "default": "7",
    }
    assert "rate" not in inputs


def test_product_detail_with_document_bodies(client, market):
    # when
    body = client.get("/api/v1/products/zunxiang", {"include": "documents"}).json()

    # then
    assert body["documents"][0]["body"] == "第一条 保险责任……"


def test_product_detail_404(client, market):
    # given: one product taken off sale
    market["accident"].status = ProductStatus.OFF_SALE
    market["accident"].save(update_fields=["status"])
    bump_revision()

    # when
    missing = client.get("/api/v1/products/nope")
    off_sale = client.get("/api/v1/products/pa-accident")

    # then
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert missing.json()["errors"][0]["field"] == "code"
    assert off_sale.status_code == 404


def test_insurers(client, market):
    # given: an insurer without products
    InsurerFactory(code="taiping", name="中国太平洋财产保险股份有限公司", short_name="太保产险")

    # when
    listing = client.get("/api/v1/insurers").json()
    detail = client.get("/api/v1/insurers/zhongan").json()
    missing = client.get("/api/v1/insurers/nope")

    # then
    counts = {i["code"]: i["product_count"] for i in listing}
    assert counts == {"pingan": 1, "taiping": 0, "zhongan": 1}
    assert detail["kind"] == {"code": "property", "label": "财产险公司"}
    assert [p["code"] for p in detail["products"]] == ["zunxiang"]
    assert missing.status_code == 404


def test_catalog_dimensions(client, market):
    # when
    lines = client.get("/api/v1/catalog/lines").json()
    crowds = client.get("/api/v1/catalog/crowds").json()
    scenarios = client.get("/api/v1/catalog/scenarios").json()

    # then
    line_counts = {line["code"]: line["count"] for line in lines}
    assert line_counts["medical"] == 1
    assert line_counts["accident"] == 1
    assert line_counts["pet"] == 0
    assert crowds == [{"code": "adult", "label": "成人", "count": 1}]
    assert scenarios == [{"code": "health", "label": "健康保障", "count": 1}]


def test_openapi_schema_and_docs(client):
    # when
    schema = client.get("/api/openapi.json")
    docs = client.get("/api/docs")

    # then
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/v1/products",
        "/api/v1/products/{code}",
        "/api/v1/insurers",
        "/api/v1/insurers/{code}",
        "/api/v1/catalog/lines",
        "/api/v1/catalog/crowds",
        "/api/v1/catalog/scenarios",
    ):
        assert path in paths
    parameters = {p["name"]: p for p in paths["/api/v1/products"]["get"]["parameters"]}
    assert "description" in parameters["q"]
    assert docs.status_code == 200
