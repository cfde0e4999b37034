"""Claims (理赔案件), their timeline and their materials: persistence and constraints only.

A `Claim` belongs to one policy and its insurer; its personal data (the description, which may
hold health facts, and the payee's bank account) is encrypted at rest. `ClaimStatusChange` is the
timeline the customer sees (one row per move, written by `lifecycle.transition`). A
`ClaimMaterial` is one uploaded file, stored through Django's storage API (the default storage:
the filesystem under MEDIA_ROOT, or S3-compatible — docs/claim.md), with its content digest.
`BenefitUsage` and `BenefitEntry` are the benefit ledger (`limits.py` writes it): what each
policy year of a coverage has used, and one entry per claim that used it.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from huibao.catalog.claim_terms import ClaimType, MaterialKind
from huibao.claim.insurer_states import DecisionMode, Payer
from huibao.claim.states import ClaimStatus, DecisionKind, RecoveryStatus
from huibao.core.fields import EncryptedTextField
from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS

CLAIM_TYPE_CHOICES = [(t.value, t.value) for t in ClaimType]
MATERIAL_CHOICES = [(k.value, k.value) for k in MaterialKind]


def _money(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


class Claim(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(_("赔案号"), max_length=20, unique=True)
    policy = models.ForeignKey("policy.Policy", on_delete=models.PROTECT, related_name="claims")
    insurer = models.ForeignKey("catalog.Insurer", on_delete=models.PROTECT, related_name="claims")
    insured = models.ForeignKey("policy.PolicyParty", on_delete=models.PROTECT, related_name="claims")
    claimant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="claims"
    )
    claim_type = models.CharField(max_length=24, choices=CLAIM_TYPE_CHOICES)
    coverage_codes = models.JSONField(default=list)
    # The material kinds the claim type asked for when reported (the version's terms, frozen).
    required_materials = models.JSONField(default=list)
    incident_date = models.DateField()
    region_code = models.CharField(max_length=6)
    place = models.CharField(max_length=120)
    description = EncryptedTextField(context="claim.description")
    cause_code = models.CharField(max_length=32, blank=True, default="")
    amount_claimed = _money()
    social_insurance_settled = models.BooleanField(default=True)
    payee_name = models.CharField(max_length=30)
    payee_account = EncryptedTextField(context="claim.payee_account")
    payee_account_last4 = models.CharField(max_length=4)
    payee_bank = models.CharField(max_length=40, blank=True, default="")
    status = models.CharField(max_length=24, choices=ClaimStatus.choices, default=ClaimStatus.REPORTED)
    reported_at = models.DateTimeField()
    materials_complete_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # The decision clock stops while more information is asked of the customer (补充材料):
    # `sla_paused` the time of the requests answered, `sla_paused_since` the open one's start
    # (`lifecycle.transition` keeps both; `insurer_rules.decision_due` adds them to the due time).
    sla_paused = models.DurationField(default=datetime.timedelta)
    sla_paused_since = models.DateTimeField(null=True, blank=True)
    # The decision (wave 2's adjudication and fast track write these).
    decision_kind = models.CharField(max_length=8, choices=DecisionKind.choices, blank=True, default="")
    approved_amount = _money(null=True, blank=True)
    reason_code = models.CharField(max_length=40, blank=True, default="")
    clause = models.CharField(max_length=120, blank=True, default="")
    benefit = models.JSONField(default=dict, blank=True)  # the explanation, line by line
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    auto_decided = models.BooleanField(default=False)
    # The adjuster's note to the customer (a denial's or a partial payment's explanation).
    decision_note = models.CharField(max_length=500, blank=True, default="")
    # The adjuster the claim is assigned to (assignment on materials complete, or by hand).
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    # What the adjuster asked for ({"kinds": [...], "at": iso, "note": "..."}); each kind needs a
    # new upload after "at" before the customer can resubmit.
    info_request = models.JSONField(default=dict, blank=True)
    # When the claim entered its current status (the queues show the time since each step).
    status_since = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-reported_at", "-id"]
        verbose_name = _("理赔案件")
        verbose_name_plural = _("理赔案件")
        indexes = [
            models.Index(fields=["status", "reported_at"], name="claim_status_reported"),
            models.Index(fields=["insurer", "status"], name="claim_insurer_status"),
            models.Index(fields=["assigned_to", "status"], name="claim_assignee_status"),
            # The back-office figures read a window of decided claims.
            models.Index(fields=["decided_at"], name="claim_decided_at"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ClaimStatus.values), name="claim_status_valid"),
            models.CheckConstraint(
                condition=Q(claim_type__in=[t.value for t in ClaimType]), name="claim_type_valid"
            ),
            models.CheckConstraint(condition=Q(amount_claimed__gt=0), name="claim_amount_positive"),
            models.CheckConstraint(
                condition=Q(approved_amount__isnull=True) | Q(approved_amount__gt=0),
                name="claim_approved_amount_positive",
            ),
            models.CheckConstraint(
                condition=Q(decision_kind="") | Q(decision_kind__in=DecisionKind.values),
                name="claim_decision_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class ClaimStatusChange(models.Model):
    """One step of the claim's timeline."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=24, blank=True, default="")
    to_status = models.CharField(max_length=24, choices=ClaimStatus.choices)
    at = models.DateTimeField()
    actor = models.CharField(max_length=64, blank=True, default="")  # a label, never a name or phone
    line = models.CharField(max_length=200)  # what the customer reads (Chinese)
    note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["claim_id", "at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(to_status__in=ClaimStatus.values), name="claim_status_change_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id} {self.from_status or '-'} → {self.to_status}"


