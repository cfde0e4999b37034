"""The JSON API's input layer, for every operation at once (installed by `huibao.api`).

- `StrictJsonParser`: bodies are strict JSON (no `NaN`/`Infinity`, no float overflow), decoded
  once (the input guard may already have done it).
- `refuse_out_of_range`: after the schema validated the input, and before the endpoint runs,
  every integer anywhere in it (path, query, body, nested models, free JSON such as quote
  inputs) must fit a signed 64-bit column; else 422 `out_of_range` naming each such field.
- exception handlers: ninja's own `HttpError`s (an unparseable body, not logged in, a CSRF
  failure, throttled), Django's `Http404` / `PermissionDenied` / `SuspiciousOperation`, and a
  number out of a column's range met by the database, all answer in the one error shape.
- `document_errors`: every operation's OpenAPI entry lists the error statuses it can answer,
  each with the `Error` schema.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.parser import Parser
from pydantic import BaseModel

from huibao.core import api_schemas
from huibao.core.errors import (
    DomainError,
    FieldError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationFailed,
)
from huibao.core.input_guard import (
    NotAuthenticated,
    csrf_failed,
    load_json,
    malformed_body,
    parsed_json,
    request_too_large,
)

logger = logging.getLogger(__name__)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class StrictJsonParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        done, data = parsed_json(request)
        return data if done else load_json(request.body)


# --- integers ---------------------------------------------------------------------------------


def _path(parts: tuple[str | int, ...]) -> str:
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


def out_of_range(values: dict[str, Any]) -> list[str]:
    """The fields (as the API names them, in input order) of the integers in an endpoint's
    validated input that do not fit 64 bits. A schema (the body, a `Query[...]` model) is not
    named itself, its fields are; walked without recursion."""
    found: list[str] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = []
    for name, value in reversed(values.items()):
        stack.append(((), value) if isinstance(value, BaseModel) else ((name,), value))
    while stack:
        where, item = stack.pop()
        children: list[tuple[tuple[str | int, ...], Any]] = []
        if isinstance(item, bool):
            continue
        if isinstance(item, int):
            if not INT64_MIN <= item <= INT64_MAX:
                found.append(_path(where) or "body")
        elif isinstance(item, BaseModel):
            children = [((*where, name), getattr(item, name, None)) for name in type(item).model_fields]
        elif isinstance(item, dict):
            children = [((*where, str(key)), child) for key, child in item.items()]
        elif isinstance(item, list | tuple | set | frozenset):
            children = [((*where, index), child) for index, child in enumerate(item)]
        stack.extend(reversed(children))
    return found


def out_of_range_error(fields: list[str]) -> ValidationFailed:
    errors = [FieldError(field, "out_of_range", f"{field}：数值超出允许范围") for field in fields]
    return ValidationFailed("；".join(e.message for e in errors), errors=errors)


def refuse_out_of_range(view: Callable[..., Any]) -> Callable[..., Any]:
    """An operation decorator (`api.add_decorator(..., mode="operation")`): runs on the validated
    values, before the endpoint."""

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        fields = out_of_range(kwargs)
        if fields:
            raise out_of_range_error(fields)
        return view(request, *args, **kwargs)

    return guarded


# --- exception handlers -----------------------------------------------------------------------


def _error_for_http_error(exc: HttpError) -> DomainError:
    cause = exc.__cause__
    if isinstance(cause, ValueError | RecursionError):
        return malformed_body()  # ninja's "Cannot parse request body"
    if isinstance(exc, AuthenticationError):
        return NotAuthenticated("请先登录（会话或 API 令牌）")
    if isinstance(exc, Throttled):
        return RateLimited("请求过于频繁，请稍后再试")
    if exc.status_code == 403:
        if "csrf" in exc.message.lower():
            return csrf_failed()
        return PermissionDenied("无权访问")
    if exc.status_code == 404:
        return NotFound("未找到")
    error = DomainError(exc.message, code=f"http_{exc.status_code}")
    error.http_status = exc.status_code
    return error


def _numeric_out_of_range(exc: BaseException) -> bool:
    """The database refused a number too large for its column (PostgreSQL SQLSTATE 22003;
    SQLite's driver raises `OverflowError` before sending it)."""
    if isinstance(exc, OverflowError):
        return True
    return isinstance(exc, DataError) and getattr(exc.__cause__, "sqlstate", None) == "22003"


def install(api: NinjaAPI) -> None:
    """The parser, the integer guard and the handlers, on `api`, before routers are added."""
    api.parser = StrictJsonParser()
    api.add_decorator(refuse_out_of_range, mode="operation")

    def answer(request: HttpRequest, error: DomainError) -> HttpResponse:
        return api.create_response(request, error.as_dict(), status=error.http_status)

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return answer(request, _error_for_http_error(exc))

    @api.exception_handler(Http404)
    def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return answer(request, NotFound("未找到"))

    @api.exception_handler(DjangoPermissionDenied)
    def permission_denied(request: HttpRequest, exc: DjangoPermissionDenied) -> HttpResponse:
        return answer(request, PermissionDenied("无权访问"))

    @api.exception_handler(SuspiciousOperation)
    def suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
        if isinstance(exc, RequestDataTooBig):
            return answer(request, request_too_large())
        return answer(request, malformed_body("请求格式错误"))

    @api.exception_handler(OverflowError)
    def overflow(request: HttpRequest, exc: OverflowError) -> HttpResponse:
        logger.warning("number out of range in %s %s", request.method, request.path_info)
        return answer(request, out_of_range_error(["body"]))

    @api.exception_handler(DataError)
    def data_error(request: HttpRequest, exc: DataError) -> HttpResponse:
        if not _numeric_out_of_range(exc):
            raise exc
        logger.warning("number out of a column's range in %s %s", request.method, request.path_info)
        return answer(request, out_of_range_error(["body"]))


# --- OpenAPI ----------------------------------------------------------------------------------

ERROR_REF = "#/components/schemas/Error"


def _error_components() -> dict[str, Any]:
    """`Error` and the `FieldError` it refers to, as OpenAPI components (from `api_schemas`)."""
    schema = api_schemas.Error.model_json_schema(ref_template="#/components/schemas/{model}")
    return {**schema.pop("$defs", {}), "Error": schema}


ERROR_COMPONENTS: dict[str, Any] = _error_components()

DESCRIPTIONS = {
    400: "Malformed input: a NUL or lone-surrogate character in the path, the query, a header or the "
    "body (`invalid_characters`), or a body that is not JSON (`malformed_body`)",
    401: "Not logged in (`not_authenticated`), or a bearer token that is not valid (`invalid_token`)",
    403: "Not allowed, or the CSRF check of a session failed (`csrf_failed`)",
    404: "Not found, or not the caller's (answered as if it did not exist)",
    409: "Conflicts with the current state",
    413: "Body larger than the server accepts (`request_too_large`)",
    422: "Input that does not fit the schema or the rules (`validation_failed`, `out_of_range`…); "
    "`errors` names each field",
    429: "Too many requests (`rate_limited`, `locked_out`…); see `Retry-After`",
}
PUBLIC_401 = "A bearer token was sent that is not valid (`invalid_token`)"
UNSAFE_METHODS = frozenset({"post", "put", "patch", "delete"})


def expected_error_statuses(method: str, operation: dict[str, Any], *, throttled: bool = False) -> set[int]:
    """The error statuses an operation can answer, from what it is: every one may be refused as
    malformed (400), too large (413) or for a bad bearer token (401); with parameters or a body it
    may fail validation (422); with path parameters, find nothing (404); with an unsafe method,
    fail the CSRF check of a session that came along (403); throttled, 429."""
    statuses = {400, 401, 413}
    parameters = operation.get("parameters") or []
    if parameters or operation.get("requestBody"):
        statuses.add(422)
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if method.lower() in UNSAFE_METHODS:
        statuses.add(403)
    if throttled:
        statuses.add(429)
    return statuses


def throttled_operation_ids(api: NinjaAPI) -> set[str]:
    ids: set[str] = set()
    for bound in api._get_bound_routers():
        for path_view in bound.path_operations.values():
            for operation in path_view.operations:
                if operation.throttle_objects:
                    ids.add(operation.operation_id or api.get_openapi_operation_id(operation))
    return ids


def _refs(value: Any) -> set[str]:
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                found.add(ref.rsplit("/", 1)[1])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _integers_are_int64(value: Any) -> None:
    """What `refuse_out_of_range` holds, said in the document: every integer is an int64."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") == "integer":
                item.setdefault("format", "int64")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def document_errors(schema: dict[str, Any], api: NinjaAPI) -> dict[str, Any]:
    """Every error answer of every operation, declared with the one `Error` schema
    (`api_schemas.Error`), also where an endpoint declared none for a status it can answer.
    Integers are documented as int64, the range the input layer accepts."""
    throttled = throttled_operation_ids(api)
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            expected = expected_error_statuses(
                method, operation, throttled=operation.get("operationId") in throttled
            )
            for status in expected | {int(s) for s in responses if str(s).isdigit() and int(s) >= 400}:
                declared = responses.pop(status, None) or responses.pop(str(status), None) or {}
                description = declared.get("description")
                if not description or description in ("OK", "Error", HTTPStatus(status).phrase):
                    description = DESCRIPTIONS.get(status, "Error")
                if status == 401 and not operation.get("security"):
                    description = PUBLIC_401
                responses[str(status)] = {
                    "description": description,
                    "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
                }
            operation["responses"] = dict(sorted(responses.items(), key=lambda kv: str(kv[0])))
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(ERROR_COMPONENTS)
    # Keep only the schemas still referenced (from the paths, then from those schemas).
    reachable: set[str] = set()
    frontier = _refs(schema.get("paths", {}))
    while frontier:
        name = frontier.pop()
        if name in reachable or name not in schemas:
            continue
        reachable.add(name)
        frontier |= _refs(schemas[name])
    for name in [n for n in schemas if n not in reachable]:
        del schemas[name]
    _integers_are_int64(schema)
    return schema
