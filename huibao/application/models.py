"""The electronic application (电子投保单): who applies, who is insured, for what, and the evidence
of each step the customer took (documents read, clauses confirmed, identity, signatures).

An `Application` holds one or more `ApplicationItem`s — one per product and insured person, each
becoming one policy — so a bundle (交强险 + 商业险 + 驾乘意外) is one application with one set of
data, one signature and one payment. Personal data is encrypted at rest; look-ups use the
`*_hash` columns.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from huibao.application.states import (
    ApplicationStatus,
    BeneficiaryMode,
    Channel,
    Relation,
    SignatureMethod,
    SignerRole,
    UnderwritingOutcome,
)
from huibao.core.fields import EncryptedTextField
from huibao.core.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS


def _money(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


class Application(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(max_length=32, unique=True)
    status = models.CharField(
        max_length=20, choices=ApplicationStatus.choices, default=ApplicationStatus.DRAFT
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.WEB)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="applications"
    )
    # An agent or staff member who prepared the application for the customer (no signing by proxy).
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The agent, channel or sub-channel the sale is attributed to (an agent's own application,
    # or a referral code the customer arrived with); copied to each policy at issuance.
    seller = models.ForeignKey(
        "distribution.SalesUnit", on_delete=models.PROTECT, null=True, blank=True, related_name="applications"
    )
    # Hash of the secret in the link/QR code an agent sends to the customer.
    invite_token_hash = models.CharField(max_length=64, blank=True, db_index=True)

    # Applicant (投保人)
    applicant_name = models.CharField(max_length=30, blank=True)
    applicant_id_number = EncryptedTextField(context="application.applicant_id_number", blank=True)
    applicant_id_hash = models.CharField(max_length=64, blank=True, db_index=True)
    applicant_birth_date = models.DateField(null=True, blank=True)
    applicant_sex = models.CharField(max_length=1, blank=True)
    applicant_phone = EncryptedTextField(context="application.applicant_phone", blank=True)
    applicant_email = EncryptedTextField(context="application.applicant_email", blank=True)
    applicant_address = EncryptedTextField(context="application.applicant_address", blank=True)
    applicant_region = models.CharField(max_length=6, blank=True)
    applicant_occupation = models.CharField(max_length=40, blank=True)
    # The insured subject for property lines (vehicle, home, phone, pet…), per `application_rules.subject`.
    subject = models.JSONField(default=dict, blank=True)
    beneficiary_mode = models.CharField(
        max_length=8, choices=BeneficiaryMode.choices, default=BeneficiaryMode.LEGAL
    )

    # Every change of the data increments the revision; the customer's confirmation names the
    # revision and digest it confirmed, so a later change is visible and voids the confirmation.
    data_revision = models.PositiveIntegerField(default=1)
    confirmed_revision = models.PositiveIntegerField(null=True, blank=True)
    confirmed_digest = models.CharField(max_length=64, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    terms_agreed_at = models.DateTimeField(null=True, blank=True)  # loading / exclusion accepted

    identity_check_id = models.BigIntegerField(null=True, blank=True)
    identity_verified_at = models.DateTimeField(null=True, blank=True)
    face_required = models.BooleanField(default=False)
    face_check_id = models.BigIntegerField(null=True, blank=True)
    face_passed_at = models.DateTimeField(null=True, blank=True)

    signed_at = models.DateTimeField(null=True, blank=True)
    application_form = models.ForeignKey(
        "esign.SignedDocument", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    total_premium = _money(default=0)
    payment_id = models.BigIntegerField(null=True, blank=True)  # the current payment.Payment
    paid_at = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    # Kept at least until this date (per policy term: 5 / 10 years after the contract ends).
    retention_until = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        # Replaying an application and exporting it as evidence (auditors), beyond viewing it.
        permissions = [("replay_application", "Can replay and export an application as evidence")]
        indexes = [models.Index(fields=["status", "expires_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ApplicationStatus.values), name="application_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(total_premium__gte=0), name="application_premium_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        from django.utils import timezone

        if self.retention_until is None or timezone.localdate() <= self.retention_until:
            raise ValueError(f"application {self.number} is kept until {self.retention_until}: not deleted")
        return super().delete(*args, **kwargs)

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_revision is not None and self.confirmed_revision == self.data_revision


class InsuredPerson(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="insured_persons")
    position = models.PositiveSmallIntegerField(default=1)
    relation = models.CharField(max_length=8, choices=Relation.choices)
    name = models.CharField(max_length=30)
    id_number = EncryptedTextField(context="application.insured_id_number")
    id_hash = models.CharField(max_length=64, db_index=True)
    birth_date = models.DateField()
    sex = models.CharField(max_length=1)
    phone = EncryptedTextField(context="application.insured_phone", blank=True)
    occupation = models.CharField(max_length=40, blank=True)
    occupation_class = models.PositiveSmallIntegerField(null=True, blank=True)
    # {question_code: bool} as JSON text, encrypted (health answers are sensitive personal data).
    health_answers = EncryptedTextField(context="application.health_answers", blank=True)

    class Meta:
        ordering = ["application_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["application", "position"], name="insured_unique_position"),
            models.CheckConstraint(condition=Q(relation__in=Relation.values), name="insured_relation_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.application_id}#{self.position}"


class Beneficiary(models.Model):
    """A named beneficiary (指定受益人) of an insured person's death benefit; shares of the same
    order (顺位) add up to 100%."""

    insured = models.ForeignKey(InsuredPerson, on_delete=models.CASCADE, related_name="beneficiaries")
    name = models.CharField(max_length=30)
    id_number = EncryptedTextField(context="application.beneficiary_id_number")
    id_hash = models.CharField(max_length=64)
    relation = models.CharField(max_length=8, choices=Relation.choices)
    order = models.PositiveSmallIntegerField(default=1)
    share_percent = models.DecimalField(max_digits=5, decimal_places=2)

    class Meta:
        ordering = ["insured_id", "order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(share_percent__gt=0) & Q(share_percent__lte=100), name="beneficiary_share_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.insured_id} beneficiary {self.order}/{self.share_percent}%"


class ApplicationItem(models.Model):
    """One product for one insured person; becomes one policy."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField(default=1)
    insured = models.ForeignKey(
        InsuredPerson, on_delete=models.PROTECT, null=True, blank=True, related_name="items"
    )
    product_version = models.ForeignKey("catalog.ProductVersion", on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey("catalog.Plan", on_delete=models.PROTECT, related_name="+")
    # The quote the customer came from, and the quote re-priced on the insured's real data.
    origin_quote = models.ForeignKey("rating.Quote", on_delete=models.PROTECT, related_name="+")
    quote = models.ForeignKey("rating.Quote", on_delete=models.PROTECT, related_name="+")
    sum_insured = _money(null=True, blank=True)
    base_premium = _money()
    premium = _money()  # after underwriting loading
    loading_percent = models.DecimalField(max_digits=6, decimal_places=2, default=0)
    exclusions = models.JSONField(default=list, blank=True)
    underwriting_outcome = models.CharField(
        max_length=20, choices=UnderwritingOutcome.choices, default=UnderwritingOutcome.PENDING
    )
    underwriting_reasons = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["application_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "position"], name="application_item_unique_position"
            ),
            models.CheckConstraint(condition=Q(premium__gte=0), name="application_item_premium_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.application_id} item {self.position}"


class DisclosureReading(models.Model):
    """Server-side evidence that a document was read: opened, scrolled to its end, and open for
    at least its minimum time. One per distinct document text (by content hash) per application,
    so a bundle reads a document shared by several products once."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="readings")
    document = models.ForeignKey("catalog.Document", on_delete=models.PROTECT, related_name="+")
    content_sha256 = models.CharField(max_length=64)
    opened_at = models.DateTimeField()
    scrolled_to_end_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    seconds_open = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "content_sha256"], name="reading_unique_per_text"),
        ]

    def __str__(self) -> str:
        return f"{self.application_id} read {self.document_id}"


class ClauseConfirmation(models.Model):
    """A key clause (exclusion, waiting period, cooling-off, surrender loss) shown on its own and
    confirmed separately."""

    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="clause_confirmations"
    )
    document = models.ForeignKey("catalog.Document", on_delete=models.PROTECT, related_name="+")
    content_sha256 = models.CharField(max_length=64)
    clause_code = models.CharField(max_length=48)
    shown_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["application", "content_sha256", "clause_code"], name="clause_confirmation_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application_id} clause {self.clause_code}"


class Signature(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="signatures")
    role = models.CharField(max_length=12, choices=SignerRole.choices)
    insured = models.ForeignKey(
        InsuredPerson, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    signer_name = models.CharField(max_length=30)
    method = models.CharField(max_length=16, choices=SignatureMethod.choices)
    # The strokes as drawn (JSON) and the rendered PNG (base64): biometric data, encrypted.
    ink = EncryptedTextField(context="application.signature_ink", blank=True)
    image_png_b64 = EncryptedTextField(context="application.signature_png", blank=True)
    data_revision = models.PositiveIntegerField()
    data_digest = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)

    class Meta:
        ordering = ["application_id", "id"]

    def __str__(self) -> str:
        return f"{self.application_id} {self.role} signature"


class PageTemplateVersion(models.Model):
    """The exact source of a page template the customer was shown, kept once per distinct text so
    a recorded step (`page`, `page_version`) can be reproduced after the code has changed."""

    template_name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64, unique=True)
    source = models.TextField()
    first_seen_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.template_name}@{self.sha256[:12]}"
