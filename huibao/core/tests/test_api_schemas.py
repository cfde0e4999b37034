"""The API has one error shape, declared once (`core.api_schemas.Error`) and used by every module."""

from __future__ import annotations

import ast
from pathlib import Path

from huibao.api import api
from huibao.core.api_schemas import Error
from huibao.core.errors import FieldError, ValidationFailed

HUIBAO = Path(__file__).resolve().parents[2]


def _api_modules() -> list[Path]:
    return sorted({*HUIBAO.glob("*/api.py"), *HUIBAO.glob("*/api/*.py")})


def test_no_api_module_declares_an_error_schema_of_its_own() -> None:
    # given every API module of every app
    modules = _api_modules()
    assert modules
    # then none defines a class whose name says it is an error shape
    own = [
        f"{path.relative_to(HUIBAO)}:{node.name}"
        for path in modules
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef) and "Error" in node.name
    ]
    assert own == []


def test_what_a_domain_error_answers_fits_the_one_schema() -> None:
    # given
    error = ValidationFailed("请求参数有误", errors=[FieldError("insured[0].name", "required", "必填")])
    # when
    shaped = Error.model_validate(error.as_dict())
    # then
    assert shaped.model_dump() == error.as_dict()


def test_statuses_particular_to_an_endpoint_are_documented_with_the_one_schema() -> None:
    # given the NPS answer (409: already answered) and the SMS code (503: the gateway failed)
    paths = api.get_openapi_schema()["paths"]
    nps = paths["/api/v1/applications/{public_id}/nps"]["post"]["responses"]
    sms = paths["/api/v1/auth/sms-codes"]["post"]["responses"]
    # then
    for response in (nps["409"], sms["503"], sms["429"]):
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
