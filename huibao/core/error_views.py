"""Django's error views (`handler400/403/404/500` in `huibao.urls`, `CSRF_FAILURE_VIEW`): under
`/api/` the API's one error shape, elsewhere a Chinese page.

These answer what no API operation answered itself: an unknown `/api/…` path, a suspicious
request Django refused, an unexpected server error, a CSRF failure found by Django's middleware.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse

from huibao.core.errors import DomainError, NotFound, PermissionDenied
from huibao.core.input_guard import (
    API_PREFIX,
    api_error_response,
    csrf_failure_response,
    malformed_body,
    page_error_response,
    request_too_large,
)


class ServerError(DomainError):
    code = "server_error"
    http_status = 500


def _answer(request: HttpRequest, error: DomainError) -> HttpResponse:
    if request.path_info.startswith(API_PREFIX):
        return api_error_response(error)
    return page_error_response(error.http_status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        return _answer(request, request_too_large())
    return _answer(request, malformed_body("请求格式错误"))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _answer(request, PermissionDenied("无权访问"))


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _answer(request, NotFound("未找到请求的地址"))


def server_error(request: HttpRequest) -> HttpResponse:
    return _answer(request, ServerError("服务器内部错误，请稍后再试"))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """`CSRF_FAILURE_VIEW`: every refused CSRF check ends here (`reason` is Django's, in English:
    not shown)."""
    return csrf_failure_response(request)
