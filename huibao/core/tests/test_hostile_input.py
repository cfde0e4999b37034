"""Hostile input never makes a 500, and every error answer is in the one error shape.

Every API operation (walked from the OpenAPI document, so a new endpoint is covered without
being listed here) is sent a NUL character in each path segment, each query parameter and each
string of a body built from its schema, a lone surrogate in each string, 10^30 in each integer,
an over-long body and an unparseable one: each answers 4xx in the error shape, with a status its
OpenAPI entry declares, and no row anywhere changes. Pages get the same in their path, query and
forms, and answer a Chinese 400 page. Run on SQLite and on PostgreSQL (where NUL raised
`DataError` before).
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from huibao.api import api
from huibao.application.tests import factories as f

pytestmark = pytest.mark.django_db

SCHEMA = api.get_openapi_schema()
OPERATIONS = [
    (method.upper(), path, operation)
    for path, operations in SCHEMA["paths"].items()
    for method, operation in operations.items()
]
OPERATION_IDS = [f"{m} {p}" for m, p, _ in OPERATIONS]
HUGE = 10**30
BODY_LIMIT = 4096


# --- helpers ----------------------------------------------------------------------------------


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMA["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [resolve(s) for s in schema[key] if s.get("type") != "null"]
            if options:
                return options[0]
    return schema


def sample(schema: dict[str, Any]) -> Any:
    """A plausible value for a JSON schema: its example, else one of each part."""
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    schema = resolve(schema)
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    if "default" in schema and schema["default"] not in (None, [], {}):
        return copy.deepcopy(schema["default"])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if "properties" not in schema:
            return {"key": "value", "number": 1}
        return {name: sample(part) for name, part in schema["properties"].items()}
    if kind == "array":
        return [sample(schema.get("items") or {"type": "string"})]
    if kind == "integer":
        return 1
    if kind == "number":
        return "1"
    if kind == "boolean":
        return True
    return "text"


def leaves(value: Any, where: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from leaves(child, (*where, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from leaves(child, (*where, index))
    else:
        yield where, value


def replaced(value: Any, where: tuple[Any, ...], new: Any) -> Any:
    copied = copy.deepcopy(value)
    target = copied
    for part in where[:-1]:
        target = target[part]
    target[where[-1]] = new
    return copied


# A partner's signed request leaves its nonce (used up once the signature verifies, whatever the
# answer: huibao/partner/signing.py), so that table is not counted.
NOT_COUNTED = frozenset({"partner_partnernonce"})


def row_counts() -> dict[str, int]:
    """Every table's row count, in one query."""
    models = [m for m in apps.get_models() if m._meta.managed and not m._meta.proxy]
    tables = sorted({m._meta.db_table for m in models} - NOT_COUNTED)
    quote_name = connection.ops.quote_name
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote_name(t)})" for t in tables)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return dict(zip(tables, cursor.fetchone(), strict=True))


def declared(operation: dict[str, Any]) -> set[int]:
    return {int(s) for s in operation["responses"]}


def in_error_shape(body: Any) -> bool:
    return (
        isinstance(body, dict)
        and set(body) == {"code", "message", "errors"}
        and isinstance(body["code"], str)
        and isinstance(body["message"], str)
        and isinstance(body["errors"], list)
        and all(isinstance(e, dict) and set(e) == {"field", "code", "message"} for e in body["errors"])
    )


# --- the world the requests hit ---------------------------------------------------------------


