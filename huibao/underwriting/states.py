"""Statuses of an underwriting case and the transition table every change goes through.

open ──decide──▶ decided
  └──withdraw──▶ withdrawn   (the application was amended, re-underwritten, cancelled or expired)
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CaseStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    DECIDED = "decided", _("已决定")
    WITHDRAWN = "withdrawn", _("已撤回")


class CaseDecision(models.TextChoices):
    ACCEPT = "accept", _("标准体承保")
    ACCEPT_WITH_TERMS = "accept_with_terms", _("加费/除外承保")
    DECLINE = "decline", _("拒保")


CASE_TRANSITIONS: dict[str, frozenset[str]] = {
    CaseStatus.OPEN: frozenset({CaseStatus.DECIDED, CaseStatus.WITHDRAWN}),
    CaseStatus.DECIDED: frozenset(),
    CaseStatus.WITHDRAWN: frozenset(),
}
