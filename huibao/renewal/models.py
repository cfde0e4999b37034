"""Renewal offers (续保要约): one per expiring policy term, and the reminders sent for each."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from huibao.renewal.states import OfferStatus


def _money(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


class RenewalOffer(models.Model):
    """The offer to renew `policy` (the expiring one) for its next term, re-rated at the new age:
    `premium` with its rating `steps` (the explanation), from `product_version`/`plan` (the
    policy's own version under guaranteed renewal, else the product's current one). Once paid the
    renewal policy is issued (`renewal_policy`). One offer per policy term: the one-to-one on
    `policy` holds it against re-runs and concurrent jobs."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    policy = models.OneToOneField("policy.Policy", on_delete=models.PROTECT, related_name="renewal_offer")
    customer = models.ForeignKey(
        "account.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=16, choices=OfferStatus.choices, default=OfferStatus.OFFERED)
    # The term the renewal would be (2 = first renewal) and whether it is within guaranteed renewal.
    term_number = models.PositiveSmallIntegerField(default=2)
    guaranteed = models.BooleanField(default=False)
    product_version = models.ForeignKey("catalog.ProductVersion", on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(
        "catalog.Plan", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    term_code = models.CharField(max_length=16, blank=True, default="")
    insured_age = models.PositiveSmallIntegerField(default=0)
    # The annual premium of the new term: the rated one (`rated_premium`) with the underwriting
    # loading the policy carries (`loading_percent`) applied again.
    premium = _money(null=True, blank=True)
    rated_premium = _money(null=True, blank=True)
    loading_percent = models.DecimalField(max_digits=6, decimal_places=2, default=0)
    # The premium mode kept from the expiring policy (monthly renews monthly: the first
    # instalment is what is paid to renew) where the version still offers it.
    payment_mode = models.CharField(max_length=16, default="annual")
    previous_premium = _money(null=True, blank=True)
    # The rating steps at the new age (what the page shows line by line) and the inputs priced.
    steps = models.JSONField(default=list, blank=True)
    inputs = models.JSONField(default=dict, blank=True)
    starts_at = models.DateTimeField()  # the new term: the expiring policy's `expires_at`
    ends_at = models.DateTimeField(null=True, blank=True)
    expires_on = models.DateField(db_index=True)  # the date cover ends at the start of
    grace_until = models.DateField()
    offered_on = models.DateField()
    refusal = models.CharField(max_length=120, blank=True, default="")
    auto_renew = models.BooleanField(default=False)
    mandate = models.ForeignKey(
        "billing.PaymentMandate", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_failure = models.CharField(max_length=64, blank=True, default="")
    # When the customer was told the offer was made (the offer notice job), once.
    notified_at = models.DateTimeField(null=True, blank=True)
    renewal_policy = models.OneToOneField(
        "policy.Policy", on_delete=models.PROTECT, null=True, blank=True, related_name="renewal_offer_made"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["expires_on", "id"]
        verbose_name = _("续保要约")
        verbose_name_plural = _("续保要约")
        indexes = [
            models.Index(fields=["status", "expires_on"], name="renewal_offer_status_exp"),
            # The offer-notice job's candidates: the few offers not yet notified, found without
            # reading every offer ever made (the table grows by a day's expiring policies daily).
            models.Index(
                fields=["id"], condition=Q(notified_at__isnull=True), name="renewal_offer_unnotified"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=OfferStatus.values), name="renewal_offer_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(premium__isnull=True) | Q(premium__gte=0),
                name="renewal_offer_premium_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"renewal of {self.policy_id}: {self.status}"


class RenewalReminder(models.Model):
    """A reminder sent for an offer, `days_before` its expiry (30, 7, 1): once each."""

    offer = models.ForeignKey(RenewalOffer, on_delete=models.CASCADE, related_name="reminders")
    days_before = models.PositiveSmallIntegerField()
    sent_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["offer_id", "-days_before"]
        constraints = [
            models.UniqueConstraint(fields=["offer", "days_before"], name="renewal_reminder_once"),
        ]

    def __str__(self) -> str:
        return f"{self.offer_id} −{self.days_before}d"
