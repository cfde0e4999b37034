"""Identity persistence: real-name checks, face checks, received face-provider notifications."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from huibao.core.fields import EncryptedTextField
from huibao.identity.states import FaceCheckStatus, FaceFailureReason, IdentityCheckStatus

_CHECK_MESSAGES: dict[str, Promise] = {
    IdentityCheckStatus.VERIFIED: _("实名认证通过"),
    IdentityCheckStatus.MISMATCH: _("姓名与身份证号码不一致，请核对后重新填写"),
    IdentityCheckStatus.NO_RECORD: _("公安系统中查无此身份证号码，请核对后重新填写"),
    IdentityCheckStatus.UNAVAILABLE: _("实名认证服务暂时不可用，请稍后再试"),
}
_FACE_MESSAGES: dict[str, Promise] = {
    FaceCheckStatus.PENDING: _("人脸识别尚未完成，请按页面提示完成检测"),
    FaceCheckStatus.PASSED: _("人脸识别通过"),
    FaceCheckStatus.EXPIRED: _("人脸识别已超时，请重新发起"),
    FaceFailureReason.NOT_LIVE: _("活体检测未通过，请本人在光线充足处正对屏幕重新检测"),
    FaceFailureReason.NOT_SAME_PERSON: _("人脸与身份证照片不一致，须由本人完成人脸识别"),
}


class IdentityCheck(models.Model):
    """One real-name check of (name, ID number) for something identified by (reference_kind, reference_id).

    Written once, with its outcome; never updated.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    reference_kind = models.CharField(max_length=40)
    reference_id = models.CharField(max_length=64)
    name = models.CharField(max_length=30)
    id_number = EncryptedTextField(context="identity.check.id_number")
    id_number_hash = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=20, choices=IdentityCheckStatus.choices)
    attempts = models.PositiveSmallIntegerField()
    provider = models.CharField(max_length=20)
    provider_ref = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["reference_kind", "reference_id"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=IdentityCheckStatus.values), name="identity_check_status_valid"
            ),
            models.CheckConstraint(condition=models.Q(attempts__gte=1), name="identity_check_attempted"),
            models.CheckConstraint(
                condition=models.Q(status="unavailable") | ~models.Q(provider_ref=""),
                name="identity_check_answer_has_ref",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.status}"

    @property
    def verified(self) -> bool:
        return self.status == IdentityCheckStatus.VERIFIED

    @property
    def message(self) -> str:
        """What to tell the applicant about this outcome (Chinese)."""
        return str(_CHECK_MESSAGES[self.status])


class FaceCheck(models.Model):
    """One face check (liveness + comparison with the ID photo) run on the provider's hosted page."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    reference_kind = models.CharField(max_length=40)
    reference_id = models.CharField(max_length=64)
    name = models.CharField(max_length=30)
    id_number = EncryptedTextField(context="identity.face.id_number")
    id_number_hash = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=20, choices=FaceCheckStatus.choices, default=FaceCheckStatus.PENDING)
    failure_reason = models.CharField(max_length=20, choices=FaceFailureReason.choices, blank=True)
    provider = models.CharField(max_length=20)
    provider_ref = models.CharField(max_length=64, blank=True)
    session_url = models.CharField(max_length=300, blank=True)
    return_url = models.CharField(max_length=300)
    liveness_score = models.PositiveSmallIntegerField(null=True, blank=True)
    similarity = models.PositiveSmallIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["reference_kind", "reference_id"]),
            models.Index(fields=["status", "expires_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=FaceCheckStatus.values), name="face_check_status_valid"
            ),
            # failed ⇔ a reason; every other status has none.
            models.CheckConstraint(
                condition=models.Q(status="failed", failure_reason__in=FaceFailureReason.values)
                | (~models.Q(status="failed") & models.Q(failure_reason="")),
                name="face_check_reason_iff_failed",
            ),
            models.CheckConstraint(
                condition=models.Q(status="pending") | models.Q(completed_at__isnull=False),
                name="face_check_final_has_completed_at",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.status}"

    @property
    def passed(self) -> bool:
        return self.status == FaceCheckStatus.PASSED

    @property
    def message(self) -> str:
        """What to tell the applicant about this check (Chinese)."""
        key = self.failure_reason if self.status == FaceCheckStatus.FAILED else self.status
        return str(_FACE_MESSAGES.get(key, _("人脸识别未通过")))


class FaceProviderNotification(models.Model):
    """Each notification received from a face provider: idempotency, replay rejection, evidence.

    Only accepted notifications (signature verified, fresh) hold their notify_id uniquely: a
    forged or stale one reusing a real id is kept for forensics but cannot block the genuine one.
    """

    provider = models.CharField(max_length=20)
    notify_id = models.CharField(max_length=64)
    raw_body = EncryptedTextField(context="identity.face_notification_body")
    signature_ok = models.BooleanField()
    accepted = models.BooleanField(default=False)
    face_check = models.ForeignKey(
        FaceCheck, on_delete=models.PROTECT, null=True, blank=True, related_name="notifications"
    )
    outcome = models.CharField(max_length=40, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "notify_id"],
                condition=models.Q(accepted=True),
                name="face_notification_accepted_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(accepted=False) | models.Q(signature_ok=True),
                name="face_notification_accepted_is_signed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.notify_id}"
