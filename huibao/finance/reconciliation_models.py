"""Reconciliation (对账) records: a party's saved column mapping, one reconciliation per party ×
month (the statement imported, its staged lines, the matched items and their resolutions).

A party is an insurer (its statement of premium and commission) or a channel (a sales unit's
statement of the commission it claims). Closed is final: a closed month is never reopened; a
correction found later is an adjustment in the next open month (docs/reconciliation.md).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


def _money(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)  # type: ignore[arg-type]


class PartyKind(models.TextChoices):
    INSURER = "insurer", _("保险公司")
    CHANNEL = "channel", _("渠道")


class StatementEncoding(models.TextChoices):
    AUTO = "auto", _("自动识别")
    UTF8 = "utf-8", "UTF-8"
    GBK = "gb18030", "GBK/GB18030"


_PARTY_CHECK = Q(party_kind="insurer", insurer__isnull=False, sales_unit__isnull=True) | Q(
    party_kind="channel", sales_unit__isnull=False
)


class StatementMapping(models.Model):
    """How one party's statement files are laid out; saved on each import and offered next time."""

    party_kind = models.CharField(max_length=16, choices=PartyKind.choices)
    insurer = models.ForeignKey(
        "catalog.Insurer", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    sales_unit = models.ForeignKey(
        "distribution.SalesUnit", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # field → the header text of its column: {"policy_number": "保单号", "premium": "保费", …}
    columns = models.JSONField(default=dict)
    header_row = models.PositiveSmallIntegerField(default=1)  # 1-based, as a spreadsheet shows it
    encoding = models.CharField(
        max_length=16, choices=StatementEncoding.choices, default=StatementEncoding.AUTO
    )
    date_format = models.CharField(max_length=24, blank=True, default="")  # "" = the usual formats
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("对账单列映射")
        verbose_name_plural = _("对账单列映射")
        constraints = [
            models.CheckConstraint(condition=_PARTY_CHECK, name="statement_mapping_party"),
            models.UniqueConstraint(
                fields=["insurer"], condition=Q(party_kind="insurer"), name="statement_mapping_insurer_once"
            ),
            models.UniqueConstraint(
                fields=["sales_unit"], condition=Q(party_kind="channel"), name="statement_mapping_unit_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.party_kind}:{self.insurer_id or self.sales_unit_id}"


class ReconciliationStatus(models.TextChoices):
    OPEN = "open", _("进行中")
    CLOSED = "closed", _("已结账")


RECONCILIATION_TRANSITIONS: dict[str, frozenset[str]] = {
    ReconciliationStatus.OPEN: frozenset({ReconciliationStatus.CLOSED}),
    ReconciliationStatus.CLOSED: frozenset(),
}


class Reconciliation(models.Model):
    """One party's month: its statement, staged in `StatementLine`, matched into
    `ReconciliationItem`s. Closed only when no item is open."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    party_kind = models.CharField(max_length=16, choices=PartyKind.choices)
    insurer = models.ForeignKey(
        "catalog.Insurer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sales_unit = models.ForeignKey(
        "distribution.SalesUnit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(
        max_length=16, choices=ReconciliationStatus.choices, default=ReconciliationStatus.OPEN
    )
    tolerance = _money(default=0)
    file_name = models.CharField(max_length=200, blank=True, default="")
    file_sha256 = models.CharField(max_length=64, blank=True, default="")
    lines = models.PositiveIntegerField(default=0)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    imported_at = models.DateTimeField(auto_now_add=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_start", "id"]
        verbose_name = _("对账")
        verbose_name_plural = _("对账")
        constraints = [
            models.CheckConstraint(condition=_PARTY_CHECK, name="reconciliation_party"),
            models.CheckConstraint(
                condition=Q(status__in=list(ReconciliationStatus.values)), name="reconciliation_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="reconciliation_period"
            ),
            models.UniqueConstraint(
                fields=["insurer", "period_start"],
                condition=Q(party_kind="insurer"),
                name="reconciliation_insurer_month_once",
            ),
            models.UniqueConstraint(
                fields=["sales_unit", "period_start"],
                condition=Q(party_kind="channel"),
                name="reconciliation_unit_month_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.party_kind}:{self.insurer_id or self.sales_unit_id}:{self.period_start:%Y-%m}"

    @property
    def month(self) -> str:
        return f"{self.period_start:%Y-%m}"


class StatementLine(models.Model):
    """A line of the party's statement as imported (the staging table the matching joins)."""

    # No database constraint on the staging table's and the items' references: a month of a
    # million lines would queue a million deferred key checks for the commit (seconds of it);
    # only the import and the matching's one INSERT … SELECT (whose ids come from the joins)
    # write these rows, and Django's own on_delete still cascades and protects.
    reconciliation = models.ForeignKey(
        Reconciliation, on_delete=models.CASCADE, related_name="statement_lines", db_constraint=False
    )
    line_no = models.PositiveIntegerField()
    policy_number = models.CharField(max_length=40)
    premium = _money(default=0)
    commission = _money(default=0)
    occurred_on = models.DateField()
    event = models.CharField(max_length=24, blank=True, default="")

    class Meta:
        ordering = ["line_no"]
        indexes = [models.Index(fields=["reconciliation", "policy_number"], name="statement_line_policy")]

    def __str__(self) -> str:
        return f"{self.reconciliation_id}:{self.line_no}"


class ItemStatus(models.TextChoices):
    MATCHED = "matched", _("一致")
    OPEN = "open", _("待处理")
    ADJUSTED = "adjusted", _("已调账")
    DISPUTED = "disputed", _("已提出异议")
    ACCEPTED_THEIRS = "accepted_theirs", _("以对方为准")
    OURS_RIGHT = "ours_right", _("以我方为准")


# A dispute is a resolution for this month (the insurer's answer comes in a later statement), and
# can still be turned into an adjustment or an acceptance while the month is open.
ITEM_TRANSITIONS: dict[str, frozenset[str]] = {
    ItemStatus.MATCHED: frozenset(),
    ItemStatus.OPEN: frozenset(
        {ItemStatus.ADJUSTED, ItemStatus.DISPUTED, ItemStatus.ACCEPTED_THEIRS, ItemStatus.OURS_RIGHT}
    ),
    ItemStatus.DISPUTED: frozenset({ItemStatus.ADJUSTED, ItemStatus.ACCEPTED_THEIRS, ItemStatus.OURS_RIGHT}),
    ItemStatus.ADJUSTED: frozenset(),
    ItemStatus.ACCEPTED_THEIRS: frozenset(),
    ItemStatus.OURS_RIGHT: frozenset(),
}


class ItemCategory(models.TextChoices):
    MATCHED = "matched", _("一致")
    AMOUNT_DIFFERS = "amount_differs", _("金额不符")
    OURS_ONLY = "ours_only", _("仅我方有")
    THEIRS_ONLY = "theirs_only", _("仅对方有")


class ReconciliationItem(models.Model):
    """One policy of the month: our amounts, theirs (None: that side has no line), the category,
    and — for a difference — how it was resolved, by whom and when."""

    # No database constraints here either (see `StatementLine.reconciliation`).
    reconciliation = models.ForeignKey(
        Reconciliation, on_delete=models.CASCADE, related_name="items", db_constraint=False
    )
    policy_number = models.CharField(max_length=40)
    policy = models.ForeignKey(
        "policy.Policy",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    category = models.CharField(max_length=16, choices=ItemCategory.choices)
    our_premium = _money(null=True, blank=True)
    their_premium = _money(null=True, blank=True)
    our_commission = _money(null=True, blank=True)
    their_commission = _money(null=True, blank=True)
    first_line = models.PositiveIntegerField(null=True, blank=True)  # its first line in the file
    status = models.CharField(max_length=16, choices=ItemStatus.choices)
    reason = models.CharField(max_length=200, blank=True, default="")
    journal_key = models.CharField(max_length=128, blank=True, default="")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["policy_number"]
        indexes = [models.Index(fields=["reconciliation", "category", "status"], name="recon_item_category")]
        constraints = [
            models.UniqueConstraint(
                fields=["reconciliation", "policy_number"], name="recon_item_policy_once"
            ),
            models.CheckConstraint(
                condition=Q(status__in=list(ItemStatus.values)), name="recon_item_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(category="matched", status="matched")
                | (~Q(category="matched") & ~Q(status="matched")),
                name="recon_item_matched_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reconciliation_id}:{self.policy_number}"
