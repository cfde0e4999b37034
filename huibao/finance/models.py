"""Finance records: a double-entry ledger and the commission entries it is fed from.

Ledger: an account per kind and party (`accounts.py` names them: premium payable to insurer X,
commission receivable from insurer X, commission payable to sales unit Y, cash, …); a
`JournalTransaction` is a set of `JournalLine`s whose debits equal their credits. Nothing is ever
changed or deleted: a mistake is undone by a reversing transaction (`ledger.reverse`). Each
transaction carries the idempotency key of what caused it ("premium:payment:123"), so an event
delivered twice posts once.

Commission entries: one row per policy event and party (inbound from the insurer, outbound to a
channel or agent), with the rule that computed it (`explanation`).
"""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, RATE_MAX_DIGITS, RATE_PLACES


def _money(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)  # type: ignore[arg-type]


class AccountKind(models.TextChoices):
    ASSET = "asset", _("资产")
    LIABILITY = "liability", _("负债")
    INCOME = "income", _("收入")
    EXPENSE = "expense", _("费用")
    EQUITY = "equity", _("权益")


class LedgerAccount(models.Model):
    """`code` is the account's stable name ("premium_payable:insurer:picc"); `party_kind` and
    `party_id` repeat the party it is kept for, so statements and ageing query by party."""

    code = models.CharField(max_length=96, unique=True)
    name = models.CharField(max_length=128)
    kind = models.CharField(max_length=16, choices=AccountKind.choices)
    party_kind = models.CharField(max_length=16, blank=True, default="")  # "insurer" | "sales_unit" | ""
    party_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("会计科目")
        verbose_name_plural = _("会计科目")
        indexes = [models.Index(fields=["party_kind", "party_id"], name="ledger_account_party")]

    def __str__(self) -> str:
        return self.code


class ImmutableEntry(Exception):
    """A journal row was to be changed or deleted: entries are only ever added (a mistake is
    undone by a reversing transaction)."""


