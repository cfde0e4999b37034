"""Referral codes: a customer arriving with `?ref=CODE` on any page (a channel's link to a
product, an agent's QR code) keeps the code in the session, and the application they start is
attributed to that channel, sub-channel or agent (`services.attribute`). The code is only kept
here; an unknown or inactive one is ignored when the application starts."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

REFERRAL_SESSION_KEY = "distribution.ref"
MAX_CODE = 32


class ReferralMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Only a page view with ?ref= touches the session; every other request costs nothing.
        if request.method == "GET" and "ref" in request.GET and not request.path.startswith("/api/"):
            code = request.GET.get("ref", "").strip()[:MAX_CODE]
            if code and code.replace("-", "").replace("_", "").isalnum():
                request.session[REFERRAL_SESSION_KEY] = code
        return self.get_response(request)
