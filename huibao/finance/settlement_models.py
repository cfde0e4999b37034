"""Settlement statements (结算单) with insurers, channels and agents, and their lines.

A statement is for one party (an insurer, or a sales unit) and one period. Its lines are the
ledger lines of premium to remit and the commission entries it settles; a line's `source_key`
("journal:<id>", "commission:<id>") is unique, so nothing is settled twice, and it is cleared
when the statement is voided (the line stays for history, the source is free again).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from huibao.finance.settlement_states import (
    OPEN_STATUSES,
    LineKind,
    PartyKind,
    SettlementMode,
    StatementStatus,
)


def _money(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)  # type: ignore[arg-type]


class SettlementStatement(models.Model):
    number = models.CharField(_("结算单号"), max_length=40, unique=True)
    party_kind = models.CharField(max_length=16, choices=PartyKind.choices)
    insurer = models.ForeignKey(
        "catalog.Insurer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sales_unit = models.ForeignKey(
        "distribution.SalesUnit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    agreement = models.ForeignKey(
        "distribution.InsurerAgreement", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The party's name when generated (what the exports print).
    party_name = models.CharField(max_length=64)
    period_kind = models.CharField(max_length=16)
    period_key = models.CharField(max_length=8)  # "2026-11" | "2026-Q4"
    period_start = models.DateField()
    period_end = models.DateField()
    due_on = models.DateField(db_index=True)
    mode = models.CharField(max_length=16, choices=SettlementMode.choices)
    status = models.CharField(max_length=16, choices=StatementStatus.choices, default=StatementStatus.DRAFT)
    premium_total = _money(default=0)
    commission_total = _money(default=0)
    tax_withheld = _money(default=0)
    net_amount = _money(default=0)  # + the agency pays the party, − the party pays the agency
    payable = _money(default=0)
    receivable = _money(default=0)
    approval_amount = _money(default=0)
    approvals_needed = models.PositiveSmallIntegerField(default=1)
    line_count = models.PositiveIntegerField(default=0)
    # How the tax was computed (rules.Withholding.as_dict), outbound to agents only.
    tax_detail = models.JSONField(default=dict, blank=True)
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    first_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    first_approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    paid_on = models.DateField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    bank_reference = models.CharField(max_length=64, blank=True, default="")
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    void_reason = models.CharField(max_length=200, blank=True, default="")
    overdue_flagged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-period_start", "party_kind", "party_name", "id"]
        verbose_name = _("结算单")
        verbose_name_plural = _("结算单")
        permissions = [
            ("approve_settlementstatement", "Can approve settlement statements"),
            ("pay_settlementstatement", "Can mark settlement statements paid"),
        ]
        indexes = [
            models.Index(fields=["status", "due_on"], name="settlement_status_due"),
            models.Index(fields=["insurer", "period_start"], name="settlement_insurer_period"),
            models.Index(fields=["sales_unit", "period_start"], name="settlement_unit_period"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=StatementStatus.values), name="settlement_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(party_kind=PartyKind.INSURER, insurer__isnull=False, sales_unit__isnull=True)
                | Q(party_kind=PartyKind.SALES_UNIT, sales_unit__isnull=False, insurer__isnull=True),
                name="settlement_one_party",
            ),
            # One live statement per party and period: a voided one makes room for the next.
            models.UniqueConstraint(
                fields=["insurer", "period_key"],
                condition=Q(status__in=OPEN_STATUSES) | Q(status=StatementStatus.PAID),
                name="settlement_insurer_period_once",
            ),
            models.UniqueConstraint(
                fields=["sales_unit", "period_key"],
                condition=Q(status__in=OPEN_STATUSES) | Q(status=StatementStatus.PAID),
                name="settlement_unit_period_once",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class SettlementLine(models.Model):
    statement = models.ForeignKey(SettlementStatement, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=16, choices=LineKind.choices)
    # "journal:<JournalLine id>" | "commission:<CommissionEntry id>"; null once released (void).
    source_key = models.CharField(max_length=40, null=True, blank=True, unique=True)
    journal_line = models.ForeignKey(
        "finance.JournalLine", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    commission_entry = models.ForeignKey(
        "finance.CommissionEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    policy = models.ForeignKey(
        "policy.Policy", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    occurred_on = models.DateField()
    event = models.CharField(max_length=24, blank=True, default="")
    amount = _money()  # signed: a refund or a clawback is negative

    class Meta:
        ordering = ["statement_id", "kind", "occurred_on", "id"]
        indexes = [models.Index(fields=["statement", "kind"], name="settlement_line_kind")]

    def __str__(self) -> str:
        return f"{self.statement_id} {self.kind} {self.amount}"


class StatementStatusChange(models.Model):
    statement = models.ForeignKey(SettlementStatement, on_delete=models.CASCADE, related_name="changes")
    from_status = models.CharField(max_length=16, blank=True, default="")
    to_status = models.CharField(max_length=16)
    note = models.CharField(max_length=200, blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"
