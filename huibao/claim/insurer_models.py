"""The insurers' side of claims: persistence and constraints only (imported by `models.py`).

Per insurer, who decides its claims and who pays are fields of `models.InsurerClaimSettings`
(beside its promised decision days and its four-eyes amount); no row: `insurer_rules.DEFAULTS`.
`InsurerClaimDelivery`: one per claim sent to an insurer (connector mode), a durable queue with
retries like the policy's `InsurerDelivery`. `InsurerClaimNotice`: every notice the insurer sent
back, verified or not (the verified ones unique by notify id: a duplicate changes nothing).
`ClaimChase`: a 催办 by the agency's claims staff. `ClaimOverdue`: a claim past its insurer's
promised time, flagged once by the daily job.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huibao.claim.insurer_states import ClaimDeliveryStatus, NoticeOutcome, Payer
from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS

MAX_DECISION_DAYS = 30  # 保险法 Art. 23: a decision within 30 days of complete materials


def _money(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


class InsurerClaimDelivery(models.Model):
    claim = models.OneToOneField("claim.Claim", on_delete=models.CASCADE, related_name="insurer_delivery")
    connector = models.CharField(max_length=32)
    status = models.CharField(
        max_length=16, choices=ClaimDeliveryStatus.choices, default=ClaimDeliveryStatus.PENDING
    )
    # Who pays, frozen when the claim was handed over (a later change of the setting does not
    # move a claim the insurer already holds).
    payer = models.CharField(max_length=16, choices=Payer.choices, default=Payer.INSURER)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True, default="")
    insurer_ref = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)  # the first successful send
    received_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_ref = models.CharField(max_length=64, blank=True, default="")
    paid_amount = _money(null=True, blank=True)

    class Meta:
        verbose_name = _("理赔信息回传")
        verbose_name_plural = _("理赔信息回传")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="claim_insurer_delivery_due")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ClaimDeliveryStatus.values), name="claim_insurer_delivery_status"
            ),
            models.CheckConstraint(
                condition=Q(paid_amount__isnull=True) | Q(paid_amount__gt=0),
                name="claim_insurer_delivery_paid_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id} → {self.connector}: {self.status}"


class InsurerClaimNotice(models.Model):
    connector = models.CharField(max_length=32)
    notify_id = models.CharField(max_length=64, blank=True, default="")
    kind = models.CharField(max_length=16, blank=True, default="")
    claim_number = models.CharField(max_length=20, blank=True, default="")
    delivery = models.ForeignKey(
        InsurerClaimDelivery, on_delete=models.SET_NULL, null=True, blank=True, related_name="notices"
    )
    raw_body = models.TextField()
    # The verified notice as read (a deferred one is applied from it later).
    data = models.JSONField(default=dict, blank=True)
    signature_ok = models.BooleanField(default=False)
    outcome = models.CharField(max_length=16, choices=NoticeOutcome.choices, blank=True, default="")
    detail = models.CharField(max_length=200, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("保险公司理赔通知")
        verbose_name_plural = _("保险公司理赔通知")
        indexes = [models.Index(fields=["delivery", "outcome"], name="claim_insurer_notice_pending")]
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "notify_id"],
                condition=Q(signature_ok=True),
                name="claim_insurer_notice_verified_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.connector} {self.notify_id} {self.kind}: {self.outcome}"


class ClaimChase(models.Model):
    """A 催办: who chased which claim, at which step, and what the insurer answered."""

    claim = models.ForeignKey("claim.Claim", on_delete=models.CASCADE, related_name="chases")
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    claim_status = models.CharField(max_length=24)
    action = models.CharField(max_length=16)  # "resent" | "queried" | "reminded"
    answer = models.CharField(max_length=200, blank=True, default="")
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["claim_id", "-at", "-id"]
        verbose_name = _("理赔催办")
        verbose_name_plural = _("理赔催办")

    def __str__(self) -> str:
        return f"{self.claim_id} {self.action} {self.at:%Y-%m-%d}"


class ClaimOverdue(models.Model):
    """A claim undecided past its insurer's promised time: flagged once, staff told once."""

    claim = models.OneToOneField("claim.Claim", on_delete=models.CASCADE, related_name="overdue")
    due_at = models.DateTimeField()
    flagged_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)  # decided or withdrawn after the flag

    class Meta:
        verbose_name = _("理赔超时")
        verbose_name_plural = _("理赔超时")

    def __str__(self) -> str:
        return f"{self.claim_id} due {self.due_at:%Y-%m-%d}"
