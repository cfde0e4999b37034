"""Billing persistence: premium schedules, their instalments, payment mandates (代扣协议) and
collection attempts. A schedule belongs to an opaque reference (`reference_kind`,
`reference_id`: a policy, for the policy app); billing never reads what it refers to."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from huibao.billing.states import CollectionStatus, InstalmentStatus, MandateStatus, ScheduleStatus
from huibao.core.fields import EncryptedTextField
from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


def _money(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


class PaymentMandate(models.Model):
    """A stored payment authorisation (代扣协议) at a provider: the agreement id and a masked
    account, never the account number itself."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    provider = models.CharField(max_length=20)
    agreement_id = models.CharField(max_length=64)
    masked_account = models.CharField(max_length=32)
    payer_name = EncryptedTextField(context="billing.mandate.payer_name")
    payer_id_number = EncryptedTextField(context="billing.mandate.payer_id_number")
    status = models.CharField(max_length=16, choices=MandateStatus.choices, default=MandateStatus.ACTIVE)
    signed_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "agreement_id"], name="billing_mandate_unique"),
            models.CheckConstraint(
                condition=Q(status__in=MandateStatus.values), name="billing_mandate_status"
            ),
            models.CheckConstraint(
                condition=~Q(status=MandateStatus.REVOKED) | Q(revoked_at__isnull=False),
                name="billing_mandate_revoked_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"mandate {self.provider}:{self.masked_account} {self.status}"


class PremiumSchedule(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    reference_kind = models.CharField(max_length=40)
    reference_id = models.CharField(max_length=64)
    # The policyholder's account (none for a policy issued to a customer without one).
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    currency = models.CharField(max_length=3, default="CNY")
    mode = models.CharField(max_length=16)
    line = models.CharField(max_length=32, blank=True)
    total = _money()
    grace_days = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=ScheduleStatus.choices, default=ScheduleStatus.ACTIVE)
    mandate = models.ForeignKey(
        PaymentMandate, on_delete=models.PROTECT, null=True, blank=True, related_name="schedules"
    )
    lapsed_on = models.DateField(null=True, blank=True)
    # The premium term (缴费期间) in policy years, and the policy years planned so far: a
    # multi-year schedule rolls forward one year at a time (`services.roll_forward`).
    premium_years = models.PositiveSmallIntegerField(default=1)
    policy_year = models.PositiveSmallIntegerField(default=1)
    # The first day of the first policy year (the anniversaries' base) and the annual premium
    # the next year is planned from (None on schedules made before multi-year terms).
    start_on = models.DateField(null=True, blank=True)
    annual_premium = _money(null=True, blank=True)
    # The premium of each policy year of the term when it steps up by year (decimal strings,
    # year 1 first; `annual_premium` is then the current year's): [] for a level premium, every
    # year at `annual_premium`.
    year_premiums = models.JSONField(default=list, blank=True)
    # The day the next policy year's instalments are created; None when the term is over.
    next_year_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reference_kind", "reference_id"], name="billing_schedule_reference"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ScheduleStatus.values), name="billing_schedule_status"
            ),
            models.CheckConstraint(condition=Q(total__gt=0), name="billing_schedule_total_positive"),
            models.CheckConstraint(condition=Q(currency="CNY"), name="billing_schedule_cny"),
            models.CheckConstraint(
                condition=~Q(status=ScheduleStatus.LAPSED) | Q(lapsed_on__isnull=False),
                name="billing_schedule_lapsed_has_date",
            ),
            models.CheckConstraint(
                condition=Q(premium_years__gte=1)
                & Q(policy_year__gte=1)
                & Q(policy_year__lte=models.F("premium_years")),
                name="billing_schedule_years",
            ),
            models.CheckConstraint(
                condition=Q(next_year_on__isnull=True) | Q(policy_year__lt=models.F("premium_years")),
                name="billing_schedule_next_year_in_term",
            ),
        ]
        indexes = [
            models.Index(fields=["status"]),
            # The roll-forward's candidates: active schedules with a year still to plan.
            models.Index(
                fields=["next_year_on"],
                condition=Q(status="active") & Q(next_year_on__isnull=False),
                name="billing_schedule_roll_forward",
            ),
        ]

    def __str__(self) -> str:
        return f"schedule {self.reference_kind}:{self.reference_id} {self.mode} {self.status}"


class Instalment(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    schedule = models.ForeignKey(PremiumSchedule, on_delete=models.PROTECT, related_name="instalments")
    number = models.PositiveSmallIntegerField()
    due_on = models.DateField()
    amount = _money()
    status = models.CharField(max_length=16, choices=InstalmentStatus.choices, default=InstalmentStatus.DUE)
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_reference = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["schedule_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "number"], name="billing_instalment_number"),
            models.CheckConstraint(
                condition=Q(status__in=InstalmentStatus.values), name="billing_instalment_status"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_instalment_amount_positive"),
            models.CheckConstraint(
                condition=~Q(status=InstalmentStatus.PAID)
                | (Q(paid_at__isnull=False) & ~Q(payment_reference="")),
                name="billing_instalment_paid_has_payment",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_on"])]

    def __str__(self) -> str:
        return f"instalment {self.number} of {self.schedule_id} {self.status}"


class Collection(models.Model):
    """One attempt to collect an instalment through a mandate: `out_trade_no` is the merchant
    reference of the charge (one per instalment and day), and at most one attempt per
    instalment is pending at a time."""

    instalment = models.ForeignKey(Instalment, on_delete=models.PROTECT, related_name="collections")
    mandate = models.ForeignKey(PaymentMandate, on_delete=models.PROTECT, related_name="+")
    out_trade_no = models.CharField(max_length=40, unique=True)
    payment_id = models.BigIntegerField(null=True, blank=True)
    amount = _money()
    status = models.CharField(
        max_length=16, choices=CollectionStatus.choices, default=CollectionStatus.PENDING
    )
    reason = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["instalment"],
                condition=Q(status=CollectionStatus.PENDING),
                name="billing_one_pending_collection",
            ),
            models.CheckConstraint(
                condition=Q(status__in=CollectionStatus.values), name="billing_collection_status"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_collection_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.out_trade_no} {self.status}"


class InstalmentChange(models.Model):
    """The history of a schedule re-planned: which change (an opaque cause, e.g. ("endorsement",
    "<number>")) moved which instalment from `old_amount` to `new_amount` from `effective_on`, and
    what was settled apart for an instalment already paid (`adjustment`: + charged, − refunded).
    One row per instalment and cause: a re-plan run again writes nothing."""

    instalment = models.ForeignKey(Instalment, on_delete=models.PROTECT, related_name="changes")
    cause_kind = models.CharField(max_length=40)
    cause_id = models.CharField(max_length=64)
    effective_on = models.DateField()
    old_amount = _money()
    new_amount = _money()
    adjustment = _money(default=0)
    carried = _money(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["instalment_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["instalment", "cause_kind", "cause_id"], name="billing_change_once_per_cause"
            ),
            models.CheckConstraint(condition=Q(new_amount__gt=0), name="billing_change_amount_positive"),
        ]
        indexes = [models.Index(fields=["cause_kind", "cause_id"], name="billing_change_cause")]

    def __str__(self) -> str:
        return f"{self.cause_kind}:{self.cause_id} #{self.instalment_id} {self.old_amount}→{self.new_amount}"
