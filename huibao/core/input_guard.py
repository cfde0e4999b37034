"""Hostile input stops at the door, before any view, form or query sees it.

`InputGuardMiddleware` refuses, for every URL (pages and `/api/`):

- a NUL character (U+0000) or a lone UTF-16 surrogate (U+D800–U+DFFF) in the path, a query
  parameter (name or value), a request header, a form field, or anywhere in a JSON body (keys
  and strings, however deeply nested). PostgreSQL cannot store NUL in text (psycopg raises
  `DataError`), and a lone surrogate cannot be encoded as UTF-8 at all, so either would fail
  deep inside a use-case with a 500. A cookie holding one is dropped instead (as if absent): a
  corrupted cookie must not lock its owner out.
- a body longer than `DATA_UPLOAD_MAX_MEMORY_SIZE` (multipart uploads excepted, whose files
  Django streams to disk): 413, before the body is read.

A refusal is answered in the API's one error shape under `/api/` (`400 invalid_characters`,
`413 request_too_large`, `400 malformed_body`) and as a Chinese page elsewhere; nothing runs
after it, so nothing changes. Under `/api/`, an error answer that some other layer gave as HTML
or empty (ninja's 405, a middleware's page) is put into the same shape on its way out.

A JSON body is only decoded here when it could hold such a character: a raw NUL byte, or a
`\\u0000` / `\\uD800`–`\\uDFFF` escape (a lone surrogate can only arrive escaped: its UTF-8
bytes would not decode). The decoded value is kept on the request (`parsed_json`) so that the
API's parser does not decode it twice.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.template.loader import render_to_string
from django.utils.translation import gettext, gettext_noop

from huibao.core.errors import DomainError, FieldError, PermissionDenied

API_PREFIX = "/api/"
# NUL, and any UTF-16 surrogate: JSON pairs valid surrogates into one code point when decoding,
# so a surrogate left in a `str` is always a lone one.
FORBIDDEN_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
_PARSED_JSON = "_huibao_parsed_json"
# The only escapes that decode to NUL or to a surrogate. A body without one (and without a raw
# NUL byte) cannot hold either once decoded, and is not decoded here at all.
SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


class InvalidCharacters(DomainError):
    code = "invalid_characters"
    http_status = 400


class MalformedBody(DomainError):
    code = "malformed_body"
    http_status = 400


class RequestTooLarge(DomainError):
    code = "request_too_large"
    http_status = 413


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    http_status = 401


class CsrfFailed(PermissionDenied):
    code = "csrf_failed"


CSRF_MESSAGE = (
    "CSRF 校验失败：以登录会话（Cookie）发送的写请求须在请求头 X-CSRFToken 中带上 csrftoken Cookie 的值；"
    "应用与合作方请使用 API 令牌（Bearer）"
)


def csrf_failed() -> CsrfFailed:
    return CsrfFailed(CSRF_MESSAGE)


def character_problem(text: str) -> str | None:
    """`"null_character"` or `"surrogate"` when `text` holds a character no column can store."""
    found = FORBIDDEN_CHARACTERS.search(text)
    if found is None:
        return None
    return "null_character" if found.group() == "\x00" else "surrogate"


_PROBLEM_TEXT = {
    "null_character": "不能包含空字符（U+0000）",
    "surrogate": "含有无效的 Unicode 字符（孤立的代理项）",
}


def invalid_characters(field: str, problem: str) -> InvalidCharacters:
    # The field's own name may hold the character (a JSON key): never echo it back.
    field = FORBIDDEN_CHARACTERS.sub("\ufffd", field)
    message = f"{field}：{_PROBLEM_TEXT[problem]}"
    return InvalidCharacters(message, errors=[FieldError(field, problem, message)])


def malformed_body(detail: str = "请求体不是有效的 JSON") -> MalformedBody:
    message = f"body：{detail}"
    return MalformedBody(message, errors=[FieldError("body", "malformed", message)])


def request_too_large() -> RequestTooLarge:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    message = f"body：请求体过大（最多 {limit} 字节）"
    return RequestTooLarge(message, errors=[FieldError("body", "too_large", message)])


# --- JSON -------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} does not fit a float")
    return value


def load_json(body: bytes) -> Any:
    """Strict JSON: no `NaN`/`Infinity` (PostgreSQL's jsonb refuses them, and they are not JSON),
    no number too large for a float. Raises `ValueError` (a `JSONDecodeError` or
    `UnicodeDecodeError` among others) or `RecursionError` for a body that is not such JSON."""
    return json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)


def json_field_path(parts: tuple[str | int, ...]) -> str:
    """`("insured", 0, "name")` → `insured[0].name`, as the API names fields."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "body"


def _json_strings(value: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string of a decoded JSON value (keys too) with where it sits; iterative, so a deep
    document cannot exhaust the stack."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, dict):
            for key, child in item.items():
                yield (*where, key), key
                stack.append(((*where, key), child))
        elif isinstance(item, list):
            stack.extend(((*where, index), child) for index, child in enumerate(item))


def json_refusal(data: Any) -> InvalidCharacters | None:
    for where, text in _json_strings(data):
        problem = character_problem(text)
        if problem is not None:
            return invalid_characters(json_field_path(where), problem)
    return None


def parsed_json(request: HttpRequest) -> tuple[bool, Any]:
    """`(True, value)` when the guard already decoded this request's JSON body."""
    if hasattr(request, _PARSED_JSON):
        return True, getattr(request, _PARSED_JSON)
    return False, None


# --- the request ------------------------------------------------------------------------------


def _is_json(request: HttpRequest) -> bool:
    content_type = request.content_type or ""
    return content_type == "application/json" or content_type.endswith("+json")


def _too_large(request: HttpRequest) -> bool:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None or request.content_type == "multipart/form-data":
        return False
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > limit


def _check_pairs(pairs: Iterable[tuple[str, list[str]]]) -> InvalidCharacters | None:
    for name, values in pairs:
        problem = character_problem(name)
        if problem is None:
            problem = next((p for p in map(character_problem, values) if p is not None), None)
        if problem is not None:
            return invalid_characters(name, problem)
    return None


def _may_hold_nul(encoded: str | bytes) -> bool:
    """Whether URL-encoded text can decode to a NUL (decoding is the cost: a query or a form
    is parsed here only then; a surrogate cannot come out of it, bad UTF-8 becomes U+FFFD)."""
    if isinstance(encoded, bytes):
        return b"%00" in encoded or b"\x00" in encoded
    return "%00" in encoded or "\x00" in encoded


def _check_body(request: HttpRequest, api: bool) -> DomainError | None:
    if request.content_type == "application/x-www-form-urlencoded":
        return _check_pairs(request.POST.lists()) if _may_hold_nul(request.body) else None
    if request.content_type == "multipart/form-data":
        return _check_pairs(request.POST.lists())
    # Under /api/ every other body is read as JSON (whatever its declared type); on pages only a
    # JSON one is.
    if not (api or _is_json(request)):
        return None
    body = request.body
    if b"\x00" in body:
        return invalid_characters("body", "null_character")
    if SUSPECT_ESCAPE.search(body) is None:
        return None
    try:
        data = load_json(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the view that reads it answers `malformed_body`
    setattr(request, _PARSED_JSON, data)
    return json_refusal(data)


def _drop_bad_cookies(request: HttpRequest) -> None:
    cookies = request.COOKIES
    for name in [n for n, v in cookies.items() if character_problem(n) or character_problem(v)]:
        del cookies[name]


def refusal(request: HttpRequest) -> DomainError | None:
    """Why the request must not go further, or None."""
    api = request.path_info.startswith(API_PREFIX)
    if _too_large(request):
        return request_too_large()
    problem = character_problem(request.path_info)
    if problem is not None:
        return invalid_characters("path", problem)
    if _may_hold_nul(request.META.get("QUERY_STRING", "")):
        found = _check_pairs(request.GET.lists())
        if found is not None:
            return found
    for key, value in request.META.items():
        if key.startswith("HTTP_") and key != "HTTP_COOKIE" and isinstance(value, str):
            problem = character_problem(value)
            if problem is not None:
                return invalid_characters(key[5:].replace("_", "-").title(), problem)
    _drop_bad_cookies(request)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    try:
        return _check_body(request, api)
    except RequestDataTooBig:
        return request_too_large()
    except (SuspiciousOperation, MultiPartParserError):
        return malformed_body("请求体格式错误")


# --- answers ----------------------------------------------------------------------------------


def api_error_response(error: DomainError) -> JsonResponse:
    return JsonResponse(error.as_dict(), status=error.http_status, json_dumps_params={"ensure_ascii": False})


# What an error page says for each status (translated when shown).
PAGE_ERRORS: dict[int, tuple[str, str]] = {
    400: (
        gettext_noop("请求无效"),
        gettext_noop("您提交的地址或内容含有无法处理的字符或格式，请检查后重试。"),
    ),
    403: (gettext_noop("无权访问"), gettext_noop("您无权访问此页面；若页面已过期，请刷新后重试。")),
    404: (gettext_noop("页面不存在"), gettext_noop("您访问的页面不存在或已被移除。")),
    413: (gettext_noop("提交内容过大"), gettext_noop("您提交的内容超过了允许的大小，请精简后重试。")),
    500: (gettext_noop("服务暂时不可用"), gettext_noop("服务器出现了问题，我们正在处理，请稍后再试。")),
}
# A refused CSRF check on a page: mostly a form left open too long, or cookies switched off.
CSRF_PAGE_ERROR = (
    gettext_noop("页面已过期"),
    gettext_noop("本次提交未被受理：页面可能已过期，或浏览器禁用了 Cookie。请刷新页面后重新提交。"),
)


def page_error_response(status: int, *, page: tuple[str, str] | None = None) -> HttpResponse:
    """A Chinese error page that needs nothing but the template: no session, user or database
    (it also serves requests refused before those middlewares ran, and server errors). `page`:
    its (title, message) when not those of the status."""
    title, message = page or PAGE_ERRORS.get(status, PAGE_ERRORS[400 if status < 500 else 500])
    html = render_to_string(
        "core/error.html", {"status": status, "title": gettext(title), "message": gettext(message)}
    )
    return HttpResponse(html, status=status, content_type="text/html; charset=utf-8")


def csrf_failure_response(request: HttpRequest) -> HttpResponse:
    """The one answer to a refused CSRF check, wherever it was found (Django's middleware on a page,
    `ApiCsrfMiddleware` under `/api/`; both reach it as `CSRF_FAILURE_VIEW`): 403 in the API's
    error shape under `/api/`, a Chinese page elsewhere."""
    if request.path_info.startswith(API_PREFIX):
        return api_error_response(csrf_failed())
    return page_error_response(403, page=CSRF_PAGE_ERROR)


ERROR_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    429: "rate_limited",
}
ERROR_MESSAGES = {405: "不支持该请求方法", 413: "请求体过大"}


def in_error_shape(response: HttpResponse) -> HttpResponse:
    """An error answered under `/api/` by something other than the API (an empty 405 of ninja's
    router, a middleware's HTML page), put into the error shape; headers (`Allow`,
    `Retry-After`…) are kept."""
    status = response.status_code
    if status < 400 or (response.get("Content-Type") or "").startswith("application/json"):
        return response
    code = ERROR_CODES.get(status, "server_error" if status >= 500 else "bad_request")
    message = ERROR_MESSAGES.get(status, "请求无法处理" if status < 500 else "服务器内部错误，请稍后再试")
    shaped = JsonResponse(
        {"code": code, "message": message, "errors": []},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )
    for header, value in response.items():
        if header.lower() not in ("content-type", "content-length"):
            shaped[header] = value
    return shaped


class InputGuardMiddleware:
    """Sits before the session, CSRF and authentication middlewares (they read cookies, headers
    and the form body)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        api = request.path_info.startswith(API_PREFIX)
        error = refusal(request)
        if error is not None:
            return api_error_response(error) if api else page_error_response(error.http_status)
        response = self.get_response(request)
        return in_error_shape(response) if api else response
