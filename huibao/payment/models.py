"""Payment persistence: payments, their history, refunds, received notifications."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.db import models

from huibao.core.fields import EncryptedTextField
from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from huibao.payment.states import PaymentStatus, RefundStatus


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
