"""The interface speaks Simplified Chinese unless the user chose another language.

Django's LocaleMiddleware would follow the browser's Accept-Language, so a phone set to English
would get English pages without asking. Huibao serves a Chinese market: the language comes from
the user's explicit choice (the `django_language` cookie set by /i18n/setlang/) and otherwise is
`LANGUAGE_CODE`.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

from huibao.core import deployment


class ChosenLanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.supported = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        request.LANGUAGE_CODE = language
        # Only for this request: what the thread runs next (another request, a task run in
        # process, a test) starts from the default again.
        with translation.override(language):
            response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response


class SandboxNoticeMiddleware:
    """Every response of a deployment running allowed sandbox parts names them in a header
    (`Huibao-Sandbox: payment,sms`), for API clients as the banner is for people."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        parts = settings.HUIBAO_SANDBOX_NOTICE
        if parts:
            response.headers[deployment.RESPONSE_HEADER] = ",".join(parts)
        return response
