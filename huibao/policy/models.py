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

from huibao.catalog.servicing import EndorsementKind
from huibao.core.fields import EncryptedTextField
from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS
from huibao.policy.states import (
    OPEN_ENDORSEMENT_STATUSES,
    BeneficiaryMode,
    CancellationKind,
    CancellationReason,
    CancellationStatus,
    DeliveryKind,
    DeliveryStatus,
    EndorsementStatus,
    PartyRole,
    PolicyStatus,
    ReferralStatus,
    RefundPartStatus,
    Relation,
)

__all__ = [
    "Cancellation",
    "CancellationRefund",
    "DeliveryStatus",
    "Endorsement",
    "EndorsementStatus",
    "InsurerAckReceipt",
    "InsurerDelivery",
    "NpsResponse",
    "Policy",
    "PolicyBeneficiary",
    "PolicyNumberSequence",
    "PolicyParty",
    "PolicyStatus",
    "PolicyStatusChange",
    "PolicyVersion",
    "ReinstatementReferral",
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
    # The rating quote the premium was priced by: endorsements re-rate from it.
    quote = models.ForeignKey(
        "rating.Quote", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="policies"
    )
    channel = models.CharField(max_length=16)
    # Who sold it (an agent, a channel or sub-channel): copied from the application at issuance
    # (a renewal keeps its predecessor's); commissions are paid up this unit's hierarchy.
    seller = models.ForeignKey(
        "distribution.SalesUnit", on_delete=models.PROTECT, null=True, blank=True, related_name="policies"
    )
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
            # The daily status sweep's candidates: pending policies whose start has come, and
            # open ones whose end has (a few thousand a day among millions).
            models.Index(fields=["status", "effective_at"], name="policy_status_effective"),
            models.Index(fields=["status", "expires_at"], name="policy_status_expires"),
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
    address = EncryptedTextField(context="policy.party_address", blank=True)
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
    """The durable queue of what to tell insurers: each issued policy once (承保信息回传, kind
    "policy"), each applied endorsement once (批改信息回传, kind "endorsement", with its
    endorsement) and each confirmed cancellation once (退保信息回传, kind "cancellation", with its
    cancellation). All are sent, retried and acknowledged the same way (`delivery.py`)."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="deliveries")
    kind = models.CharField(max_length=16, choices=DeliveryKind.choices, default=DeliveryKind.POLICY)
    endorsement = models.OneToOneField(
        "Endorsement", on_delete=models.PROTECT, null=True, blank=True, related_name="delivery"
    )
    cancellation = models.OneToOneField(
        "Cancellation", on_delete=models.PROTECT, null=True, blank=True, related_name="delivery"
    )
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
            # One policy delivery per policy; an endorsement delivery names its endorsement.
            models.UniqueConstraint(
                fields=["policy"], condition=Q(kind=DeliveryKind.POLICY), name="delivery_one_per_policy"
            ),
            # An endorsement's delivery names its endorsement, a cancellation's its cancellation.
            models.CheckConstraint(
                condition=Q(kind=DeliveryKind.POLICY, endorsement__isnull=True, cancellation__isnull=True)
                | Q(kind=DeliveryKind.ENDORSEMENT, endorsement__isnull=False, cancellation__isnull=True)
                | Q(kind=DeliveryKind.CANCELLATION, endorsement__isnull=True, cancellation__isnull=False),
                name="delivery_kind_matches_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} {self.kind} {self.status}"


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


class Endorsement(models.Model):
    """A change to an issued policy (批改), numbered per policy (`<policy number>-E01`, …) under
    the policy's row lock. At most one is open per policy (the partial unique constraint). The
    requested change and the values it replaces are JSON, encrypted (they hold ID numbers and
    phones); `version` is the policy data version it produced once applied."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(_("批单号"), max_length=48, unique=True)
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="endorsements")
    sequence = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=24, choices=[(k.value, k.value) for k in EndorsementKind])
    status = models.CharField(
        max_length=24, choices=EndorsementStatus.choices, default=EndorsementStatus.REQUESTED
    )
    version = models.PositiveIntegerField(null=True, blank=True)
    changes = EncryptedTextField(context="policy.endorsement_changes")
    previous = EncryptedTextField(context="policy.endorsement_previous")
    needs_approval = models.BooleanField(default=False)
    old_premium = _money()
    new_premium = _money()
    premium_delta = _money(default=0)
    quote = models.ForeignKey(
        "rating.Quote", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    payment_ref = models.CharField(max_length=64, blank=True, default="")
    refund_ref = models.CharField(max_length=64, blank=True, default="")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField()
    confirm_by = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The holder's handwritten signature (PNG, base64) where the product confirms changes as it
    # signs applications (`same_as_application` with a handwritten signature).
    signature_png = EncryptedTextField(context="policy.endorsement_signature", blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=200, blank=True, default="")
    effective_at = models.DateTimeField(null=True, blank=True)
    document = models.ForeignKey(
        "esign.SignedDocument", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["policy_id", "sequence"]
        verbose_name = _("批改")
        verbose_name_plural = _("批改")
        permissions = [("approve_endorsement", "可审核批改")]
        indexes = [models.Index(fields=["status", "confirm_by"])]
        constraints = [
            models.UniqueConstraint(fields=["policy", "sequence"], name="endorsement_sequence_unique"),
            models.UniqueConstraint(
                fields=["policy", "version"],
                condition=Q(version__isnull=False),
                name="endorsement_version_unique",
            ),
            models.UniqueConstraint(
                fields=["policy"],
                condition=Q(status__in=sorted(OPEN_ENDORSEMENT_STATUSES)),
                name="endorsement_one_open_per_policy",
            ),
            models.CheckConstraint(
                condition=Q(status__in=EndorsementStatus.values), name="endorsement_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.number


class PolicyVersion(models.Model):
    """The policy's data from `valid_from` on: version 1 as issued (written when first needed),
    then one per applied endorsement. The snapshot (parties, beneficiaries, plan, sum insured,
    premium) is JSON, encrypted."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    valid_from = models.DateTimeField()
    endorsement = models.OneToOneField(
        Endorsement, on_delete=models.PROTECT, null=True, blank=True, related_name="produced"
    )
    snapshot = EncryptedTextField(context="policy.version_snapshot")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["policy_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="policy_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} v{self.number}"


class Cancellation(models.Model):
    """A cancellation request (退保): inside the cooling-off period or a surrender after it.

    The quote is kept from the request (`lines`, `amount`) and frozen at confirmation, when the
    policy is cancelled in the same transaction. At most one per policy that is not withdrawn (a
    partial unique constraint): a retried or concurrent request finds the one there is. The
    refund goes back to the paying account(s) in parts (`CancellationRefund`, one per payment);
    the insurer is told by an `InsurerDelivery` of kind "cancellation" (`delivery`), queued when
    it is confirmed."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="cancellations")
    kind = models.CharField(_("退保类型"), max_length=16, choices=CancellationKind.choices)
    status = models.CharField(
        _("状态"), max_length=24, choices=CancellationStatus.choices, default=CancellationStatus.QUOTED
    )
    method = models.CharField(max_length=16)  # cooling_off, pro_rata, short_rate, cash_value
    request_date = models.DateField()  # the date the quote is for (local)
    paid = _money()  # paid for the policy, as quoted
    amount = _money()  # the refund
    lines = models.JSONField(default=list)  # the explanation, frozen at confirmation
    reason = models.CharField(_("退保原因"), max_length=24, choices=CancellationReason.choices)
    reason_text = models.CharField(_("原因说明"), max_length=200, blank=True, default="")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    refunded = _money(default=0)
    refund_attempts = models.PositiveIntegerField(default=0)
    refund_error = models.CharField(max_length=200, blank=True, default="")
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("退保申请")
        verbose_name_plural = _("退保申请")
        constraints = [
            models.UniqueConstraint(
                fields=["policy"],
                condition=~Q(status=CancellationStatus.WITHDRAWN),
                name="policy_one_open_cancellation",
            ),
            models.CheckConstraint(
                condition=Q(status__in=CancellationStatus.values), name="cancellation_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=CancellationKind.values), name="cancellation_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0, paid__gte=0, refunded__gte=0)
                & Q(amount__lte=models.F("paid"), refunded__lte=models.F("amount")),
                name="cancellation_amounts_within_paid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} {self.kind} {self.status}"


class CancellationRefund(models.Model):
    """One part of a cancellation's refund: so much of one payment back to the account that paid
    it (the checkout, or an instalment's charge). One per payment and cancellation; a failed part
    is tried again, a succeeded one never."""

    cancellation = models.ForeignKey(Cancellation, on_delete=models.PROTECT, related_name="refunds")
    payment = models.ForeignKey("payment.Payment", on_delete=models.PROTECT, related_name="+")
    amount = _money()
    status = models.CharField(
        max_length=16, choices=RefundPartStatus.choices, default=RefundPartStatus.PENDING
    )
    refund = models.ForeignKey(
        "payment.Refund", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cancellation_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cancellation", "payment"], name="cancellation_refund_per_payment"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="cancellation_refund_positive"),
            models.CheckConstraint(
                condition=Q(status__in=RefundPartStatus.values), name="cancellation_refund_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cancellation_id}: {self.amount} of payment {self.payment_id} {self.status}"


class ReinstatementReferral(models.Model):
    """A reinstatement (复效) of a lapsed policy whose health answers need underwriting: a work
    item of the staff servicing queue, decided once (approve, or decline with a reason). It is
    for one lapse (`lapsed_on`): an approval lets the customer pay what is owed for that lapse
    without answering again. At most one is waiting per policy (the partial unique constraint:
    a retried or concurrent request finds the one there is). The answers are health data:
    encrypted, shown only to the staff who decide."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="reinstatement_referrals")
    status = models.CharField(max_length=16, choices=ReferralStatus.choices, default=ReferralStatus.REFERRED)
    lapsed_on = models.DateField()
    amount = _money()  # owed when referred
    answers = EncryptedTextField(context="policy.reinstatement_answers")  # JSON {code: bool}
    flagged = models.PositiveSmallIntegerField()  # how many answers need underwriting
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=200, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["requested_at", "id"]
        verbose_name = _("复效人工核保")
        verbose_name_plural = _("复效人工核保")
        permissions = [("decide_reinstatement", "可审核复效申请")]
        constraints = [
            models.UniqueConstraint(
                fields=["policy"],
                condition=Q(status=ReferralStatus.REFERRED),
                name="reinstatement_one_referred_per_policy",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ReferralStatus.values), name="reinstatement_referral_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} {self.lapsed_on} {self.status}"
