"""Personal API access tokens: issue, authenticate, revoke, list.

A token is `hb_` + `secrets.token_urlsafe(32)` (256 random bits). It is shown once, when issued;
the database keeps only its SHA-256 (`ApiToken.key_hash`, unique, the lookup key) and its first
8 characters (`key_prefix`, to tell tokens apart in lists). A token lasts
`settings.HUIBAO_API_TOKEN_DAYS` days (30 by default) unless revoked earlier, and stops working
at once when its user is deactivated (or, for staff, loses staff status).

`BearerTokenMiddleware` (`middleware.py`) calls `authenticate_token` for `/api/` requests that
send `Authorization: Bearer <token>`; `api.py` offers the endpoints that issue, list and revoke
them. Issuing and revoking are written to the audit chain; the secret never is.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from huibao.account.errors import TokenNotFound
from huibao.account.models import ApiToken, User, UserKind
from huibao.core import audit
from huibao.core.errors import FieldError, ValidationFailed

TOKEN_PREFIX = "hb_"
PREFIX_LENGTH = 8
NAME_MAX = 64
# `last_used_at` is written at most this often per token (one UPDATE a minute, not per request).
LAST_USED_RESOLUTION = timedelta(minutes=1)
# token_urlsafe(32) gives 43 characters; anything much longer is not ours and is not hashed.
_SECRET_MAX = 128
_OBJECT_TYPE = "account.apitoken"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown to the caller once; never stored


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def token_lifetime() -> timedelta:
    return timedelta(days=int(getattr(settings, "HUIBAO_API_TOKEN_DAYS", 30)))


def clean_name(raw: str | None) -> str:
    """The token's name (the app or device), trimmed; `ValidationFailed` on `name` if too long."""
    name = " ".join((raw or "").split())
    if len(name) > NAME_MAX:
        message = f"令牌名称最多{NAME_MAX}个字符"
        raise ValidationFailed(message, errors=[FieldError("name", "too_long", message)])
    return name or "API"


def _snapshot(token: ApiToken) -> dict[str, Any]:
    """What the audit chain keeps of a token: never the secret, nor its hash."""
    return {
        "user": token.user_id,
        "name": token.name,
        "key_prefix": token.key_prefix,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
    }


def issue_token(
    user: User,
    name: str = "",
    *,
    lifetime: timedelta | None = None,
    request: HttpRequest | None = None,
) -> IssuedToken:
    """Create a token for `user` (who has just proved who they are) and return it with its secret."""
    name = clean_name(name)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken(
        user=user,
        name=name,
        key_prefix=secret[:PREFIX_LENGTH],
        key_hash=hash_secret(secret),
        expires_at=now + (lifetime if lifetime is not None else token_lifetime()),
    )
    with transaction.atomic():
        token.save()
        audit.record(
            "account.api_token.issue",
            _OBJECT_TYPE,
            str(token.pk),
            actor=user,
            after=_snapshot(token),
            request=request,
        )
    return IssuedToken(token=token, secret=secret)


def _user_may_use_tokens(user: User) -> bool:
    if not user.is_active:
        return False
    if user.kind == UserKind.STAFF:
        return bool(user.is_staff)
    return user.kind == UserKind.CUSTOMER


def authenticate_token(secret: str | None, *, now: datetime | None = None) -> ApiToken | None:
    """The live token whose secret this is (its `user` loaded), or None.

    Refuses malformed, unknown, revoked and expired tokens and tokens of users who may no longer
    log in. The lookup is by the secret's SHA-256 (an attacker cannot steer which stored hash a
    guess lands near), and the stored hash is then compared in constant time.
    """
    secret = (secret or "").strip()
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > _SECRET_MAX:
        return None
    digest = hash_secret(secret)
    token = ApiToken.objects.select_related("user").filter(key_hash=digest).first()
    if token is None or not hmac.compare_digest(token.key_hash, digest):
        return None
    now = now or timezone.now()
    if not token.is_active(now) or not _user_may_use_tokens(token.user):
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # Conditional, so concurrent requests write it once; a lost race changes nothing.
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        token.last_used_at = now
    return token


def revoke_token(token: ApiToken, *, actor: Any = None, request: HttpRequest | None = None) -> bool:
    """Revoke `token` now. True if this call revoked it; False if it was revoked already."""
    now = timezone.now()
    with transaction.atomic():
        changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
        if not changed:
            token.refresh_from_db(fields=["revoked_at"])
            return False
        before = _snapshot(token)
        token.revoked_at = now
        audit.record(
            "account.api_token.revoke",
            _OBJECT_TYPE,
            str(token.pk),
            actor=actor if actor is not None else token.user,
            before=before,
            after=_snapshot(token),
            request=request,
        )
    return True


def revoke_own_token(user: User, token_id: int, *, request: HttpRequest | None = None) -> ApiToken:
    """Revoke one of `user`'s own tokens (idempotent). Another user's token is `TokenNotFound`."""
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        raise TokenNotFound(
            "令牌不存在", errors=[FieldError("id", TokenNotFound.code, f"令牌 {token_id} 不存在")]
        )
    revoke_token(token, actor=user, request=request)
    return token


def tokens_of(user: User, *, include_inactive: bool = False) -> QuerySet[ApiToken]:
    """`user`'s tokens, newest first: the live ones, or with `include_inactive` all of them."""
    rows = ApiToken.objects.filter(user=user)
    if not include_inactive:
        rows = rows.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())
    return rows.order_by("-created_at", "-id")
