"""Files browsers ask for at the site's root whatever the page links: /favicon.ico.

Answered from the static files (the same bytes as `{% static 'favicon.ico' %}`) so that no page
load ends with a 404 in the log and the browser's console.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

ONE_WEEK = 7 * 24 * 3600


@cache
def _favicon_bytes() -> bytes:
    found = finders.find("favicon.ico")
    if not found:
        return b""
    return Path(found if isinstance(found, str) else found[0]).read_bytes()


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    data = _favicon_bytes()
    if not data:
        raise Http404("favicon.ico is not among the static files")
    response = HttpResponse(data, content_type="image/x-icon")
    response["Cache-Control"] = f"public, max-age={ONE_WEEK}"
    return response
