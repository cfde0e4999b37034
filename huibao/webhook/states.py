"""Statuses of a webhook delivery and the moves between them (`core.states.check_transition`).

pending → sending → succeeded | failed | dead; failed → sending (a retry at `next_attempt_at`);
sending → pending (the sweep re-queues an attempt whose worker died); failed | dead | succeeded →
pending (an operator's re-send, "重新发送").
"""

from __future__ import annotations

from django.db import models


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "待发送"
    SENDING = "sending", "发送中"
    SUCCEEDED = "succeeded", "已送达"
    FAILED = "failed", "失败（待重试）"
    DEAD = "dead", "已放弃"


DELIVERY_TRANSITIONS: dict[str, frozenset[str]] = {
    DeliveryStatus.PENDING: frozenset({DeliveryStatus.SENDING}),
    DeliveryStatus.SENDING: frozenset(
        {DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED, DeliveryStatus.DEAD, DeliveryStatus.PENDING}
    ),
    DeliveryStatus.FAILED: frozenset({DeliveryStatus.SENDING, DeliveryStatus.PENDING}),
    DeliveryStatus.DEAD: frozenset({DeliveryStatus.PENDING}),
    DeliveryStatus.SUCCEEDED: frozenset({DeliveryStatus.PENDING}),
}

# A worker may claim a delivery in these statuses (once it is due).
CLAIMABLE = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
# What an operator may send again by hand.
RESENDABLE = (DeliveryStatus.FAILED, DeliveryStatus.DEAD, DeliveryStatus.SUCCEEDED)


class AttemptOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", "成功"
    FAILED = "failed", "失败"


class EventType(models.TextChoices):
    """What a partner can subscribe to. A new kind of event is added here (and announced with
    `services.publish`)."""

    POLICY_ISSUED = "policy.issued", "保单已承保"
    POLICY_CANCELLED = "policy.cancelled", "保单已退保"
    CLAIM_PAID = "claim.paid", "理赔已赔付"
    PAYOUT_MADE = "payout.made", "款项已支付"
    BATCH_COMPLETED = "batch.completed", "批量处理完成"
    PING = "webhook.ping", "测试推送"
