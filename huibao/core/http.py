"""Request helpers shared by every app."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _normalised_ip(text: str) -> str | None:
    try:
        return ipaddress.ip_address(text.strip()).compressed
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP address.

    `REMOTE_ADDR`, unless `settings.HUIBAO_TRUSTED_PROXY_COUNT` (default 0) says that many
    reverse proxies of ours sit in front: then the address the outermost of them saw, read from
    the right of `X-Forwarded-For` (entries left of it are whatever the client sent and are not
    trusted). Returns None when no valid address is known.
    """
    remote = _normalised_ip(request.META.get("REMOTE_ADDR", "") or "")
    trusted = int(getattr(settings, "HUIBAO_TRUSTED_PROXY_COUNT", 0) or 0)
    if trusted <= 0:
        return remote
    forwarded = [
        part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()
    ]
    if len(forwarded) < trusted:
        return remote
    return _normalised_ip(forwarded[-trusted]) or remote
