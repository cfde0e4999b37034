"""Statuses of an outbox message and the moves between them (`core.states.check_transition`).

pending → sending → sent | failed | gave_up; failed → sending (retry at `next_attempt_at`);
sending → pending (the sweep re-queues a send whose worker died); failed | gave_up → pending (an
operator's re-send). An in-site inbox message is written `sent`: storing it is its delivery.
"""

from __future__ import annotations

from django.db import models


class Channel(models.TextChoices):
    INBOX = "inbox", "站内信"
    EMAIL = "email", "电子邮件"
    SMS = "sms", "短信"


class Category(models.TextChoices):
    SERVICE = "service", "服务通知"
    MARKETING = "marketing", "营销消息"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "待发送"
    SENDING = "sending", "发送中"
    SENT = "sent", "已发送"
    FAILED = "failed", "发送失败（待重试）"
    GAVE_UP = "gave_up", "已放弃"


OUTBOX_TRANSITIONS: dict[str, frozenset[str]] = {
    OutboxStatus.PENDING: frozenset({OutboxStatus.SENDING}),
    OutboxStatus.SENDING: frozenset(
        {OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.GAVE_UP, OutboxStatus.PENDING}
    ),
    OutboxStatus.FAILED: frozenset({OutboxStatus.SENDING, OutboxStatus.PENDING}),
    OutboxStatus.GAVE_UP: frozenset({OutboxStatus.PENDING}),
    OutboxStatus.SENT: frozenset(),
}

# A worker may claim a row in these statuses (once it is due).
CLAIMABLE = (OutboxStatus.PENDING, OutboxStatus.FAILED)
# What operators see in the back office: sends that need a look.
NEEDS_ATTENTION = (OutboxStatus.FAILED, OutboxStatus.GAVE_UP)
