"""Statuses of a fraud case (the analyst queue) and of a screening's route.

open ──take──▶ in_review ──clear──▶ cleared
  │               │  └──confirm──▶ confirmed
  │               └──release──▶ open
  └──clear / confirm (straight from the queue)
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CaseStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    IN_REVIEW = "in_review", _("审核中")
    CLEARED = "cleared", _("排除嫌疑")
    CONFIRMED = "confirmed", _("确认欺诈")


CASE_TRANSITIONS: dict[str, frozenset[str]] = {
    CaseStatus.OPEN: frozenset({CaseStatus.IN_REVIEW, CaseStatus.CLEARED, CaseStatus.CONFIRMED}),
    CaseStatus.IN_REVIEW: frozenset({CaseStatus.OPEN, CaseStatus.CLEARED, CaseStatus.CONFIRMED}),
    CaseStatus.CLEARED: frozenset(),
    CaseStatus.CONFIRMED: frozenset(),
}
OPEN_STATUSES = (CaseStatus.OPEN, CaseStatus.IN_REVIEW)


class RouteChoice(models.TextChoices):
    PASS = "pass", _("通过")
    REVIEW = "review", _("人工复核")
    HOLD = "hold", _("暂缓")
    BLOCK = "block", _("拦截")


class HoldStatus(models.TextChoices):
    """A held screening: held until its condition clears (the related cases resolved) or an
    analyst releases it, to review or to pass.

    held ──condition cleared / analyst releases──▶ released
    """

    HELD = "held", _("暂缓中")
    RELEASED = "released", _("已放行")


HOLD_TRANSITIONS: dict[str, frozenset[str]] = {
    HoldStatus.HELD: frozenset({HoldStatus.RELEASED}),
    HoldStatus.RELEASED: frozenset(),
}
# Where a released hold goes.
RELEASE_ROUTES = ("pass", "review")


class PolicyStatus(models.TextChoices):
    """A version of the fraud policy (the route thresholds): proposed by one analyst lead,
    approved or rejected by another (four eyes); approved versions apply from `effective_from`.

    proposed ──approve (another lead)──▶ approved
        └──────reject (another lead) / withdraw (the proposer)──▶ rejected
    """

    PROPOSED = "proposed", _("待审批")
    APPROVED = "approved", _("已生效")
    REJECTED = "rejected", _("已驳回")


POLICY_TRANSITIONS: dict[str, frozenset[str]] = {
    PolicyStatus.PROPOSED: frozenset({PolicyStatus.APPROVED, PolicyStatus.REJECTED}),
    PolicyStatus.APPROVED: frozenset(),
    PolicyStatus.REJECTED: frozenset(),
}


class InvoiceKind(models.TextChoices):
    NUMBER = "number", _("发票号")
    DIGEST = "digest", _("文件摘要")
