"""Underwriting cases referred to a person (人工核保): the underwriter queue.

A case is opened by `services.underwrite` for every item the rules refer, and is closed either
by an underwriter's decision (`services.decide_case`, driven by the application) or by withdrawal when the
application changes or ends meanwhile. The terms the rules would have set (loading, exclusions)
are kept as a suggestion for the underwriter.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huibao.underwriting.states import CaseDecision, CaseStatus

__all__ = ["CaseDecision", "CaseStatus", "UnderwritingCase"]


class UnderwritingCase(models.Model):
    item = models.ForeignKey(
        "application.ApplicationItem",
        on_delete=models.CASCADE,
        related_name="cases",
        verbose_name=_("投保项目"),
    )
    status = models.CharField(_("状态"), max_length=12, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    # [{"code", "message", "question"}] — every rule that fired, most severe first.
    referral_reasons = models.JSONField(_("转人工原因"), default=list)
    # The terms the rules set besides the referral (a starting point for the underwriter).
    suggested_loading_percent = models.DecimalField(
        _("建议加费比例"), max_digits=6, decimal_places=2, default=0
    )
    suggested_exclusions = models.JSONField(_("建议除外责任"), default=list, blank=True)
    decision = models.CharField(_("核保决定"), max_length=20, choices=CaseDecision.choices, blank=True)
    loading_percent = models.DecimalField(_("加费比例"), max_digits=6, decimal_places=2, default=0)
    exclusions = models.JSONField(_("除外责任"), default=list, blank=True)
    decision_reasons = models.TextField(_("决定理由"), blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("分配给"),
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("核保人"),
    )
    decided_at = models.DateTimeField(_("决定时间"), null=True, blank=True)
    withdrawn_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("转人工时间"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("人工核保案件")
        verbose_name_plural = _("人工核保案件")
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=CaseStatus.values), name="uw_case_status_valid"),
            models.CheckConstraint(
                condition=~Q(status="decided") | (Q(decided_at__isnull=False) & ~Q(decision="")),
                name="uw_case_decided_has_decision",
            ),
            models.CheckConstraint(
                condition=Q(loading_percent__gte=0) & Q(loading_percent__lte=300),
                name="uw_case_loading_range",
            ),
        ]

    def __str__(self) -> str:
        return f"case {self.pk} ({self.status})"
