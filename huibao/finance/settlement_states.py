"""Settlement statements' statuses and the one transition table (`core.states.check_transition`).

    draft ──submit──▶ submitted ──approve──▶ approved ──mark paid──▶ paid
      │                  │  ▲ (return)          │
      └──────void────────┴──┴────void───────────┘──▶ voided

A voided statement releases its lines and entries, so the party × period can be generated
again (a new statement, a new number). A paid statement is final: a correction is an
adjustment entry settled in a later period.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class StatementStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("待审批")
    APPROVED = "approved", _("已审批")
    PAID = "paid", _("已结清")
    VOIDED = "voided", _("已作废")


TRANSITIONS: dict[str, frozenset[str]] = {
    StatementStatus.DRAFT: frozenset({StatementStatus.SUBMITTED, StatementStatus.VOIDED}),
    StatementStatus.SUBMITTED: frozenset(
        {StatementStatus.APPROVED, StatementStatus.DRAFT, StatementStatus.VOIDED}
    ),
    StatementStatus.APPROVED: frozenset({StatementStatus.PAID, StatementStatus.VOIDED}),
    StatementStatus.PAID: frozenset(),
    StatementStatus.VOIDED: frozenset(),
}

# Statuses in which a statement holds its lines (a voided one has released them).
OPEN_STATUSES = (StatementStatus.DRAFT, StatementStatus.SUBMITTED, StatementStatus.APPROVED)


class PartyKind(models.TextChoices):
    INSURER = "insurer", _("保险公司")
    SALES_UNIT = "sales_unit", _("渠道/代理人")


class SettlementMode(models.TextChoices):
    # Insurer statements: premium less commission in one payment (轧差), both gross, or only the
    # commission (the insurer collected the premium itself). Sales units: commission paid out.
    NET = "net", _("轧差结算")
    GROSS = "gross", _("全额结算")
    COMMISSION_ONLY = "commission_only", _("仅手续费")
    OUTBOUND = "outbound", _("佣金支付")


class LineKind(models.TextChoices):
    PREMIUM = "premium", _("应付保费")
    COMMISSION_IN = "commission_in", _("应收手续费")
    COMMISSION_OUT = "commission_out", _("应付佣金")
