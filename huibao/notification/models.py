"""Notification tables: the outbox (one row per message and channel, which is also the in-site
inbox), and each customer's channel preferences.

The recipient's address is not stored: the sender reads the user's current e-mail address or
mobile number at send time. What was said (subject, body) is encrypted at rest, because it can
name the insured or a policy.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from huibao.core.fields import EncryptedTextField
from huibao.notification.states import Category, Channel, OutboxStatus

SUBJECT_CONTEXT = "notification.outbox.subject"
BODY_CONTEXT = "notification.outbox.body"
PARAMS_CONTEXT = "notification.outbox.params"


class OutboxMessage(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    template = models.CharField("模板", max_length=64)
    category = models.CharField("类别", max_length=16, choices=Category.choices)
    channel = models.CharField("渠道", max_length=8, choices=Channel.choices)
    # The caller's idempotency key ("renewal-reminder:P123:30d"): one row per key and channel.
    dedup_key = models.CharField(max_length=200)
    # What the message is about (a policy number…), for the operator and the inbox link.
    reference = models.CharField("关联业务", max_length=64, blank=True, default="")
    subject = EncryptedTextField(blank=True, default="", context=SUBJECT_CONTEXT)
    body = EncryptedTextField(default="", context=BODY_CONTEXT)
    # SMS only: the template's variables (JSON), for gateways that fill registered templates.
    params = EncryptedTextField(blank=True, default="", context=PARAMS_CONTEXT)
    status = models.CharField(
        "状态", max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField("尝试次数", default=0)
    next_attempt_at = models.DateTimeField("下次尝试", null=True, blank=True)
    # Set when a worker claims the row, before it calls the provider: the outcome is written only
    # by the attempt that holds this id, so a late worker cannot overwrite a newer one.
    attempt_id = models.CharField(max_length=32, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField("发送时间", null=True, blank=True)
    provider_ref = models.CharField("渠道回执", max_length=128, blank=True, default="")
    last_error = models.CharField("最近错误", max_length=200, blank=True, default="")
    read_at = models.DateTimeField("已读时间", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "发件箱消息"
        verbose_name_plural = "发件箱消息"
        constraints = [
            models.UniqueConstraint(fields=["dedup_key", "channel"], name="outbox_dedup_per_channel"),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in OutboxStatus]), name="outbox_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=[c.value for c in Channel]), name="outbox_channel_valid"
            ),
            models.CheckConstraint(
                condition=Q(category__in=[c.value for c in Category]), name="outbox_category_valid"
            ),
            # Only in-site messages are read on the site.
            models.CheckConstraint(
                condition=Q(read_at__isnull=True) | Q(channel=Channel.INBOX), name="outbox_read_only_inbox"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due"),
            models.Index(fields=["user", "channel", "-created_at"], name="outbox_inbox"),
        ]

    def __str__(self) -> str:
        return f"{self.template} → {self.channel} ({self.status})"


class NotificationPreference(models.Model):
    """A customer's choices; no row means the defaults of `rules.Preferences`."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    email = models.BooleanField("电子邮件", default=True)
    sms = models.BooleanField("短信", default=True)
    marketing = models.BooleanField("营销消息", default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "消息设置"
        verbose_name_plural = "消息设置"

    def __str__(self) -> str:
        return f"preferences of user {self.user_id}"
