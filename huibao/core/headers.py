"""The server does not name itself.

Python's development server (`runserver`, wsgiref) and granian add a `Server` header of their own
(`WSGIServer/0.2 CPython/3.12`, `granian`) unless the application sends one, and granian has no
option to leave it out. So every response carries an empty `Server` header: both servers send
that instead of their name. A reverse proxy in front can drop the header altogether (see
`docs/deploy.md`). Nothing else in the app names its software (no `X-Powered-By`).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class AnonymousServerMiddleware:
    """Outermost middleware: sets `Server` to the empty string on every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers["Server"] = ""
        return response