def material_path(instance: ClaimMaterial, filename: str) -> str:
    """Where a material is stored: under the claim's public id, named by a fresh UUID (never by
    the uploaded name); the extension follows the sniffed content type."""
    return f"claims/{instance.claim.public_id}/{uuid.uuid4().hex}{filename[filename.rfind('.') :]}"


class ClaimMaterial(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="materials")
    kind = models.CharField(max_length=24, choices=MATERIAL_CHOICES)
    file = models.FileField(upload_to=material_path, max_length=200)
    sha256 = models.CharField(max_length=64, db_index=True)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    invoice_number = models.CharField(max_length=40, blank=True, default="", db_index=True)
    # The same file or invoice number on another claim: flagged, not refused (the screen decides).
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="duplicates"
    )
    duplicate_reason = models.CharField(max_length=16, blank=True, default="")  # "sha256" | "invoice"
    uploaded_at = models.DateTimeField()

    class Meta:
        ordering = ["claim_id", "uploaded_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in MaterialKind]), name="claim_material_kind_valid"
            ),
            models.CheckConstraint(condition=Q(size__gt=0), name="claim_material_size_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id} {self.kind}"


class BenefitUsage(models.Model):
    """What one coverage of a policy has used in one policy year: the sums of the year's
    unreleased entries. Row-locked (`select_for_update`) while a claim is computed against it."""

    policy = models.ForeignKey("policy.Policy", on_delete=models.PROTECT, related_name="+")
    coverage_code = models.CharField(max_length=64)
    period_start = models.DateField()
    period_end = models.DateField()  # the last day of the policy year, included
    paid = _money(default=0)
    deductible_used = _money(default=0)
    # {"outpatient": "4000.00"}: expenses admitted under each item-limited category (Decimal strings).
    item_paid = models.JSONField(default=dict)
    days_paid = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("保障额度使用")
        verbose_name_plural = _("保障额度使用")
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "coverage_code", "period_start"], name="claim_usage_one_row_per_policy_year"
            ),
            models.CheckConstraint(
                condition=Q(paid__gte=0) & Q(deductible_used__gte=0) & Q(days_paid__gte=0),
                name="claim_usage_not_negative",
            ),
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="claim_usage_period"),
        ]

    def __str__(self) -> str:
        return f"{self.coverage_code} {self.period_start}–{self.period_end}: {self.paid}"


