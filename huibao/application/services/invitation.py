"""An agent's invitation: the link the customer opens to take over the application."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from huibao.application.evidence.trace import record_step
from huibao.application.journey import missing_data
from huibao.application.models import Application
from huibao.application.selectors import Target, data_complete, items_of
from huibao.application.services._common import _acting, _require_open
from huibao.core.errors import FieldError, NotFound, PermissionDenied, ValidationFailed


@dataclass(frozen=True, slots=True)
class Invitation:
    token: str
    path: str
    replaced: bool  # an earlier link of this application stopped working


def invite_customer(
    application: Application | Target, *, agent: Any, request: HttpRequest | None = None
) -> Invitation:
    """A fresh link (and QR code) for the customer, once the agent filled in the data; the
    previous link stops working."""
    token = secrets.token_urlsafe(24)
    with transaction.atomic():
        app = _acting(application, agent, owner=False)  # the agent's own check follows
        if app.started_by_id is None or app.started_by_id != getattr(agent, "pk", None):
            raise PermissionDenied("只有发起该投保单的代理人可以发送邀请", code="not_agent")
        if not data_complete(app):
            raise ValidationFailed(
                "请先填写并保存投保信息，再发送邀请",
                code="data_incomplete",
                errors=missing_data(app, items_of(app)),
            )
        replaced = bool(app.invite_token_hash)
        app.invite_token_hash = hashlib.sha256(token.encode()).hexdigest()
        app.save(update_fields=["invite_token_hash", "updated_at"])
        record_step(app, "invitation_sent", actor=agent, request=request)
    return Invitation(token=token, path=f"/apply/invite/{token}/", replaced=replaced)


def _check_invitation(app: Application | None, token: str, user: Any) -> Application:
    """Who may take over the application behind an agent's link (the same answer for a look and
    for the taking)."""
    if app is None or not token:
        message = "邀请链接无效或已失效"
        error = FieldError("token", "invalid_invitation", message)
        raise NotFound(message, code="invalid_invitation", errors=[error])
    _require_open(app)
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_customer", False):
        raise PermissionDenied("请以投保人本人的账号登录后打开链接", code="login_required")
    if app.started_by_id == user.pk:
        raise PermissionDenied("代理人不能代替客户确认投保", code="agent_cannot_claim")
    if app.customer_id is not None and app.customer_id != user.pk:
        raise PermissionDenied("该投保单已由其他客户打开", code="claimed_by_other")
    return app


def _invitation_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_preview(token: str, *, user: Any) -> Application:
    """The application behind the agent's link, to show before the customer takes it over
    (read-only; refused for the same reasons `claim_invitation` refuses)."""
    app = Application.objects.select_related("started_by").filter(invite_token_hash=_invitation_digest(token))
    return _check_invitation(app.first(), token, user)


def claim_invitation(token: str, *, user: Any, request: HttpRequest | None = None) -> Application:
    """The customer opens the agent's link while logged in: the application becomes theirs."""
    with transaction.atomic():
        locked = Application.objects.select_for_update().filter(invite_token_hash=_invitation_digest(token))
        app = _check_invitation(locked.first(), token, user)
        if app.customer_id is None:
            app.customer = user
            app.save(update_fields=["customer", "updated_at"])
            record_step(app, "invitation_opened", actor=user, request=request)
    return app
