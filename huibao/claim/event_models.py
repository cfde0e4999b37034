"""Event-triggered payouts (航班延误 / 退货运费 自动赔付): persistence and constraints only.

- `TriggerIndex`: which policies an event pays — one row per insured policy and trigger key
  (`FL:MU5101:2026-12-03` for a flight on its scheduled departure date, `RS:<order number>` for a
  return), written when the policy is issued (`triggers.on_policies_issued`).
- `TriggerEvent`: one event received (API, file, sandbox feed), unique per (source, event id),
  with the digest of what was received and the fact it reports.
- `TriggeredPayout`: what one event paid one policy — one per (policy, trigger key), whichever
  event or source came first: the unique constraint is what makes a duplicate, a replay, a
  second source or a corrected event pay nobody twice.
- `TriggerCorrection`: what a later event for the same flight changed about a benefit already
  made — a top-up into a higher hour band (its own ledger entry and payout), or an overpayment
  recorded when the corrected delay pays less (never clawed back automatically).
- `EventNonce`: the nonces of signed deliveries seen (a replay with the same nonce is refused).
- `PayoutAccount`: the customer's account for automatic benefits (the last one they gave).

Imported by `claim/models.py`, so the app's migrations hold them.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huibao.core.fields import EncryptedTextField
from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


class TriggerKind(models.TextChoices):
    FLIGHT_DELAY = "flight_delay", _("航班延误")
    RETURN_SHIPPING = "return_shipping", _("退货运费")
    SCREEN_REPAIR = "screen_repair", _("碎屏维修")


class FlightStatus(models.TextChoices):
    DELAYED = "delayed", _("延误")
    CANCELLED = "cancelled", _("取消")
    ON_TIME = "on_time", _("准点")
    RETURNED = "returned", _("已退货")  # a return event's status
    REPAIRED = "repaired", _("已维修")  # a screen repair's status


class EventChannel(models.TextChoices):
    API = "api", _("接口推送")
    FILE = "file", _("文件导入")


class TriggeredPayoutStatus(models.TextChoices):
    REQUESTED = "requested", _("已发起付款")
    AWAITING_ACCOUNT = "awaiting_account", _("待领取")  # no account known: the customer is asked
    PAID = "paid", _("已到账")
    FAILED = "failed", _("付款失败")


class TriggerIndex(models.Model):
    policy = models.ForeignKey("policy.Policy", on_delete=models.CASCADE, related_name="+")
    insured = models.ForeignKey("policy.PolicyParty", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=TriggerKind.choices)
    key = models.CharField(max_length=80)
    plan_code = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("自动理赔索引")
        verbose_name_plural = _("自动理赔索引")
        indexes = [models.Index(fields=["key"], name="claim_trigger_index_key")]
        constraints = [
            models.UniqueConstraint(fields=["policy", "key"], name="claim_trigger_index_unique"),
            models.CheckConstraint(condition=Q(kind__in=TriggerKind.values), name="claim_trigger_index_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.policy_id}"


class TriggerEvent(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    source = models.CharField(_("来源"), max_length=40)
    event_id = models.CharField(_("事件编号"), max_length=64)
    channel = models.CharField(max_length=8, choices=EventChannel.choices)
    kind = models.CharField(max_length=20, choices=TriggerKind.choices)
    key = models.CharField(max_length=80)
    payload_sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField()
    # The fact: a flight's status on its scheduled departure date, or an order returned.
    flight_number = models.CharField(max_length=8, blank=True, default="")
    flight_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=FlightStatus.choices)
    delay_minutes = models.PositiveIntegerField(default=0)
    order_number = models.CharField(max_length=32, blank=True, default="")
    returned_at = models.DateTimeField(null=True, blank=True)
    # A screen repair: the phone, when and at what cost (the loss the benefit is computed on).
    imei = models.CharField(max_length=15, blank=True, default="")
    repaired_at = models.DateTimeField(null=True, blank=True)
    repair_amount = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, null=True, blank=True
    )
    # What it did: policies indexed on its key, payouts it made (0 for a repeat or below threshold).
    policies_found = models.PositiveIntegerField(default=0)
    payouts_made = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("理赔触发事件")
        verbose_name_plural = _("理赔触发事件")
        indexes = [models.Index(fields=["key", "received_at"], name="claim_trigger_event_key")]
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="claim_trigger_event_unique"),
            models.CheckConstraint(condition=Q(kind__in=TriggerKind.values), name="claim_trigger_event_kind"),
            models.CheckConstraint(
                condition=Q(status__in=FlightStatus.values), name="claim_trigger_event_status"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=EventChannel.values), name="claim_trigger_event_channel"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.event_id}"


class TriggeredPayout(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    policy = models.ForeignKey("policy.Policy", on_delete=models.PROTECT, related_name="+")
    insured = models.ForeignKey("policy.PolicyParty", on_delete=models.PROTECT, related_name="+")
    event = models.ForeignKey(TriggerEvent, on_delete=models.PROTECT, related_name="payouts")
    key = models.CharField(max_length=80)
    coverage_code = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)
    benefit = models.JSONField(default=dict)  # the explanation, line by line
    line = models.CharField(max_length=200)  # what the customer reads: 航班延误 5 小时，已自动赔付
    status = models.CharField(max_length=20, choices=TriggeredPayoutStatus.choices)
    # The payment's payout (kind "trigger", reference "<event public id>:<policy number>").
    payout = models.OneToOneField(
        "payment.Payout", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    notified_at = models.DateTimeField(null=True, blank=True)  # the insured told (claim/tasks.py)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["notified_at"],
                name="claim_triggered_unnotified",
                condition=Q(notified_at__isnull=True),
            )
        ]
        verbose_name = _("自动赔付")
        verbose_name_plural = _("自动赔付")
        constraints = [
            # One benefit per policy and flight (or order), whatever event or source reports it.
            models.UniqueConstraint(fields=["policy", "key"], name="claim_triggered_payout_once"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="claim_triggered_payout_positive"),
            models.CheckConstraint(
                condition=Q(status__in=TriggeredPayoutStatus.values), name="claim_triggered_payout_status"
            ),
            models.CheckConstraint(
                condition=Q(status=TriggeredPayoutStatus.AWAITING_ACCOUNT) | Q(payout__isnull=False),
                name="claim_triggered_payout_has_payout",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.policy_id}: {self.amount}"


class TriggerCorrectionKind(models.TextChoices):
    TOP_UP = "top_up", _("补付")
    OVERPAYMENT = "overpayment", _("多付")


class TriggerCorrectionStatus(models.TextChoices):
    # A top-up's payout, as a triggered payout's.
    AWAITING_ACCOUNT = "awaiting_account", _("待领取")
    REQUESTED = "requested", _("已发起付款")
    PAID = "paid", _("已到账")
    FAILED = "failed", _("付款失败")
    # An overpayment: open until finance settles it by hand; superseded by a later correction.
    OPEN = "open", _("待处理")
    SUPERSEDED = "superseded", _("已被更正")


TOP_UP_STATUSES = ("awaiting_account", "requested", "paid", "failed")
OVERPAYMENT_STATUSES = ("open", "superseded")


class TriggerCorrection(models.Model):
    """One corrected event's effect on one benefit: `amount` topped up or overpaid, and the
    benefit's `total_after` (what the corrected delay entitles the policy to)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    triggered_payout = models.ForeignKey(
        TriggeredPayout, on_delete=models.PROTECT, related_name="corrections"
    )
    event = models.ForeignKey(TriggerEvent, on_delete=models.PROTECT, related_name="corrections")
    kind = models.CharField(max_length=20, choices=TriggerCorrectionKind.choices)
    amount = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)
    total_after = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES)
    benefit = models.JSONField(default=dict)  # the corrected benefit, line by line
    line = models.CharField(max_length=200)  # what the customer reads
    status = models.CharField(max_length=20, choices=TriggerCorrectionStatus.choices)
    payout = models.OneToOneField(
        "payment.Payout", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("自动赔付更正")
        verbose_name_plural = _("自动赔付更正")
        constraints = [
            models.UniqueConstraint(
                fields=["triggered_payout", "event"], name="claim_trigger_correction_once"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="claim_trigger_correction_positive"),
            models.CheckConstraint(condition=Q(total_after__gte=0), name="claim_trigger_correction_total"),
            models.CheckConstraint(
                condition=(Q(kind="top_up") & Q(status__in=TOP_UP_STATUSES))
                | (Q(kind="overpayment") & Q(status__in=OVERPAYMENT_STATUSES) & Q(payout__isnull=True)),
                name="claim_trigger_correction_kind_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.triggered_payout_id})"


class EventNonce(models.Model):
    """A signed delivery's nonce, kept while its timestamp is inside the window (and a while longer)."""

    source = models.CharField(max_length=40)
    nonce = models.CharField(max_length=64)
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "nonce"], name="claim_event_nonce_unique")]

    def __str__(self) -> str:
        return f"{self.source}:{self.nonce}"


class PayoutAccount(models.Model):
    """The bank account a customer gave for automatic benefits (the last one wins)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    payee_name = models.CharField(max_length=30)
    account_number = EncryptedTextField(context="claim.payout_account")
    account_last4 = models.CharField(max_length=4)
    bank_name = models.CharField(max_length=40, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("自动赔付收款账户")
        verbose_name_plural = _("自动赔付收款账户")

    def __str__(self) -> str:
        return f"{self.user_id} **** {self.account_last4}"
