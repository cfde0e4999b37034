"""The claim app's tables. This module holds the benefit ledger (`limits.py` writes it): what each
policy year of a coverage has used, and one entry per claim that used it."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


def _money(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, default=0, **kwargs
    )


class BenefitUsage(models.Model):
    """What one coverage of a policy has used in one policy year: the sums of the year's
    unreleased entries. Row-locked (`select_for_update`) while a claim is computed against it."""

    policy = models.ForeignKey("policy.Policy", on_delete=models.PROTECT, related_name="+")
    coverage_code = models.CharField(max_length=64)
    period_start = models.DateField()
    period_end = models.DateField()  # the last day of the policy year, included
    paid = _money()
    deductible_used = _money()
    # {"outpatient": "4000.00"}: expenses admitted under each item-limited category (Decimal strings).
    item_paid = models.JSONField(default=dict)
    days_paid = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("保障额度使用")
        verbose_name_plural = _("保障额度使用")
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "coverage_code", "period_start"], name="claim_usage_one_row_per_policy_year"
            ),
            models.CheckConstraint(
                condition=Q(paid__gte=0) & Q(deductible_used__gte=0) & Q(days_paid__gte=0),
                name="claim_usage_not_negative",
            ),
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="claim_usage_period"),
        ]

    def __str__(self) -> str:
        return f"{self.coverage_code} {self.period_start}–{self.period_end}: {self.paid}"


class BenefitEntry(models.Model):
    """One claim's use of one coverage's policy year (the claim by its `reference`, no foreign
    key), with the benefit as computed. Released entries stay, marked, and no longer count."""

    usage = models.ForeignKey(BenefitUsage, on_delete=models.PROTECT, related_name="entries")
    reference = models.CharField(max_length=64)
    coverage_code = models.CharField(max_length=64)
    paid = _money()
    deductible_used = _money()
    item_paid = models.JSONField(default=dict)
    days_paid = models.IntegerField(default=0)
    # The Benefit as computed (payable, lines, refusal…), so a retry answers the same explanation.
    benefit = models.JSONField(default=dict)
    released = models.BooleanField(default=False)
    released_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("保障额度使用记录")
        verbose_name_plural = _("保障额度使用记录")
        indexes = [models.Index(fields=["reference"], name="claim_entry_reference")]
        constraints = [
            # One live entry per claim and coverage: a retry finds it, a release frees the slot
            # for a re-decision.
            models.UniqueConstraint(
                fields=["reference", "coverage_code"],
                condition=Q(released=False),
                name="claim_entry_one_live_per_coverage",
            ),
            models.CheckConstraint(
                condition=Q(paid__gte=0) & Q(deductible_used__gte=0) & Q(days_paid__gte=0),
                name="claim_entry_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(released=False, released_at__isnull=True)
                | Q(released=True, released_at__isnull=False),
                name="claim_entry_released_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.coverage_code}: {self.paid}"
