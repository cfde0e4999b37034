"""`/api/v1/auth/…`: personal API access tokens, so apps and partners drive `/api/v1` without a
browser session.

`POST /auth/tokens` logs in like the log-in pages (through `django.contrib.auth.authenticate`,
so django-axes counts every failure and refuses a locked-out number or username with 429) and
answers a token, shown once. Customers give `{phone, password}` or `{phone, sms_code}` (the code
from `POST /auth/sms-codes`); staff give `{username, password, totp}`, the code of their
confirmed authenticator device. The token is then sent as `Authorization: Bearer <token>`
(`middleware.BearerTokenMiddleware`), without CSRF header. `GET` lists the caller's tokens
(never a secret), `DELETE` revokes one of them; another user's token is 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.security import django_auth

from huibao.account.backends import auth_error
from huibao.account.errors import CodeError, InvalidCredentials
from huibao.account.models import ApiToken, CodePurpose, User, UserKind
from huibao.account.services import clean_phone, send_login_code, staff_has_totp, verify_staff_totp
from huibao.account.tokens import NAME_MAX, issue_token, revoke_own_token, tokens_of
from huibao.core.api_schemas import errors
from huibao.core.errors import FieldError, PermissionDenied, ValidationFailed
from huibao.core.http import client_ip

router = Router(tags=["auth"])


class TokenIn(Schema):
    phone: str | None = Field(None, max_length=32, description="客户：手机号", examples=["13800138000"])
    password: str | None = Field(None, max_length=256, description="密码（客户或员工）")
    sms_code: str | None = Field(None, max_length=16, description="客户：短信验证码（代替密码）")
    username: str | None = Field(None, max_length=150, description="员工：用户名")
    totp: str | None = Field(None, max_length=16, description="员工：动态验证码")
    name: str = Field("", max_length=NAME_MAX, description="令牌名称，如应用或设备名", examples=["汇保App"])


class TokenOut(Schema):
    id: int
    name: str
    token: str = Field(..., description="the secret: shown once, send it as `Authorization: Bearer …`")
    key_prefix: str
    created_at: datetime
    expires_at: datetime


class TokenInfoOut(Schema):
    id: int
    name: str
    key_prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    revoked_at: datetime | None
    active: bool
    current: bool = Field(..., description="the token this request was authenticated with")


class TokenListOut(Schema):
    items: list[TokenInfoOut]


class TokenListQuery(Schema):
    include_inactive: bool = Field(False, description="also revoked and expired tokens")


class SmsCodeIn(Schema):
    phone: str = Field(..., max_length=32, examples=["13800138000"])


class SmsCodeOut(Schema):
    phone: str = Field(..., description="the number, masked")
    expires_at: datetime
    resend_after: int = Field(..., description="seconds before another code may be asked for")


def _required(field: str, label: str) -> ValidationFailed:
    message = f"请填写{label}"
    return ValidationFailed(message, errors=[FieldError(field, "required", message)])


def _failed(request: HttpRequest, username: str) -> None:
    """Count a refusal that `authenticate` could not see (right password, wrong account or factor)."""
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)


def _logged_in(request: HttpRequest, user: User) -> None:
    """What a successful log-in on the pages does, without a session: axes forgets the failures of
    this account from this address, and `last_login` moves."""
    if settings.AXES_ENABLED and settings.AXES_RESET_ON_SUCCESS:
        AxesProxyHandler.update_request(request)
        AxesProxyHandler.get_implementation().reset_user_attempts(request, {"username": user.get_username()})
    update_last_login(User, user)


def _customer(request: HttpRequest, payload: TokenIn) -> User:
    if not payload.phone:
        raise _required("phone", "手机号")
    phone = clean_phone(payload.phone)
    if payload.password and payload.sms_code:
        message = "请只填写密码或短信验证码中的一项"
        raise ValidationFailed(message, errors=[FieldError("sms_code", "one_of", message)])
    if payload.sms_code:
        user = authenticate(request, username=phone, sms_code=payload.sms_code)
        if user is None:
            error = auth_error(request)
            if isinstance(error, CodeError):
                raise type(error)(error.message, field="sms_code")
            raise InvalidCredentials("手机号或验证码错误")
    elif payload.password:
        user = authenticate(request, username=phone, password=payload.password)
        if user is None:
            raise InvalidCredentials("手机号或密码错误")
    else:
        raise _required("password", "密码或短信验证码")
    assert isinstance(user, User)
    if user.kind != UserKind.CUSTOMER:
        _failed(request, phone)
        raise InvalidCredentials("手机号或密码错误")
    return user


def _staff(request: HttpRequest, payload: TokenIn) -> User:
    username = payload.username or ""
    if not payload.password:
        raise _required("password", "密码")
    if not payload.totp:
        raise _required("totp", "身份验证器中的动态验证码")
    user = authenticate(request, username=username, password=payload.password)
    if user is None:
        raise InvalidCredentials("用户名、密码或动态验证码错误")
    assert isinstance(user, User)
    if user.kind != UserKind.STAFF or not user.is_staff:
        _failed(request, username)
        raise InvalidCredentials("用户名、密码或动态验证码错误")
    if not staff_has_totp(user):
        raise PermissionDenied("该员工账号尚未绑定身份验证器，请联系管理员", code="totp_required")
    if verify_staff_totp(user, payload.totp) is None:
        _failed(request, username)
        raise InvalidCredentials("用户名、密码或动态验证码错误")
    return user


def _token_info(token: ApiToken, request: HttpRequest) -> dict[str, Any]:
    current = getattr(request, "api_token", None)
    return {
        "id": token.pk,
        "name": token.name,
        "key_prefix": token.key_prefix,
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
        "active": token.is_active(),
        "current": current is not None and current.pk == token.pk,
    }


@router.post(
    "/auth/tokens",
    response={201: TokenOut, **errors(401, 403, 422, 429)},
    summary="登录并获取 API 令牌",
    description="Customers: `{phone, password}` or `{phone, sms_code}`. Staff: `{username, password, "
    "totp}`. Failures count towards the same lock-out as the log-in pages (429 `locked_out`). The "
    "`token` is shown only in this answer; send it as `Authorization: Bearer <token>`.",
)
def create_token(request: HttpRequest, payload: TokenIn) -> Status[dict[str, Any]]:
    user = _staff(request, payload) if payload.username else _customer(request, payload)
    _logged_in(request, user)
    issued = issue_token(user, payload.name, request=request)
    token = issued.token
    body = {
        "id": token.pk,
        "name": token.name,
        "token": issued.secret,
        "key_prefix": token.key_prefix,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
    }
    return Status(201, body)


@router.post(
    "/auth/sms-codes",
    response={202: SmsCodeOut, **errors(422, 429, 503)},
    summary="发送登录短信验证码",
    description="Sends a 6-digit log-in code to a registered customer's number, for "
    "`POST /auth/tokens` with `{phone, sms_code}`. Valid 5 minutes; once per 60 seconds, at most "
    "5 an hour and 10 a day per number, 20 per 10 minutes from one address: beyond, 429 "
    "`sms_throttled` with `Retry-After`. The answer is the same for a number that is not "
    "registered (that number is told by SMS to sign up), so it reveals nobody's account.",
)
def send_sms_code(request: HttpRequest, payload: SmsCodeIn) -> Status[dict[str, Any]]:
    sent = send_login_code(payload.phone, CodePurpose.LOGIN, client_address=client_ip(request))
    body = {
        "phone": sent.receipt.phone_masked,
        "expires_at": sent.expires_at,
        "resend_after": sent.resend_after,
    }
    return Status(202, body)


@router.get("/auth/tokens", response=TokenListOut, auth=django_auth, summary="我的 API 令牌")
def list_tokens(request: HttpRequest, params: Query[TokenListQuery]) -> dict[str, Any]:
    user = request.user
    assert isinstance(user, User)
    rows = tokens_of(user, include_inactive=params.include_inactive)[:100]
    return {"items": [_token_info(t, request) for t in rows]}


@router.delete(
    "/auth/tokens/{token_id}",
    response={204: None, **errors(404)},
    auth=django_auth,
    summary="吊销 API 令牌",
    description="Revokes one of the caller's tokens at once (again: still 204). Another user's "
    "token is 404, as if it did not exist.",
)
def delete_token(request: HttpRequest, token_id: int) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    revoke_own_token(user, token_id, request=request)
    return HttpResponse(status=204)
