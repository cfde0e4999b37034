"""Limits on the public policy checks, per client address, shared by the page and the API."""

from __future__ import annotations

from django.core.cache import cache
from django.http import HttpRequest

from huibao.core.http import client_ip

# Public checks per client address and 10 minutes (a PDF check runs a signature validation).
VERIFY_LIMIT = 60
UPLOAD_LIMIT = 20
LIMIT_WINDOW = 600


def over_limit(request: HttpRequest, bucket: str, limit: int) -> bool:
    """Counts this request in `bucket` for the client's address; True once past `limit`."""
    key = f"policy:{bucket}:{client_ip(request) or 'unknown'}"
    if cache.add(key, 1, LIMIT_WINDOW):
        return False
    try:
        return cache.incr(key) > limit
    except ValueError:  # expired between add and incr
        return False
