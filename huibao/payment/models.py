"""Payment persistence: payments, their history, refunds, received notifications."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.db import models

from huibao.core.fields import EncryptedTextField
from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from huibao.payment.states import PaymentStatus, PayoutAttemptStatus, PayoutStatus, RefundStatus


def _money(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


class Payment(models.Model):
    """One attempt to collect an amount (CNY) for something identified by (reference_kind, reference_id)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    merchant_ref = models.CharField(max_length=40, unique=True)
    reference_kind = models.CharField(max_length=40)
    reference_id = models.CharField(max_length=64)
    amount = _money()
    refunded_amount = _money(default=Decimal("0.00"))
    payer_name = models.CharField(max_length=100)
    payer_id_number = EncryptedTextField(context="payment.payer_id_number")
    payer_id_number_hash = models.CharField(max_length=64, db_index=True)
    # Who actually paid, as the provider's success notification names them: the applicant, or
    # someone else (then the payment is refused and refunded). Shown masked.
    paid_by_name = models.CharField(max_length=100, blank=True)
    paid_by_id_number = EncryptedTextField(context="payment.paid_by_id_number", blank=True)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.CREATED)
    failure_reason = models.CharField(max_length=64, blank=True)
    provider = models.CharField(max_length=20)
    provider_txn_id = models.CharField(max_length=64, blank=True)
    checkout_url = models.CharField(max_length=300, blank=True)
    # Where the provider's page sends the payer back to (the merchant's own result page), as
    # real gateways take a return_url with the order; empty: the provider's page ends there.
    return_url = models.CharField(max_length=300, blank=True)
    expires_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["reference_kind", "reference_id"]),
            models.Index(fields=["status", "expires_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=PaymentStatus.values), name="payment_status_valid"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(refunded_amount__gte=0, refunded_amount__lte=models.F("amount")),
                name="payment_refund_within_amount",
            ),
            models.CheckConstraint(
                condition=~models.Q(status__in=["succeeded", "refunded", "partially_refunded"])
                | models.Q(paid_at__isnull=False),
                name="payment_paid_has_paid_at",
            ),
            models.UniqueConstraint(
                fields=["provider", "provider_txn_id"],
                condition=~models.Q(provider_txn_id=""),
                name="payment_provider_txn_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_ref} {self.status}"


class PaymentEvent(models.Model):
    """Append-only history of a payment: status changes, notifications, refunds."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=40)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}->{self.to_status}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("PaymentEvent rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("PaymentEvent rows are append-only")


class Refund(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = _money()
    reason = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=RefundStatus.choices)
    provider_refund_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(status__in=RefundStatus.values), name="refund_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"refund {self.amount} of payment {self.payment_id}"


class ProviderNotification(models.Model):
    """Each notification received from a provider, for idempotency, replay rejection and evidence.

    Only verified notifications hold their notify_id uniquely: a forged one reusing a real id is
    kept for forensics but cannot block the genuine notification.
    """

    provider = models.CharField(max_length=20)
    notify_id = models.CharField(max_length=64)
    raw_body = EncryptedTextField(context="payment.notification_body")
    signature_ok = models.BooleanField()
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    outcome = models.CharField(max_length=40, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "notify_id"],
                condition=models.Q(signature_ok=True),
                name="notification_verified_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.notify_id}"


# --- payouts -----------------------------------------------------------------------------------


class Payout(models.Model):
    """Money paid out to a customer's bank account, owed by something identified by
    (kind, reference): a claim payment, an event-triggered benefit… One per (kind, reference):
    the unique constraint is what makes `payouts.request_payout` idempotent across processes."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=40)
    reference = models.CharField(max_length=64)
    amount = _money()
    payee_name = models.CharField(max_length=100)
    account_number = EncryptedTextField(context="payment.payout_account_number")
    account_number_hash = models.CharField(max_length=64, db_index=True)
    account_last4 = models.CharField(max_length=4)
    bank_name = models.CharField(max_length=60, blank=True)
    memo = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=PayoutStatus.choices, default=PayoutStatus.REQUESTED)
    provider = models.CharField(max_length=20)
    # The current attempt's numbers: the merchant's (`out_biz_no`) and the provider's.
    out_biz_no = models.CharField(max_length=40, blank=True)
    provider_trade_no = models.CharField(max_length=64, blank=True)
    failure_code = models.CharField(max_length=40, blank=True)
    failure_reason = models.CharField(max_length=200, blank=True)
    retryable = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField()
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    given_up_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["status", "submitted_at"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["kind", "reference"], name="payout_kind_reference_unique"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(status__in=PayoutStatus.values), name="payout_status_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="succeeded") | models.Q(succeeded_at__isnull=False),
                name="payout_succeeded_has_time",
            ),
            models.CheckConstraint(
                condition=models.Q(attempts__lte=models.F("max_attempts")), name="payout_attempts_within_max"
            ),
        ]

    def __str__(self) -> str:
        return f"payout {self.kind}:{self.reference} {self.status}"


class PayoutAttempt(models.Model):
    """One submission of a payout to its provider (append-mostly: its outcome is filled in once).
    A notification names the attempt by its `out_biz_no`, so one for an earlier attempt arriving
    late is recognised and changes nothing of the current one."""

    payout = models.ForeignKey(Payout, on_delete=models.PROTECT, related_name="attempt_rows")
    number = models.PositiveSmallIntegerField()
    out_biz_no = models.CharField(max_length=40, unique=True)
    provider_trade_no = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, choices=PayoutAttemptStatus.choices)
    failure_code = models.CharField(max_length=40, blank=True)
    failure_reason = models.CharField(max_length=200, blank=True)
    # Who asked for it: "system" (the first submission and the automatic retries) or a staff member.
    requested_by = models.CharField(max_length=150, default="system")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["payout_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["payout", "number"], name="payout_attempt_number_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=PayoutAttemptStatus.values), name="payout_attempt_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.out_biz_no} {self.status}"


class PayoutNotification(models.Model):
    """Each payout result notification received, for idempotency and evidence (verified ones hold
    their notify id uniquely, as `ProviderNotification` does for payments)."""

    provider = models.CharField(max_length=20)
    notify_id = models.CharField(max_length=64)
    raw_body = EncryptedTextField(context="payment.payout_notification_body")
    signature_ok = models.BooleanField()
    payout = models.ForeignKey(Payout, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    outcome = models.CharField(max_length=40, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "notify_id"],
                condition=models.Q(signature_ok=True),
                name="payout_notification_verified_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.notify_id}"
