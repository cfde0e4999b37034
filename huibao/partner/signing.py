"""The partner API's one authentication: a signed request (`rules.py` says how it is signed).

`PartnerSignature(scope)` is a django-ninja auth: on success `request.auth` is the
`ApiClient` that signed. It refuses, in the project's one error shape:

- 401 `signature_required` / `malformed_signature`: no or an unreadable `Authorization` header;
- 401 `unknown_key`, `key_revoked`, `key_retired` (a rotated key after its `retire_at`),
  `partner_inactive`;
- 401 `stale_timestamp`: more than 5 minutes from the server's clock;
- 401 `bad_signature`: the signature does not verify over the canonical string;
- 401 `replayed_nonce`: the nonce was used before by this key (kept for twice the window: in
  the shared cache when Redis is configured, else in `PartnerNonce` with a unique constraint);
- 403 `scope_missing`: the client lacks the endpoint's scope;
- 429 `rate_limited` with `Retry-After`: more than the client's requests per minute (a counter
  per client and calendar minute in Django's cache; shared across processes with Redis).

The nonce is consumed once the signature verifies, whatever the endpoint then answers: a
request is re-sent with a new nonce (and timestamp), as the payment gateways require.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.encoding import escape_uri_path
from ninja.security.base import AuthBase

from huibao.core.errors import DomainError, FieldError, RateLimited
from huibao.partner import rules, selectors
from huibao.partner.models import ApiClient, PartnerNonce
from huibao.partner.states import Algorithm, ClientStatus

NONCE_TTL = rules.WINDOW * 2


class SignatureRefused(DomainError):
    code = "bad_signature"
    http_status = 401


class ScopeRefused(DomainError):
    code = "scope_missing"
    http_status = 403


class PartnerRateLimited(RateLimited):
    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, errors=[FieldError("Authorization", "rate_limited", message)])
        self.retry_after = retry_after


def refusal_error(refusal: rules.Refusal) -> DomainError:
    error_type = ScopeRefused if refusal.status == 403 else SignatureRefused
    return error_type(
        refusal.message, code=refusal.code, errors=[FieldError(refusal.field, refusal.code, refusal.message)]
    )


def path_and_query(request: HttpRequest) -> str:
    """The request's path as sent (percent-encoded) and its raw query string, if any."""
    query = request.META.get("QUERY_STRING", "")
    path = escape_uri_path(request.path)
    return f"{path}?{query}" if query else path


def _client_problem(client: ApiClient | None, now: datetime.datetime) -> rules.Refusal | None:
    if client is None:
        return rules.Refusal("unknown_key", 401, "Authorization：keyid 不存在")
    if client.status == ClientStatus.REVOKED:
        return rules.Refusal("key_revoked", 401, "Authorization：该密钥已吊销")
    if client.status == ClientStatus.RETIRING and client.retire_at is not None and client.retire_at <= now:
        return rules.Refusal("key_retired", 401, "Authorization：该密钥已轮换停用，请使用新密钥")
    if not client.partner.is_active:
        return rules.Refusal("partner_inactive", 401, "Authorization：该合作方已停用")
    return None


def _verifies(client: ApiClient, header: rules.SignatureHeader, canonical: str) -> bool:
    if header.algorithm != client.algorithm:
        return False
    if client.algorithm == Algorithm.HMAC_SHA256:
        return rules.hmac_valid(client.secret.encode(), canonical, header.signature)
    return rules.rsa_valid(client.public_key_pem, canonical, header.signature)


def nonce_first_seen(key_id: str, nonce: str, now: datetime.datetime) -> bool:
    """Records the nonce; False when this key used it before (a replay)."""
    if getattr(settings, "REDIS_URL", ""):
        return bool(cache.add(f"partner:nonce:{key_id}:{nonce}", 1, timeout=int(NONCE_TTL.total_seconds())))
    try:
        with transaction.atomic():
            PartnerNonce.objects.create(key_id=key_id, nonce=nonce, seen_at=now)
    except IntegrityError:
        return False
    return True


def count_request(client: ApiClient, now: datetime.datetime) -> int:
    """This minute's requests of `client`, this one included."""
    key = f"partner:rate:{client.pk}:{now.strftime('%Y%m%d%H%M')}"
    cache.add(key, 0, timeout=120)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=120)
        return 1


def authenticate(request: HttpRequest, scope: str, *, now: datetime.datetime | None = None) -> ApiClient:
    """The client that signed `request` for an endpoint needing `scope`, or the refusal raised."""
    now = now or timezone.now()
    parsed = rules.parse_header(request.META.get("HTTP_AUTHORIZATION", ""))
    if isinstance(parsed, rules.Refusal):
        raise refusal_error(parsed)
    client = selectors.client_by_key_id(parsed.key_id)
    problem = _client_problem(client, now) or rules.timestamp_problem(parsed.timestamp, now)
    if problem is not None:
        raise refusal_error(problem)
    assert client is not None
    canonical = rules.canonical_string(
        request.method or "GET", path_and_query(request), parsed.timestamp, parsed.nonce, request.body
    )
    if not _verifies(client, parsed, canonical):
        raise refusal_error(rules.Refusal("bad_signature", 401, "Authorization：签名验证失败"))
    if not nonce_first_seen(client.key_id, parsed.nonce, now):
        raise refusal_error(
            rules.Refusal("replayed_nonce", 401, "Authorization：nonce 已使用过，请求被视为重放")
        )
    problem = rules.scope_problem(client.scopes, scope)
    if problem is not None:
        raise refusal_error(problem)
    if count_request(client, now) > client.rate_limit:
        raise PartnerRateLimited(
            f"请求过于频繁：每分钟最多 {client.rate_limit} 次", retry_after=rules.retry_after(now)
        )
    return client


class PartnerSignature(AuthBase):
    """django-ninja auth for one scope: `auth=PartnerSignature("policies:read")`."""

    openapi_type = "apiKey"
    openapi_in = "header"
    openapi_name = "Authorization"
    openapi_description = (
        'HUIBAO-HMAC-SHA256 keyid="…",timestamp="…",nonce="…",signature="…" '
        "(or HUIBAO-RSA-SHA256); see docs/partner-api.md"
    )

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__()

    def __call__(self, request: HttpRequest) -> Any:
        return authenticate(request, self.scope)


def require_product(client: ApiClient, product_code: str) -> None:
    """403 `product_not_allowed` when the client is limited to other products."""
    problem = rules.product_problem(client.products, product_code)
    if problem is not None:
        raise refusal_error(problem)