@pytest.fixture
def world(settings) -> dict[str, Any]:
    """A logged-in customer with a quote, a draft application of theirs and an API token, so
    that each path parameter can name something real."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = BODY_LIMIT
    user = f.customer()
    product = f.simple_product(rules={"signature": "confirmation", "beneficiary": "named_allowed"})
    client = Client()
    client.force_login(user)
    quote_answer = client.post(
        "/api/v1/quotes",
        {"product_code": product.code, "plan_code": "basic", "inputs": {"age": 30}},
        content_type="application/json",
    )
    assert quote_answer.status_code == 201, quote_answer.content
    started = client.post(
        "/api/v1/applications", {"quote_ids": [quote_answer.json()["id"]]}, content_type="application/json"
    )
    assert started.status_code == 201, started.content
    state = started.json()
    from huibao.account.tokens import issue_token

    token = issue_token(user, "test").token
    document = state["documents"][0]
    clause = next((c for c in state["clauses"] if c["document_id"] == document["id"]), None)
    # The partner API's operations are signed by a partner's API client, not a log-in.
    from huibao.distribution.tests.factories import tree
    from huibao.partner.tests.factories import channel_partner, hmac_client

    partner_client = hmac_client(channel_partner(tree()["CH"]), rate_limit=10_000)
    return {
        "client": client,
        "partner_client": partner_client,
        "public_id": state["id"],
        "quote_id": quote_answer.json()["id"],
        "document_id": document["id"],
        "clause_code": clause["code"] if clause else "exclusions",
        "token_id": token.pk,
        "product_code": product.code,
        "insurer_code": product.insurer.code,
    }


def path_value(world: dict[str, Any], path: str, name: str) -> str:
    if name == "code":
        if path.startswith("/api/v1/products/"):
            return world["product_code"]
        if path.startswith("/api/v1/insurers/"):
            return world["insurer_code"]
        return "HB0000000000"
    if name in world:
        return str(world[name])
    return str(uuid.uuid4())


def url_for(world: dict[str, Any], path: str, operation: dict[str, Any], **override: str) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        value = override.get(name, path_value(world, path, name))
        return quote(value, safe="")

    return re.sub(r"\{(\w+)\}", fill, path)


def query_params(operation: dict[str, Any]) -> dict[str, str]:
    params = {}
    for p in operation.get("parameters") or []:
        if p["in"] == "query":
            value = sample(p.get("schema") or {})
            params[p["name"]] = json.dumps(value) if isinstance(value, bool) else str(value)
    return params


def valid_data() -> dict[str, Any]:
    """Application data the use-case accepts, down to a named beneficiary: a hostile value in any
    of its fields is the only thing wrong with it, so it would reach the database."""
    return {
        "applicant": {
            "name": f.APPLICANT_NAME,
            "id_number": f.resident_id(f.years_ago(35)),
            "phone": "13900001111",
            "email": "wang@example.com",
            "address": "北京市朝阳区建国路1号",
        },
        "insured": [
            {
                "relation": "self",
                "beneficiaries": [
                    {
                        "name": "李红",
                        "id_number": f.resident_id(f.years_ago(33), male=False),
                        "relation": "spouse",
                        "share_percent": "100",
                        "order": 1,
                    }
                ],
            }
        ],
        "beneficiary_mode": "named",
    }


def valid_body(world: dict[str, Any], method: str, path: str) -> Any | None:
    if (method, path) == ("PUT", "/api/v1/applications/{public_id}/data"):
        return valid_data()
    if (method, path) == ("POST", "/api/v1/quotes"):
        return {"product_code": world["product_code"], "plan_code": "basic", "inputs": {"age": 30}}
    return None


def body_of(world: dict[str, Any], method: str, path: str, operation: dict[str, Any]) -> Any | None:
    content = (operation.get("requestBody") or {}).get("content") or {}
    schema = (content.get("application/json") or {}).get("schema")
    if schema is None:
        return None
    known = valid_body(world, method, path)
    return known if known is not None else sample(schema)


def hostile_requests(world: dict[str, Any], method: str, path: str, operation: dict[str, Any]):
    """(what, url, raw body, expected statuses, expected code)."""
    base_query = query_params(operation)
    body = body_of(world, method, path, operation)
    base_body = json.dumps(body) if body is not None else ""

    def url(query: dict[str, str] | None = None, **override: str) -> str:
        q = base_query if query is None else query
        return url_for(world, path, operation, **override) + ("?" + urlencode(q) if q else "")

    for p in operation.get("parameters") or []:
        name = p["name"]
        if p["in"] == "path":
            value = path_value(world, path, name)
            yield f"NUL in path {name}", url(**{name: value + "\x00"}), base_body, {400}, "invalid_characters"
            if resolve(p.get("schema") or {}).get("type") == "integer":
                yield f"10^30 in path {name}", url(**{name: str(HUGE)}), base_body, {422}, None
        elif p["in"] == "query":
            query = {**base_query, name: "a\x00b"}
            yield f"NUL in query {name}", url(query), base_body, {400}, "invalid_characters"
            if resolve(p.get("schema") or {}).get("type") == "integer":
                yield f"10^30 in query {name}", url({**base_query, name: str(HUGE)}), base_body, {422}, None
    yield "NUL in an unknown query parameter", url({**base_query, "x\x00": "1"}), base_body, {400}, None
    if body is not None:
        for where, leaf in leaves(body):
            if not where:
                continue
            label = ".".join(map(str, where))
            if isinstance(leaf, str):
                text = json.dumps(replaced(body, where, leaf + "\x00"))
                yield f"NUL in body {label}", url(), text, {400}, "invalid_characters"
                text = json.dumps(replaced(body, where, "\ud800" + leaf))
                yield f"lone surrogate in body {label}", url(), text, {400}, "invalid_characters"
            elif isinstance(leaf, int) and not isinstance(leaf, bool):
                yield f"10^30 in body {label}", url(), json.dumps(replaced(body, where, HUGE)), {422}, None
        if isinstance(body, dict):
            text = json.dumps({**body, "\ud800\x00": "x"})
            yield "NUL in a body key", url(), text, {400}, "invalid_characters"
        yield "unparseable JSON", url(), base_body[: max(1, len(base_body) // 2)] + "{", {400}, None
        yield "NaN in the body", url(), '{"x": NaN}', {400}, "malformed_body"
        yield "a body that is not UTF-8", url(), b'{"x": "\xff\xfe"}', {400}, "malformed_body"
        yield "deeply nested body", url(), "[" * 100_000 + "]" * 100_000, {400, 413}, None
    yield "over-long body", url(), '{"x": "' + "a" * BODY_LIMIT + '"}', {413}, "request_too_large"


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=OPERATION_IDS)
def test_hostile_input_to_every_operation_answers_4xx_in_the_error_shape_and_changes_nothing(
    world, method, path, operation
):
    client: Client = world["client"]
    failures = []
    for what, url, body, statuses, code in hostile_requests(world, method, path, operation):
        # given
        before = row_counts()
        # when
        extra = {}
        if path.startswith("/api/partner/"):
            from huibao.partner.tests.factories import authorization

            raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
            extra["HTTP_AUTHORIZATION"] = authorization(world["partner_client"], method, url, raw)
            extra["HTTP_IDEMPOTENCY_KEY"] = f"hostile-{uuid.uuid4().hex[:12]}"
        response = client.generic(method, url, body, content_type="application/json", **extra)
        # then
        answer = response.json() if response["Content-Type"].startswith("application/json") else None
        problems = []
        if response.status_code not in statuses:
            problems.append(f"status {response.status_code}, expected {sorted(statuses)}")
        if response.status_code not in declared(operation):
            problems.append(f"status {response.status_code} not in the OpenAPI responses")
        if not in_error_shape(answer):
            problems.append(f"not the error shape: {response.content[:200]!r}")
        elif code is not None and answer["code"] != code:
            problems.append(f"code {answer['code']!r}, expected {code!r}")
        if row_counts() != before:
            problems.append("rows changed")
        if problems:
            failures.append(f"{what}: {'; '.join(problems)}")
    assert not failures, "\n".join(failures)


def test_a_beneficiary_order_of_10_to_the_30_is_422_naming_the_field(world):
    # given data that is saved as it is
    client: Client = world["client"]
    url = f"/api/v1/applications/{world['public_id']}/data"
    body = valid_data()
    assert client.put(url, body, content_type="application/json").status_code == 200
    before = row_counts()
    # when the beneficiary's order does not fit any column
    body["insured"][0]["beneficiaries"][0]["order"] = HUGE
    response = client.put(url, body, content_type="application/json")
    # then
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("insured[0].beneficiaries[0].order", "out_of_range")
    ]
    assert row_counts() == before


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/products/{product_code}%00",
        "/api/v1/insurers/{insurer_code}%00",
        "/api/v1/policies/verify/HB%00",
        "/api/v1/applications?status=draft%00",
    ],
)
def test_nul_where_it_reached_postgresql_is_400_naming_the_field(world, url):
    response = world["client"].get(url.format(**world))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_characters"
    assert response.json()["errors"][0]["code"] == "null_character"


def test_nul_in_a_quote_or_a_log_in_is_400_naming_the_field(world):
    client: Client = world["client"]
    quote_body = {"product_code": world["product_code"] + "\x00", "plan_code": "basic", "inputs": {"age": 30}}
    response = client.post("/api/v1/quotes", quote_body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "product_code"
    response = client.post(
        "/api/v1/auth/tokens", {"phone": "13900001111", "password": "pw\x00"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "password"


def test_an_unparseable_body_is_400_malformed_body(world):
    response = world["client"].post("/api/v1/quotes", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "code": "malformed_body",
        "message": "body：请求体不是有效的 JSON",
        "errors": [{"field": "body", "code": "malformed", "message": "body：请求体不是有效的 JSON"}],
    }


# --- the OpenAPI document ---------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=OPERATION_IDS)
def test_every_operation_documents_the_errors_it_can_answer(method, path, operation):
    statuses = declared(operation)
    # Malformed or over-long input, and a bearer token that is not valid, anywhere.
    assert {400, 401, 413} <= statuses
    parameters = operation.get("parameters") or []
    if parameters or operation.get("requestBody"):
        assert 422 in statuses
    if any(p["in"] == "path" for p in parameters):
        assert 404 in statuses
    if method in ("POST", "PUT", "PATCH", "DELETE"):
        assert 403 in statuses  # the CSRF check of a session sent along
    for status, response in operation["responses"].items():
        if int(status) >= 400:
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
            assert response["description"]


def test_the_error_shape_is_one_component():
    schemas = SCHEMA["components"]["schemas"]
    assert schemas["Error"]["required"] == ["code", "message", "errors"]
    assert schemas["Error"]["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/FieldError"}
    assert set(schemas["FieldError"]["properties"]) == {"field", "code", "message"}
    # The per-module copies of the shape are gone from the document.
    assert not [name for name in schemas if name.endswith("ErrorOut")]


def test_every_integer_is_documented_as_int64():
    found = []
    stack: list[Any] = [SCHEMA]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") == "integer":
                found.append(item.get("format"))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    assert found
    assert set(found) == {"int64"}


def test_throttled_and_lock_out_statuses_stay_declared():
    paths = SCHEMA["paths"]
    assert "429" in paths["/api/v1/auth/tokens"]["post"]["responses"]
    assert "429" in paths["/api/v1/policies/verify/{code}"]["get"]["responses"]


# --- answers that did not come from an endpoint -----------------------------------------------


def test_an_unknown_api_path_is_404_in_the_error_shape(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert in_error_shape(response.json())
    assert response.json()["code"] == "not_found"


def test_a_wrong_method_is_405_in_the_error_shape_and_keeps_allow(client):
    response = client.delete("/api/v1/insurers")
    assert response.status_code == 405
    assert in_error_shape(response.json())
    assert response.json()["code"] == "method_not_allowed"
    assert "GET" in response["Allow"]


def test_not_logged_in_is_401_in_the_error_shape(client):
    response = client.get("/api/v1/applications")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert in_error_shape(response.json())


def test_a_session_post_without_csrf_token_is_403_in_the_error_shape(world):
    # given a browser session that enforces CSRF, without the token
    client = Client(enforce_csrf_checks=True)
    client.cookies = world["client"].cookies
    # when
    response = client.post(f"/api/v1/applications/{world['public_id']}/cancel")
    # then
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert in_error_shape(response.json())


def test_a_server_error_under_the_api_is_500_in_the_error_shape(db, monkeypatch):
    from huibao.catalog import api as catalog_api

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(catalog_api, "search_products", broken)
    response = Client(raise_request_exception=False).get("/api/v1/insurers")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert in_error_shape(response.json())


def test_a_corrupted_session_cookie_is_ignored_not_a_500(world):
    # given a session cookie that holds a NUL (the session is read from the database)
    client: Client = world["client"]
    client.cookies["sessionid"] = "abc\x00defghijk"
    # when
    response = client.get("/api/v1/applications")
    # then as if there were no cookie
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_nul_in_a_header_is_refused(world):
    response = world["client"].get("/api/v1/products", HTTP_USER_AGENT="bot\x00")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "User-Agent"


# --- pages ------------------------------------------------------------------------------------


def page_urls() -> list[str]:
    """One URL per page pattern (not the API), each path parameter holding a NUL."""
    values = {"int": "1", "uuid": str(uuid.uuid4()), "slug": "x\x00", "str": "x\x00", "path": "x\x00"}
    found: list[str] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            route = getattr(pattern.pattern, "_route", None)
            if route is None:
                continue  # a regular expression (the admin's per-model URLs)
            if isinstance(pattern, URLResolver):
                if route.startswith("api/"):
                    continue
                walk(pattern.url_patterns, prefix + route)
            elif isinstance(pattern, URLPattern):
                url = re.sub(
                    r"<(?:(\w+):)?\w+>", lambda m: quote(values.get(m.group(1) or "str", "x"), safe=""), route
                )
                found.append("/" + prefix + url)

    walk(get_resolver().url_patterns, "")
    return sorted(set(found))


PAGES = page_urls()


@pytest.mark.parametrize("url", PAGES)
def test_pages_with_nul_answer_a_chinese_400_page(world, url):
    client: Client = world["client"]
    before = row_counts()
    for target in (url + "?q=%00&next=%00", url.replace("%00", "") + "?q=a%00"):
        if "%00" not in target:
            continue
        response = client.get(target)
        assert response.status_code == 400, (target, response.status_code)
        assert "请求无效" in response.content.decode()
        assert response["Content-Type"].startswith("text/html")
    response = client.post(url.replace("%00", ""), {"phone": "139\x00", "name": "王\x00"})
    assert response.status_code in (400, 413), (url, response.status_code)
    assert row_counts() == before


def test_a_page_post_with_a_lone_surrogate_in_json_is_a_chinese_400(world):
    body = '{"phone": "\\ud800"}'
    response = world["client"].post("/account/login/", body, content_type="application/json")
    assert response.status_code == 400
    assert "请求无效" in response.content.decode()


def test_an_over_long_page_post_is_413(world):
    response = world["client"].post("/account/login/", {"phone": "1" * (BODY_LIMIT + 1)})
    assert response.status_code == 413
    assert "提交内容过大" in response.content.decode()


def test_an_unknown_page_is_a_chinese_404(client, db):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "页面不存在" in response.content.decode()


def test_a_page_csrf_failure_is_a_chinese_403(db):
    response = Client(enforce_csrf_checks=True).post("/account/login/", {"phone": "13900001111"})
    assert response.status_code == 403
    page = response.content.decode()
    # our page, in the site's style, not Django's English "403 Forbidden" CSRF page
    assert "页面已过期" in page and "请刷新页面后重新提交" in page and "css/huibao.css" in page
    assert "CSRF verification failed" not in page and "Forbidden" not in page
