"""Commission plans (手续费政策 inbound, 佣金政策 outbound): versioned, with validity dates.

A `CommissionPlan` is kept for one insurer (inbound: what it pays the agency) or for one sales
unit (outbound: what the agency pays an agent, a team or branch override, a channel or a
sub-channel). Its `CommissionPlanVersion`s are drafts until published; a published version never
changes (its rules neither). The version in force on a day is the published one with the latest
`valid_from` on or before the day (and not past its `valid_until`): a new version supersedes the
previous ones from its own `valid_from`, without touching them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, RATE_MAX_DIGITS, RATE_PLACES


class PlanDirection(models.TextChoices):
    INBOUND = "inbound", _("手续费政策（保险公司支付）")
    OUTBOUND = "outbound", _("佣金政策（支付给渠道/代理人）")


class PlanVersionStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLISHED = "published", _("已发布")


class RuleBasis(models.TextChoices):
    RATE = "rate", _("按净保费费率")
    FIXED = "fixed", _("每单固定金额")


class ClawbackMode(models.TextChoices):
    PRO_RATA = "pro_rata", _("按退费比例追回")
    PERCENT = "percent", _("按固定百分比追回")
    NONE = "none", _("不追回")


class CommissionPlan(models.Model):
    code = models.SlugField(max_length=48, unique=True)
    name = models.CharField(max_length=64)
    direction = models.CharField(max_length=16, choices=PlanDirection.choices)
    insurer = models.ForeignKey(
        "catalog.Insurer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sales_unit = models.ForeignKey(
        "distribution.SalesUnit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["direction", "code"]
        verbose_name = _("佣金/手续费政策")
        verbose_name_plural = _("佣金/手续费政策")
        constraints = [
            models.CheckConstraint(
                condition=Q(direction="inbound", insurer__isnull=False, sales_unit__isnull=True)
                | Q(direction="outbound", sales_unit__isnull=False),
                name="commission_plan_party",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class CommissionPlanVersion(models.Model):
    plan = models.ForeignKey(CommissionPlan, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=PlanVersionStatus.choices, default=PlanVersionStatus.DRAFT
    )
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True)
    # Quarterly targets of the insurer's premium: [{"premium": "5000000", "bonus": "50000"}].
    targets = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=200, blank=True, default="")
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan_id", "-number"]
        verbose_name = _("政策版本")
        verbose_name_plural = _("政策版本")
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="commission_version_number"),
            models.CheckConstraint(
                condition=Q(status__in=PlanVersionStatus.values), name="commission_version_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="commission_version_dates_ordered",
            ),
            models.CheckConstraint(
                condition=Q(status="draft", published_at__isnull=True)
                | Q(status="published", published_at__isnull=False),
                name="commission_version_published_at",
            ),
        ]
        indexes = [models.Index(fields=["plan", "status", "valid_from"], name="commission_version_in_force")]

    def __str__(self) -> str:
        return f"{self.plan.code} v{self.number}"

    @property
    def is_frozen(self) -> bool:
        return self.status != PlanVersionStatus.DRAFT


class CommissionRule(models.Model):
    version = models.ForeignKey(CommissionPlanVersion, on_delete=models.PROTECT, related_name="rules")
    # Outbound rules may be narrowed to one insurer; inbound rules are the plan's insurer's.
    insurer = models.ForeignKey(
        "catalog.Insurer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    line = models.CharField(max_length=32, blank=True, default="")  # catalog.LineOfBusiness; "" any
    channel = models.ForeignKey(
        "distribution.SalesUnit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    mode = models.CharField(max_length=16, blank=True, default="")  # catalog.PaymentMode; "" any
    year = models.PositiveSmallIntegerField(default=1)
    and_later = models.BooleanField(default=False)
    basis = models.CharField(max_length=8, choices=RuleBasis.choices, default=RuleBasis.RATE)
    rate = models.DecimalField(max_digits=RATE_MAX_DIGITS, decimal_places=RATE_PLACES, default=0)
    fixed_amount = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, default=0
    )
    # The premium's VAT rate; null: by the line (`commission_rules.default_vat_rate`).
    vat_rate = models.DecimalField(
        max_digits=RATE_MAX_DIGITS, decimal_places=RATE_PLACES, null=True, blank=True
    )
    clawback = models.CharField(max_length=16, choices=ClawbackMode.choices, default=ClawbackMode.PRO_RATA)
    clawback_percent = models.DecimalField(max_digits=5, decimal_places=2, default=100)
    # Volume tiers: [{"threshold": "1000000", "rate": "0.30"}], ascending.
    tiers = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["version_id", "id"]
        verbose_name = _("政策规则")
        verbose_name_plural = _("政策规则")
        constraints = [
            models.CheckConstraint(condition=Q(year__gte=1), name="commission_rule_year"),
            models.CheckConstraint(condition=Q(rate__gte=0) & Q(rate__lte=1), name="commission_rule_rate"),
            models.CheckConstraint(condition=Q(fixed_amount__gte=0), name="commission_rule_fixed"),
        ]

    def __str__(self) -> str:
        return f"rule {self.pk} of {self.version_id}"