class BenefitEntry(models.Model):
    """One claim's use of one coverage's policy year (the claim by its `reference`, no foreign
    key), with the benefit as computed. Released entries stay, marked, and no longer count."""

    usage = models.ForeignKey(BenefitUsage, on_delete=models.PROTECT, related_name="entries")
    reference = models.CharField(max_length=64)
    coverage_code = models.CharField(max_length=64)
    paid = _money(default=0)
    deductible_used = _money(default=0)
    item_paid = models.JSONField(default=dict)
    days_paid = models.IntegerField(default=0)
    # The Benefit as computed (payable, lines, refusal…), so a retry answers the same explanation.
    benefit = models.JSONField(default=dict)
    released = models.BooleanField(default=False)
    released_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("保障额度使用记录")
        verbose_name_plural = _("保障额度使用记录")
        indexes = [models.Index(fields=["reference"], name="claim_entry_reference")]
        constraints = [
            # One live entry per claim and coverage: a retry finds it, a release frees the slot
            # for a re-decision.
            models.UniqueConstraint(
                fields=["reference", "coverage_code"],
                condition=Q(released=False),
                name="claim_entry_one_live_per_coverage",
            ),
            models.CheckConstraint(
                condition=Q(paid__gte=0) & Q(deductible_used__gte=0) & Q(days_paid__gte=0),
                name="claim_entry_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(released=False, released_at__isnull=True)
                | Q(released=True, released_at__isnull=False),
                name="claim_entry_released_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.coverage_code}: {self.paid}"


class InsurerClaimSettings(models.Model):
    """What an insurer set for the adjudication of its claims: the amount above which an approval
    needs a second adjuster (four eyes), and the days it promises to decide in after complete
    materials (保险法 Art. 23: at most 30). No row: the code defaults (`decisions.py`).

    `mode` and `payer` (the insurers' side, `insurer.py`): whether the insurer decides in its own
    system (connector: the claim is sent to it, its decision and payment come back as signed
    notices) or its adjusters work in Huibao's back office; and whether it pays the customer
    itself or Huibao pays on its behalf (through the payout port)."""

    insurer = models.OneToOneField("catalog.Insurer", on_delete=models.CASCADE, related_name="claim_settings")
    four_eyes_amount = _money(default=10000)
    decision_days = models.PositiveSmallIntegerField(default=30)
    mode = models.CharField(max_length=16, choices=DecisionMode.choices, default=DecisionMode.BACK_OFFICE)
    payer = models.CharField(max_length=16, choices=Payer.choices, default=Payer.PLATFORM)

    class Meta:
        verbose_name = _("保险公司理赔设置")
        verbose_name_plural = _("保险公司理赔设置")
        constraints = [
            models.CheckConstraint(
                condition=Q(four_eyes_amount__gt=0), name="claim_settings_four_eyes_positive"
            ),
            models.CheckConstraint(
                condition=Q(decision_days__gte=1) & Q(decision_days__lte=30),
                name="claim_settings_decision_days",
            ),
            models.CheckConstraint(
                condition=Q(mode__in=DecisionMode.values), name="claim_settings_mode_valid"
            ),
            models.CheckConstraint(condition=Q(payer__in=Payer.values), name="claim_settings_payer_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.insurer_id}: {self.four_eyes_amount} / {self.decision_days}d"


class ClaimsDesk(models.Model):
    """An adjuster's profile: whom they work for (no insurer: the agency's own claims staff, who
    see every insurer's claims), what they handle (regions by code prefix, claim types; empty:
    all), whether they are senior (appeals), and the largest approval they may make alone."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="claims_desk"
    )
    insurer = models.ForeignKey(
        "catalog.Insurer", on_delete=models.PROTECT, null=True, blank=True, related_name="claims_desks"
    )
    regions = models.JSONField(default=list, blank=True)  # ["31", "3201"]: region code prefixes
    claim_types = models.JSONField(default=list, blank=True)
    senior = models.BooleanField(default=False)
    approval_limit = _money(null=True, blank=True)  # None: no limit of their own
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("理赔岗")
        verbose_name_plural = _("理赔岗")
        constraints = [
            models.CheckConstraint(
                condition=Q(approval_limit__isnull=True) | Q(approval_limit__gt=0),
                name="claims_desk_approval_limit_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"desk:{self.user_id}"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", _("待复核")
    CONFIRMED = "confirmed", _("复核通过")
    REJECTED = "rejected", _("复核退回")


class ClaimApproval(models.Model):
    """An approval above the four-eyes amount, waiting for a second adjuster (never the one who
    proposed it) before any money moves. The benefit is already recorded on the ledger (so the
    limits stay right); a rejection releases it."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="approvals")
    kind = models.CharField(max_length=8, choices=DecisionKind.choices)
    amount = _money()
    reason_code = models.CharField(max_length=40, blank=True, default="")
    clause = models.CharField(max_length=120, blank=True, default="")
    decision_note = models.CharField(max_length=500, blank=True, default="")
    benefit = models.JSONField(default=dict, blank=True)  # the explanation as recorded
    auto = models.BooleanField(default=False)  # proposed by the system (the fast track)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    proposed_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True, default="")  # the reviewer's

    class Meta:
        ordering = ["claim_id", "proposed_at", "id"]
        verbose_name = _("赔付复核")
        verbose_name_plural = _("赔付复核")
        constraints = [
            models.UniqueConstraint(
                fields=["claim"], condition=Q(status="pending"), name="claim_approval_one_pending"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ApprovalStatus.values), name="claim_approval_status"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="claim_approval_amount_positive"),
            models.CheckConstraint(
                condition=Q(status="pending", reviewed_at__isnull=True)
                | (~Q(status="pending") & Q(reviewed_at__isnull=False)),
                name="claim_approval_reviewed_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id} {self.amount} {self.status}"


class AppealStatus(models.TextChoices):
    OPEN = "open", _("审理中")
    UPHELD = "upheld", _("申诉成立")
    DISMISSED = "dismissed", _("申诉驳回")


class ClaimAppeal(models.Model):
    """A customer's appeal of a denial or a partial payment: the reason, the decision appealed
    (as it stood), the senior adjuster it went to (never the one who decided) and the outcome."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="appeals")
    reason = models.CharField(max_length=1000)
    filed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    filed_at = models.DateTimeField()
    from_status = models.CharField(max_length=24, choices=ClaimStatus.choices)
    # The decision appealed: kind, amount, reason code, clause, decided by (user id).
    decision = models.JSONField(default=dict)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=12, choices=AppealStatus.choices, default=AppealStatus.OPEN)
    outcome_note = models.CharField(max_length=500, blank=True, default="")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["claim_id", "filed_at", "id"]
        verbose_name = _("理赔申诉")
        verbose_name_plural = _("理赔申诉")
        constraints = [
            models.UniqueConstraint(
                fields=["claim"], condition=Q(status="open"), name="claim_appeal_one_open"
            ),
            models.CheckConstraint(condition=Q(status__in=AppealStatus.values), name="claim_appeal_status"),
            models.CheckConstraint(
                condition=Q(status="open", decided_at__isnull=True)
                | (~Q(status="open") & Q(decided_at__isnull=False)),
                name="claim_appeal_decided_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id} appeal {self.status}"


class ClaimTriage(models.Model):
    """What the system found when the claim's materials were complete: the fraud screen (its
    public id, route and score — the details stay in the fraud app), whether the fraud review
    holds the claim, and whether the fast track decided it or why not (shown to staff only)."""

    claim = models.OneToOneField(Claim, on_delete=models.CASCADE, related_name="triage")
    screening_id = models.UUIDField(null=True, blank=True)
    route = models.CharField(max_length=8, blank=True, default="")  # pass | review | hold | block
    score = models.IntegerField(default=0)
    # A fraud review (or block) holds the claim until an analyst resolves it.
    held = models.BooleanField(default=False)
    fraud_outcome = models.CharField(max_length=12, blank=True, default="")  # cleared | confirmed
    fast_tracked = models.BooleanField(default=False)
    reason_codes = models.JSONField(default=list, blank=True)  # why not fast tracked
    reason = models.CharField(max_length=300, blank=True, default="")
    screened_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("理赔分流")
        verbose_name_plural = _("理赔分流")
        # The back-office figures (share decided automatically, time to payment).
        permissions = [("view_claim_figures", "Can view the claim figures")]
        constraints = [
            models.CheckConstraint(
                condition=Q(route__in=["", "pass", "review", "hold", "block"]),
                name="claim_triage_route_valid",
            ),
            models.CheckConstraint(
                condition=Q(fraud_outcome__in=["", "cleared", "confirmed"]),
                name="claim_triage_fraud_outcome_valid",
            ),
            models.CheckConstraint(
                condition=Q(fast_tracked=False) | Q(held=False), name="claim_triage_fast_track_not_held"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id} {self.route or '-'} fast={self.fast_tracked}"


class ClaimRecovery(models.Model):
    """Money paid on a claim that a later decision no longer owes — a denial after payment (fraud
    found later) or a re-decision below what was paid: `amount` to recover from the payee. Open
    until claims staff record it recovered (the payee paid it back) or written off; at most one
    open per claim. `recoveries.py` writes it; the benefit ledger was released when the claim was
    reopened, and a recovered amount no longer counts as paid (`decisions.paid_so_far`)."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="recoveries")
    amount = _money()
    status = models.CharField(max_length=12, choices=RecoveryStatus.choices, default=RecoveryStatus.OPEN)
    reason_code = models.CharField(max_length=40, blank=True, default="")  # the decision's reason
    payee_name = models.CharField(max_length=30)
    payee_account_last4 = models.CharField(max_length=4)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    opened_at = models.DateTimeField()
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["claim_id", "opened_at", "id"]
        verbose_name = _("理赔追回")
        verbose_name_plural = _("理赔追回")
        constraints = [
            models.UniqueConstraint(
                fields=["claim"], condition=Q(status="open"), name="claim_recovery_one_open"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="claim_recovery_positive"),
            models.CheckConstraint(
                condition=Q(status__in=RecoveryStatus.values), name="claim_recovery_status"
            ),
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True)
                | (~Q(status="open") & Q(resolved_at__isnull=False)),
                name="claim_recovery_resolved_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id} recovery {self.amount} {self.status}"


# The event-triggered payouts' tables and the insurers' side (deliveries, notices, chases,
# overdue flags) live in modules of their own (kept apart for the merges).
from huibao.claim.event_models import (  # noqa: E402
    EventNonce,
    PayoutAccount,
    TriggerCorrection,
    TriggeredPayout,
    TriggerEvent,
    TriggerIndex,
)
from huibao.claim.insurer_models import (  # noqa: E402
    ClaimChase,
    ClaimOverdue,
    InsurerClaimDelivery,
    InsurerClaimNotice,
)

__all__ = [
    "BenefitEntry",
    "BenefitUsage",
    "Claim",
    "ClaimAppeal",
    "ClaimApproval",
    "ClaimChase",
    "ClaimMaterial",
    "ClaimOverdue",
    "ClaimRecovery",
    "ClaimStatusChange",
    "ClaimTriage",
    "ClaimsDesk",
    "EventNonce",
    "InsurerClaimDelivery",
    "InsurerClaimNotice",
    "InsurerClaimSettings",
    "PayoutAccount",
    "TriggerCorrection",
    "TriggerEvent",
    "TriggerIndex",
    "TriggeredPayout",
]
