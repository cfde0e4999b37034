"""Message endpoints under /api/v1/: the customer's in-site inbox and channel preferences.

Session or bearer-token authentication (`django_auth`: 401 without a login); another customer's
message is 404. Domain errors are mapped to the one error shape by `huibao.api`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.security import django_auth

from huibao.notification import selectors, services
from huibao.notification.models import OutboxMessage

router = Router(tags=["messages"])
PAGE_SIZE = 50


class MessageOut(Schema):
    id: uuid.UUID
    template: str
    category: str
    title: str
    body: str
    reference: str
    created_at: datetime
    read: bool


class InboxOut(Schema):
    unread_count: int
    messages: list[MessageOut]


class PreferencesIO(Schema):
    email: bool
    sms: bool
    marketing: bool


def _out(message: OutboxMessage) -> MessageOut:
    return MessageOut(
        id=message.public_id,
        template=message.template,
        category=message.category,
        title=message.subject,
        body=message.body,
        reference=message.reference,
        created_at=message.created_at,
        read=message.read_at is not None,
    )


@router.get("/messages", response=InboxOut, auth=django_auth, summary="我的站内消息（最近 50 条）")
def inbox(request: HttpRequest, unread: bool = False) -> InboxOut:
    rows = selectors.inbox_for(request.user)
    if unread:
        rows = rows.filter(read_at__isnull=True)
    return InboxOut(
        unread_count=selectors.unread_count(request.user), messages=[_out(m) for m in rows[:PAGE_SIZE]]
    )


@router.post("/messages/read-all", response=InboxOut, auth=django_auth, summary="全部标为已读")
def read_all(request: HttpRequest) -> InboxOut:
    services.mark_all_read(request.user)
    return inbox(request)


@router.post("/messages/{message_id}/read", response=MessageOut, auth=django_auth, summary="标为已读")
def read_one(request: HttpRequest, message_id: str) -> MessageOut:
    return _out(services.mark_read(request.user, message_id))


@router.get("/message-preferences", response=PreferencesIO, auth=django_auth, summary="消息设置")
def get_preferences(request: HttpRequest) -> PreferencesIO:
    prefs = selectors.preferences_of(request.user)
    return PreferencesIO(email=prefs.email, sms=prefs.sms, marketing=prefs.marketing)


@router.put("/message-preferences", response=PreferencesIO, auth=django_auth, summary="修改消息设置")
def put_preferences(request: HttpRequest, payload: PreferencesIO) -> PreferencesIO:
    prefs = services.set_preferences(
        request.user, email=payload.email, sms=payload.sms, marketing=payload.marketing, request=request
    )
    return PreferencesIO(email=prefs.email, sms=prefs.sms, marketing=prefs.marketing)
