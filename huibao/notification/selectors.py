"""Reads and access checks: a customer reaches only their own in-site messages."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from huibao.notification import rules
from huibao.notification.errors import MessageNotFound
from huibao.notification.models import NotificationPreference, OutboxMessage
from huibao.notification.states import NEEDS_ATTENTION, Channel


def preferences_of(user: Any) -> rules.Preferences:
    row = NotificationPreference.objects.filter(user_id=user.pk).first()
    if row is None:
        return rules.Preferences()
    return rules.Preferences(email=row.email, sms=row.sms, marketing=row.marketing)


def preferences_for(user_ids: set[Any]) -> dict[Any, rules.Preferences]:
    """The saved preferences of several users at once (a user without a row is absent: the
    defaults apply)."""
    return {
        row.user_id: rules.Preferences(email=row.email, sms=row.sms, marketing=row.marketing)
        for row in NotificationPreference.objects.filter(user_id__in=user_ids)
    }


def inbox_for(user: Any) -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.filter(user_id=user.pk, channel=Channel.INBOX).order_by("-created_at", "-id")


def unread_count(user: Any) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return inbox_for(user).filter(read_at__isnull=True).count()


def inbox_message_for(user: Any, public_id: uuid.UUID | str) -> OutboxMessage:
    """One of the user's own in-site messages; another user's, or none, is `MessageNotFound`."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise MessageNotFound("消息不存在。") from None
    message = inbox_for(user).filter(public_id=key).first()
    if message is None:
        raise MessageNotFound("消息不存在。")
    return message


def needing_attention() -> QuerySet[OutboxMessage]:
    return OutboxMessage.objects.filter(status__in=NEEDS_ATTENTION).order_by("-created_at")
