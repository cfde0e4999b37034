"""Issued policies, their numbers per insurer, deliveries to insurers and customers' ratings.

A `Policy` is created exactly once per `ApplicationItem`, inside the transaction that confirms the
payment (the one-to-one on `item` makes a second issuance impossible). Its personal data is the
policy's own, encrypted at rest: the parties (`PolicyParty`: holder and insured) and the named
beneficiaries (`PolicyBeneficiary`), which servicing changes, and the frozen schedule of what was
signed. The application is referred to (its id, number and public id), never read. The e-policy
PDF is rendered and signed by a background task (`epolicy` stays empty until then) and is
recovered by `recover_issuance`.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from huibao.core.fields import EncryptedTextField
from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from huibao.policy.states import BeneficiaryMode, DeliveryStatus, PartyRole, PolicyStatus, Relation

__all__ = [
    "DeliveryStatus",
    "InsurerAckReceipt",
    "InsurerDelivery",
    "NpsResponse",
    "Policy",
    "PolicyBeneficiary",
    "PolicyNumberSequence",
    "PolicyParty",
    "PolicyStatus",
    "PolicyStatusChange",
]


def _money(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


def new_verification_code() -> str:
    return secrets.token_urlsafe(12)


class Policy(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(max_length=40, unique=True)
    insurer = models.ForeignKey("catalog.Insurer", on_delete=models.PROTECT, related_name="policies")
    # The application and item it was issued from; none for a renewal (issued from the policy it
    # renews, `renewed_from`: one renewal per policy, the one-to-one guards a second).
    application = models.ForeignKey(
        "application.Application", on_delete=models.PROTECT, null=True, blank=True, related_name="policies"
    )
    item = models.OneToOneField(
        "application.ApplicationItem", on_delete=models.PROTECT, null=True, blank=True, related_name="policy"
    )
    renewed_from = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="renewal"
    )
    product_version = models.ForeignKey("catalog.ProductVersion", on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey("catalog.Plan", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="policies"
    )
    channel = models.CharField(max_length=16)
    status = models.CharField(max_length=24, choices=PolicyStatus.choices, default=PolicyStatus.PENDING_START)
    holder_name = models.CharField(max_length=30)
    holder_id_hash = models.CharField(max_length=64, db_index=True)
    insured_name = models.CharField(max_length=30)
    insured_id_hash = models.CharField(max_length=64, db_index=True)
    # The application it was issued from, as a reference: what pages and the NPS need of it.
    application_number = models.CharField(_("投保单号"), max_length=32, blank=True, default="")
    application_public_id = models.UUIDField(null=True, blank=True, db_index=True)
    beneficiary_mode = models.CharField(
        max_length=8, choices=BeneficiaryMode.choices, default=BeneficiaryMode.LEGAL
    )
    # Frozen copy of the parties, coverages and terms as signed: JSON text, encrypted.
    schedule = EncryptedTextField(context="policy.schedule")
    premium = _money()
    sum_insured = _money(null=True, blank=True)
    # Death benefit of this policy, for aggregate limits per insured person (e.g. minors).
    death_benefit = _money(default=0)
    effective_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)  # null: whole of life
    issued_at = models.DateTimeField()
    cooling_off_until = models.DateField(null=True, blank=True)
    verification_code = models.CharField(max_length=32, unique=True, default=new_verification_code)
    epolicy = models.ForeignKey(
        "esign.SignedDocument", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # SHA-256 of the e-policy bytes (copied from `epolicy`), indexed: an uploaded PDF is matched
    # to what was issued without reading every signed document.
    epolicy_sha256 = models.CharField(max_length=64, blank=True, default="", db_index=True)
    retention_until = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = _("保单")
        verbose_name_plural = _("保单")
        indexes = [
            models.Index(fields=["insured_id_hash", "status"]),
            # Daily work by expiry date (renewal offers, expiries) reads a day's policies.
            models.Index(fields=["expires_at"], name="policy_expires_at"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=PolicyStatus.values), name="policy_status_valid"),
            models.CheckConstraint(condition=Q(premium__gte=0), name="policy_premium_not_negative"),
        ]

    def __str__(self) -> str:
        return self.number


class PolicyStatusChange(models.Model):
    """One move of a policy's status (`lifecycle.transition`), in the order they took effect:
    the history page and `lifecycle.policy_state_at` read these rows. The first one of a policy
    is its issuance (`from_status` empty, reason "issued")."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=24, blank=True, default="")
    to_status = models.CharField(max_length=24, choices=PolicyStatus.choices)
    # A short code: issued, start, expiry, instalment_overdue, overdue_paid, grace_over,
    # reinstated, cooling_off_cancellation, surrender, termination…
    reason = models.CharField(max_length=40)
    note = models.CharField(max_length=200, blank=True, default="")
    at = models.DateTimeField()  # when it took effect
    actor = models.CharField(max_length=64, blank=True, default="")  # who made it (a label)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("保单状态变更")
        verbose_name_plural = _("保单状态变更")
        indexes = [models.Index(fields=["policy", "at"], name="policy_status_change_at")]
        constraints = [
            models.CheckConstraint(
                condition=Q(to_status__in=PolicyStatus.values), name="policy_status_change_to_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} {self.from_status or '-'} → {self.to_status} ({self.reason})"


class PolicyParty(models.Model):
    """The holder (投保人) or the insured (被保险人) of a policy, as issued; servicing changes them
    through endorsements. Encrypted as the application encrypts them; look-ups by `id_hash`."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="parties")
    role = models.CharField(max_length=8, choices=PartyRole.choices)
    name = models.CharField(max_length=30)
    id_number = EncryptedTextField(context="policy.party_id_number", blank=True)
    id_hash = models.CharField(max_length=64, blank=True, db_index=True)
    birth_date = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=1, blank=True)
    relation = models.CharField(max_length=8, choices=Relation.choices, default=Relation.SELF)
    phone = EncryptedTextField(context="policy.party_phone", blank=True)
    email = EncryptedTextField(context="policy.party_email", blank=True)
    occupation = models.CharField(max_length=40, blank=True)
    occupation_class = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["policy_id", "role"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "role"], name="policy_party_unique_role"),
            models.CheckConstraint(condition=Q(role__in=PartyRole.values), name="policy_party_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} {self.role}"


class PolicyBeneficiary(models.Model):
    """A named beneficiary (指定受益人) of a policy's death benefit; shares of one order (顺位) add
    up to 100%. None in the legal mode (法定继承人)."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="beneficiaries")
    name = models.CharField(max_length=30)
    id_number = EncryptedTextField(context="policy.beneficiary_id_number")
    id_hash = models.CharField(max_length=64)
    relation = models.CharField(max_length=8, choices=Relation.choices)
    order = models.PositiveSmallIntegerField(default=1)
    share_percent = models.DecimalField(max_digits=5, decimal_places=2)

    class Meta:
        ordering = ["policy_id", "order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(share_percent__gt=0) & Q(share_percent__lte=100),
                name="policy_beneficiary_share_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} beneficiary {self.order}/{self.share_percent}%"


class PolicyNumberSequence(models.Model):
    """The last policy number given per insurer and year; locked while a number is taken.

    `prefix` is the insurer's part of the number (`rules.number_prefix_candidates`), chosen when
    the row is created and unique per year, so two insurers whose codes begin alike
    (pingan-life, pingan-health) never produce the same number.
    """

    insurer = models.ForeignKey("catalog.Insurer", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    prefix = models.CharField(max_length=6, default="")
    last = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["insurer", "year"], name="policy_sequence_unique"),
            models.UniqueConstraint(fields=["prefix", "year"], name="policy_sequence_prefix_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.insurer_id}/{self.year}: {self.last}"


class InsurerDelivery(models.Model):
    """The durable queue of issued policies to tell their insurer about (承保信息回传)."""

    policy = models.OneToOneField(Policy, on_delete=models.PROTECT, related_name="delivery")
    # The insurer connector that carries it (`connector.get_connector`), fixed at creation.
    connector = models.CharField(max_length=32, default="sandbox")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    insurer_ref = models.CharField(max_length=64, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("承保信息回传")
        verbose_name_plural = _("承保信息回传")
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="delivery_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} {self.status}"


class NpsResponse(models.Model):
    """The customer's rating of the experience after issuance (0–10, with a comment), one per
    application (a reference: the one its policies were issued from)."""

    application = models.OneToOneField(
        "application.Application", on_delete=models.PROTECT, related_name="nps"
    )
    application_number = models.CharField(_("投保单号"), max_length=32, blank=True, default="")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=16)
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True, max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("NPS评价")
        verbose_name_plural = _("NPS评价")
        constraints = [models.CheckConstraint(condition=Q(score__lte=10), name="nps_score_range")]

    def __str__(self) -> str:
        return f"NPS {self.score}"


class InsurerAckReceipt(models.Model):
    """Each acknowledgement received from an insurer connector: idempotency, replay rejection and
    evidence. Only verified ones hold their notify id uniquely, so a forged message reusing a real
    id is kept for forensics without blocking the genuine one."""

    connector = models.CharField(max_length=32)
    notify_id = models.CharField(max_length=64)
    raw_body = models.TextField()
    signature_ok = models.BooleanField()
    delivery = models.ForeignKey(
        InsurerDelivery, on_delete=models.PROTECT, null=True, blank=True, related_name="acks"
    )
    outcome = models.CharField(max_length=40, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "notify_id"],
                condition=Q(signature_ok=True),
                name="insurer_ack_verified_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.connector}:{self.notify_id} {self.outcome}"
