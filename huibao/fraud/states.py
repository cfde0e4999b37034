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
    BLOCK = "block", _("拦截")


class InvoiceKind(models.TextChoices):
    NUMBER = "number", _("发票号")
    DIGEST = "digest", _("文件摘要")
