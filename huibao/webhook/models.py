"""Webhook tables: the partners' endpoints, the events published to a subscriber, one delivery
per event and endpoint, and one attempt row per try (what operators and the partner read).

A subscriber is a plain string: the partner's code (`partner` app), or any other code an app
publishes to. The signing secret and the payload are encrypted at rest: the payload can name a
policyholder, the secret signs what the partner trusts.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from huibao.core.fields import EncryptedTextField
from huibao.webhook.states import AttemptOutcome, DeliveryStatus

SECRET_CONTEXT = "webhook.endpoint.secret"
PAYLOAD_CONTEXT = "webhook.event.payload"


class WebhookEndpoint(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subscriber = models.CharField("订阅方", max_length=64, db_index=True)
    url = models.URLField("回调地址", max_length=500)
    description = models.CharField("说明", max_length=200, blank=True, default="")
    secret = EncryptedTextField(context=SECRET_CONTEXT)
    # The event types (states.EventType values) this endpoint receives.
    event_types = models.JSONField("事件类型", default=list)
    is_active = models.BooleanField("启用", default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    secret_rotated_at = models.DateTimeField("密钥更新时间", null=True, blank=True)

    class Meta:
        verbose_name = "回调地址"
        verbose_name_plural = "回调地址"
        ordering = ["subscriber", "id"]

    def __str__(self) -> str:
        return f"{self.subscriber} → {self.url}"

    def wants(self, event_type: str) -> bool:
        return event_type in (self.event_types or [])


class WebhookEvent(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subscriber = models.CharField("订阅方", max_length=64)
    event_type = models.CharField("事件类型", max_length=64)
    # The publisher's reference ("P2026000001"): one event per (subscriber, type, ref), so an
    # event published again (a retried job, a replayed hook) is not sent twice.
    ref = models.CharField("业务编号", max_length=128)
    payload_json = EncryptedTextField(context=PAYLOAD_CONTEXT)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "回调事件"
        verbose_name_plural = "回调事件"
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "event_type", "ref"], name="webhook_event_once"),
        ]
        indexes = [models.Index(fields=["subscriber", "-created_at"], name="webhook_event_recent")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.ref} → {self.subscriber}"

    @property
    def webhook_id(self) -> str:
        """The `Huibao-Webhook-Id` header: the same on every attempt and re-send."""
        return f"evt_{self.public_id.hex}"

    @property
    def payload(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.payload_json or "{}")
        return loaded


class WebhookDelivery(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    # Copied from the event, so that the log filters on one table.
    subscriber = models.CharField("订阅方", max_length=64)
    event_type = models.CharField("事件类型", max_length=64)
    status = models.CharField(
        "状态", max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField("尝试次数", default=0)
    next_attempt_at = models.DateTimeField("下次尝试", null=True, blank=True)
    # Set when a worker claims the delivery, before it posts: the outcome is written only by the
    # attempt holding this id, so a late worker cannot overwrite a newer attempt.
    attempt_id = models.CharField(max_length=32, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField("最近响应码", null=True, blank=True)
    last_response = models.CharField("最近响应（节选）", max_length=500, blank=True, default="")
    last_error = models.CharField("最近错误", max_length=200, blank=True, default="")
    delivered_at = models.DateTimeField("送达时间", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "回调投递"
        verbose_name_plural = "回调投递"
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once"),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in DeliveryStatus]),
                name="webhook_delivery_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
            models.Index(fields=["subscriber", "-created_at"], name="webhook_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.subscriber} ({self.status})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField("第几次")
    attempt_id = models.CharField(max_length=32)
    url = models.URLField(max_length=500)
    # The `Huibao-Timestamp` sent (Unix seconds).
    timestamp = models.BigIntegerField()
    outcome = models.CharField("结果", max_length=16, choices=AttemptOutcome.choices)
    status_code = models.PositiveSmallIntegerField("响应码", null=True, blank=True)
    response_excerpt = models.CharField("响应（节选）", max_length=500, blank=True, default="")
    error = models.CharField("错误", max_length=200, blank=True, default="")
    duration_ms = models.PositiveIntegerField("耗时（毫秒）", default=0)
    started_at = models.DateTimeField("发送时间")

    class Meta:
        verbose_name = "回调尝试"
        verbose_name_plural = "回调尝试"
        ordering = ["delivery_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "attempt_id"], name="webhook_attempt_once"),
            models.CheckConstraint(
                condition=Q(outcome__in=[o.value for o in AttemptOutcome]),
                name="webhook_attempt_outcome_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}: {self.outcome}"