class _AppendOnlyQuerySet(models.QuerySet[Any]):
    """Refuses bulk changes: `update()` and `delete()` raise. Rows are added with `create` or
    `bulk_create`, and never touched again."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise ImmutableEntry(f"{self.model.__name__} rows are never updated; post a reversal")

    def delete(self) -> NoReturn:
        raise ImmutableEntry(f"{self.model.__name__} rows are never deleted; post a reversal")

    def _raw_delete(self, using: Any) -> NoReturn:
        raise ImmutableEntry(f"{self.model.__name__} rows are never deleted; post a reversal")


class _AppendOnly(models.Model):
    """Model-level immutability: a saved row is not saved again nor deleted (on PostgreSQL the
    trigger of migration 0002 holds the same below the ORM)."""

    objects = _AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableEntry(f"{type(self).__name__} {self.pk} is never changed; post a reversal")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ImmutableEntry(f"{type(self).__name__} {self.pk} is never deleted; post a reversal")


class JournalTransaction(_AppendOnly):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # What caused it, unique: the same event posted twice is one transaction.
    key = models.CharField(max_length=128, unique=True)
    posted_on = models.DateField(db_index=True)  # the accounting date (Asia/Shanghai)
    description = models.CharField(max_length=255)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["posted_on", "id"]
        verbose_name = _("记账凭证")
        verbose_name_plural = _("记账凭证")

    def __str__(self) -> str:
        return self.key


class JournalLine(_AppendOnly):
    transaction = models.ForeignKey(JournalTransaction, on_delete=models.PROTECT, related_name="lines")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="lines")
    debit = _money(default=0)
    credit = _money(default=0)
    # Denormalised for statements and ageing: the accounting date and the policy the line is for.
    posted_on = models.DateField()
    policy = models.ForeignKey(
        "policy.Policy", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    memo = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["account", "posted_on"], name="journal_line_account_date"),
            models.Index(fields=["policy"], name="journal_line_policy"),
        ]
        constraints = [
            # Exactly one side, never negative.
            models.CheckConstraint(
                condition=(Q(debit__gt=0) & Q(credit=0)) | (Q(credit__gt=0) & Q(debit=0)),
                name="journal_line_one_side",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} D{self.debit} C{self.credit}"


class CommissionDirection(models.TextChoices):
    INBOUND = "inbound", _("应收手续费")  # the insurer pays the agency
    OUTBOUND = "outbound", _("应付佣金")  # the agency pays a channel or an agent


class CommissionEvent(models.TextChoices):
    ISSUED = "issued", _("承保")
    RENEWAL_PREMIUM = "renewal_premium", _("续期保费")
    ENDORSEMENT = "endorsement", _("批改")
    CANCELLATION = "cancellation", _("退保追回")
    BONUS = "bonus", _("达标奖励")
    ADJUSTMENT = "adjustment", _("调整")


class CommissionEntry(models.Model):
    """One commission amount for one policy event and one party. `amount` is signed: a clawback
    is negative. `explanation` is what the rule computed it from (policy version, rate or fixed
    amount, tier, base, rounding), shown to finance and to the party."""

    key = models.CharField(max_length=128, unique=True)  # idempotency: event × party
    direction = models.CharField(max_length=16, choices=CommissionDirection.choices)
    event = models.CharField(max_length=24, choices=CommissionEvent.choices)
    policy = models.ForeignKey(
        "policy.Policy", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    insurer = models.ForeignKey("catalog.Insurer", on_delete=models.PROTECT, related_name="+")
    # The channel or agent paid (outbound only).
    sales_unit = models.ForeignKey(
        "distribution.SalesUnit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    policy_year = models.PositiveSmallIntegerField(default=1)
    # Net premium (without VAT) the rate applies to; zero for a fixed amount.
    base = _money(default=0)
    rate = models.DecimalField(max_digits=RATE_MAX_DIGITS, decimal_places=RATE_PLACES, null=True, blank=True)
    amount = _money()
    explanation = models.JSONField(default=dict)
    occurred_on = models.DateField(db_index=True)
    # Set by settlement: the statement it was settled in, and when that statement was paid.
    settlement_ref = models.CharField(max_length=40, blank=True, default="", db_index=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_on", "id"]
        verbose_name = _("佣金/手续费记录")
        verbose_name_plural = _("佣金/手续费记录")
        indexes = [
            models.Index(fields=["insurer", "direction", "occurred_on"], name="commission_insurer_date"),
            models.Index(fields=["sales_unit", "occurred_on"], name="commission_unit_date"),
            models.Index(fields=["policy"], name="commission_policy"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(direction="inbound", sales_unit__isnull=True)
                | Q(direction="outbound", sales_unit__isnull=False),
                name="commission_party_matches_direction",
            ),
        ]

    def __str__(self) -> str:
        return self.key


class IssuanceBooking(models.Model):
    """The premium and commission of an issued policy are booked (`finance/booking.py`): written
    by the booking job in the transaction of its postings and entries, one per policy. Its
    absence is what the sweep looks for (the job lost, or its worker killed), and what a
    cancellation or a refund waits for: those book against the issuance's entries."""

    policy = models.OneToOneField("policy.Policy", on_delete=models.PROTECT, related_name="+")
    booked_at = models.DateTimeField()

    class Meta:
        verbose_name = _("承保入账")
        verbose_name_plural = _("承保入账")

    def __str__(self) -> str:
        return f"booking of policy {self.policy_id}"


# Settlement statements (issue 12, settlement area): their own module, registered here.
# Reconciliation (对账) area: its models live in their own module.
# Commission plans (commission area): their own module, imported here so Django finds the models.
from huibao.finance.commission_models import *  # noqa: E402,F403
from huibao.finance.reconciliation_models import (  # noqa: E402, F401
    Reconciliation,
    ReconciliationItem,
    StatementLine,
    StatementMapping,
)
from huibao.finance.settlement_models import (  # noqa: E402, F401
    SettlementLine,
    SettlementStatement,
    StatementStatusChange,
)
