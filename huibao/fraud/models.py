"""Risk control's own tables: the rules as data (versioned), the screened subjects and their
invoices (indexed so a rule matches across every claim of every insurer with one query), the
screenings, the analyst's cases and the shared blacklist (never deleted)."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from huibao.fraud.states import CaseStatus, HoldStatus, InvoiceKind, PolicyStatus, RouteChoice


def _money(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


class FraudRule(models.Model):
    """One version of a rule's configuration. Changing it writes a new version row and makes it
    current; old versions stay, since screenings name the version that fired."""

    code = models.CharField(_("规则代码"), max_length=64)
    version = models.PositiveIntegerField(_("版本"))
    is_current = models.BooleanField(_("当前版本"), default=True)
    subject_kind = models.CharField(_("对象类型"), max_length=32, default="claim")
    name = models.CharField(_("名称"), max_length=100)
    description = models.TextField(_("说明"), blank=True)
    enabled = models.BooleanField(_("启用"), default=True)
    score = models.PositiveIntegerField(_("分值"))
    route = models.CharField(_("至少路由"), max_length=8, choices=RouteChoice.choices)
    parameters = models.JSONField(_("参数"), default=dict, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    change_reason = models.CharField(_("修改原因"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        ordering = ["subject_kind", "code", "-version"]
        verbose_name = _("风控规则")
        verbose_name_plural = _("风控规则")
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="fraud_rule_code_version"),
            models.UniqueConstraint(
                fields=["code"], condition=Q(is_current=True), name="fraud_rule_one_current"
            ),
            models.CheckConstraint(condition=Q(route__in=RouteChoice.values), name="fraud_rule_route_valid"),
            models.CheckConstraint(condition=Q(version__gte=1), name="fraud_rule_version_positive"),
        ]
        indexes = [models.Index(fields=["subject_kind", "is_current"], name="fraud_rule_kind_current")]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"


class ScreenedClaim(models.Model):
    """What screening keeps of a claim so later claims can be matched against it. One row per
    claim reference: re-screening updates it."""

    reference = models.CharField(_("理赔号"), max_length=64, unique=True)
    policy_reference = models.CharField(_("保单号"), max_length=64)
    insurer_code = models.CharField(_("保险公司"), max_length=32)
    product_code = models.CharField(_("产品"), max_length=64)
    line = models.CharField(_("险类"), max_length=32, blank=True)
    claimant_id_hash = models.CharField(max_length=64)
    insured_id_hash = models.CharField(max_length=64)
    region_code = models.CharField(_("地区"), max_length=12)
    institution = models.CharField(_("医疗机构"), max_length=200, blank=True)
    institution_key = models.CharField(max_length=200, blank=True)
    claim_type = models.CharField(_("理赔类型"), max_length=32)
    amount = _money(verbose_name=_("申请金额"))
    incident_date = models.DateField(_("出险日"))
    reported_at = models.DateTimeField(_("报案时间"))
    policy_effective_date = models.DateField(_("保单生效日"))
    waiting_period_end = models.DateField(_("等待期结束日"), null=True, blank=True)
    sum_insured_increased_on = models.DateField(_("最近加保日"), null=True, blank=True)
    claimant_name_masked = models.CharField(_("申请人"), max_length=64, blank=True)
    subject_digest = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("已筛查理赔")
        verbose_name_plural = _("已筛查理赔")
        indexes = [
            models.Index(fields=["insured_id_hash", "reported_at"], name="fraud_sc_insured_at"),
            models.Index(fields=["region_code", "reported_at"], name="fraud_sc_region_at"),
            models.Index(fields=["institution_key", "reported_at"], name="fraud_sc_inst_at"),
        ]
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0), name="fraud_sc_amount_nonneg")]

    def __str__(self) -> str:
        return self.reference


class ScreenedInvoice(models.Model):
    claim = models.ForeignKey(ScreenedClaim, on_delete=models.CASCADE, related_name="invoices")
    kind = models.CharField(max_length=8, choices=InvoiceKind.choices)
    value = models.CharField(max_length=128)

    class Meta:
        indexes = [models.Index(fields=["kind", "value"], name="fraud_inv_kind_value")]
        constraints = [
            models.UniqueConstraint(fields=["claim", "kind", "value"], name="fraud_inv_once_per_claim"),
            models.CheckConstraint(condition=Q(kind__in=InvoiceKind.values), name="fraud_inv_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class Screening(models.Model):
    """One evaluation of a subject: the score, the route and the rules that fired, each with its
    version and evidence (`fired`: [{code, version, name, score, route, summary, facts, matches}])."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subject_kind = models.CharField(max_length=32, default="claim")
    claim = models.ForeignKey(ScreenedClaim, on_delete=models.PROTECT, related_name="screenings")
    subject_digest = models.CharField(max_length=64)
    score = models.PositiveIntegerField(_("分数"))
    route = models.CharField(_("路由"), max_length=8, choices=RouteChoice.choices)
    fired = models.JSONField(_("触发规则"), default=list)
    # ",code,code," — the fired codes, for the queue's filter on every database.
    fired_codes = models.CharField(max_length=1000, blank=True)
    rule_versions = models.JSONField(default=dict)  # every rule evaluated: {code: version}
    # The FraudPolicy version whose thresholds routed it (0: the defaults in code).
    policy_version = models.PositiveIntegerField(_("阈值版本"), default=0)
    created_at = models.DateTimeField(_("筛查时间"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("风控筛查")
        verbose_name_plural = _("风控筛查")
        constraints = [
            models.CheckConstraint(
                condition=Q(route__in=RouteChoice.values), name="fraud_screening_route_valid"
            )
        ]

    def __str__(self) -> str:
        return f"screening {self.public_id} ({self.route})"


class FraudCase(models.Model):
    """A screening routed to review, in the analysts' queue. At most one open case per subject."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    claim = models.ForeignKey(ScreenedClaim, on_delete=models.PROTECT, related_name="cases")
    screening = models.ForeignKey(Screening, on_delete=models.PROTECT, related_name="cases")
    status = models.CharField(_("状态"), max_length=12, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    note = models.TextField(_("处理意见"), blank=True)
    created_at = models.DateTimeField(_("立案时间"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("风控案件")
        verbose_name_plural = _("风控案件")
        indexes = [models.Index(fields=["status", "created_at"], name="fraud_case_status_at")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=CaseStatus.values), name="fraud_case_status_valid"),
            models.UniqueConstraint(
                fields=["claim"], condition=Q(status__in=["open", "in_review"]), name="fraud_case_one_open"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "in_review"]) | (Q(resolved_at__isnull=False) & ~Q(note="")),
                name="fraud_case_resolved_has_note",
            ),
        ]

    def __str__(self) -> str:
        return f"case {self.public_id} ({self.status})"


class FraudPolicy(models.Model):
    """One version of the screening's route thresholds (风控阈值): the score at which a claim goes
    to review and to block, and whether hold conditions hold it. Never edited: a change is a new
    version, proposed by one analyst lead and approved by another (four eyes); the version in
    force at a moment is the approved one with the latest `effective_from` up to it. With none
    approved, the defaults in code (`rules.DEFAULT_THRESHOLDS`) apply as version 0."""

    version = models.PositiveIntegerField(_("版本"), unique=True)
    review_at = models.PositiveIntegerField(_("复核分数线"))
    block_at = models.PositiveIntegerField(_("拦截分数线"))
    hold_enabled = models.BooleanField(_("启用暂缓"), default=True)
    effective_from = models.DateTimeField(_("生效时间"))
    status = models.CharField(
        _("状态"), max_length=10, choices=PolicyStatus.choices, default=PolicyStatus.PROPOSED
    )
    reason = models.CharField(_("修改原因"), max_length=200)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(_("提交时间"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    decision_note = models.CharField(_("审批意见"), max_length=200, blank=True)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("风控阈值")
        verbose_name_plural = _("风控阈值")
        permissions = [("approve_fraudpolicy", "Can approve a fraud policy version (four eyes)")]
        indexes = [models.Index(fields=["status", "effective_from"], name="fraud_policy_in_force")]
        constraints = [
            models.CheckConstraint(condition=Q(version__gte=1), name="fraud_policy_version_positive"),
            models.CheckConstraint(
                condition=Q(review_at__gte=1) & Q(block_at__gt=models.F("review_at")),
                name="fraud_policy_thresholds_ordered",
            ),
            models.CheckConstraint(
                condition=Q(status__in=PolicyStatus.values), name="fraud_policy_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="proposed", decided_at__isnull=True)
                | (~Q(status="proposed") & Q(decided_at__isnull=False)),
                name="fraud_policy_decided_at",
            ),
            # Four eyes: whoever approves a version did not propose it.
            models.CheckConstraint(
                condition=~Q(status="approved") | ~Q(decided_by=models.F("proposed_by")),
                name="fraud_policy_four_eyes",
            ),
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="proposed"), name="fraud_policy_one_proposed"
            ),
        ]

    def __str__(self) -> str:
        return f"fraud policy v{self.version} ({self.status})"


class FraudHold(models.Model):
    """A screening routed to hold (暂缓): the claim is neither decided nor queued for a person
    until the cases it waits on (`waiting_on`: their public ids) are resolved — then it takes
    `then_route`, or review when one of them was confirmed — or an analyst releases it to review
    or pass. At most one held per subject."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    claim = models.ForeignKey(ScreenedClaim, on_delete=models.PROTECT, related_name="holds")
    screening = models.ForeignKey(Screening, on_delete=models.PROTECT, related_name="holds")
    status = models.CharField(_("状态"), max_length=10, choices=HoldStatus.choices, default=HoldStatus.HELD)
    reason = models.CharField(_("暂缓原因"), max_length=300)
    waiting_on = models.JSONField(_("等待的案件"), default=list, blank=True)
    then_route = models.CharField(_("放行后路由"), max_length=8, choices=RouteChoice.choices)
    released_to = models.CharField(_("放行至"), max_length=8, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    released_at = models.DateTimeField(_("放行时间"), null=True, blank=True)
    note = models.TextField(_("放行说明"), blank=True)
    created_at = models.DateTimeField(_("暂缓时间"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("暂缓案件")
        verbose_name_plural = _("暂缓案件")
        indexes = [models.Index(fields=["status", "created_at"], name="fraud_hold_status_at")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=HoldStatus.values), name="fraud_hold_status_valid"),
            models.CheckConstraint(
                condition=Q(then_route__in=["pass", "review"]), name="fraud_hold_then_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="held", released_at__isnull=True, released_to="")
                | (Q(status="released", released_at__isnull=False) & Q(released_to__in=["pass", "review"])),
                name="fraud_hold_released_fields",
            ),
            models.UniqueConstraint(fields=["claim"], condition=Q(status="held"), name="fraud_hold_one_held"),
        ]

    def __str__(self) -> str:
        return f"hold {self.public_id} ({self.status})"


class BlacklistSource(models.TextChoices):
    PLATFORM = "platform", _("平台")
    INSURER = "insurer", _("保险公司")


class BlacklistEntry(models.Model):
    """A person on the shared blacklist (黑名单), by ID hash. Never deleted: removal sets
    `removed_at` with a reason."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    id_hash = models.CharField(max_length=64, db_index=True)
    name_masked = models.CharField(_("姓名"), max_length=64, blank=True)
    id_masked = models.CharField(_("证件号"), max_length=32, blank=True)
    reason = models.CharField(_("原因"), max_length=500)
    source = models.CharField(_("来源"), max_length=8, choices=BlacklistSource.choices)
    insurer_code = models.CharField(_("保险公司代码"), max_length=32, blank=True)
    case = models.ForeignKey(FraudCase, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    valid_from = models.DateField(_("生效日"))
    valid_until = models.DateField(_("失效日"), null=True, blank=True)
    removed_at = models.DateTimeField(_("移除时间"), null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    removal_reason = models.CharField(_("移除原因"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("黑名单")
        verbose_name_plural = _("黑名单")
        constraints = [
            models.CheckConstraint(
                condition=Q(source__in=BlacklistSource.values), name="fraud_bl_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(source="platform", insurer_code="") | (Q(source="insurer") & ~Q(insurer_code="")),
                name="fraud_bl_insurer_named",
            ),
            models.CheckConstraint(
                condition=Q(removed_at__isnull=True) | ~Q(removal_reason=""), name="fraud_bl_removal_reason"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="fraud_bl_valid_range",
            ),
        ]

    def __str__(self) -> str:
        return f"blacklist {self.public_id}"
