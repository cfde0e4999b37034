"""Identity statuses: real-name check outcomes, face-check states and their transition table."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class IdentityCheckStatus(models.TextChoices):
    """Outcome of one real-name (name + ID number) check. A check row never changes afterwards."""

    VERIFIED = "verified", _("实名认证通过")
    MISMATCH = "mismatch", _("姓名与身份证号码不一致")
    NO_RECORD = "no_record", _("查无此身份证号码")
    UNAVAILABLE = "unavailable", _("认证服务暂不可用")


class FaceCheckStatus(models.TextChoices):
    PENDING = "pending", _("待检测")
    PASSED = "passed", _("人脸识别通过")
    FAILED = "failed", _("人脸识别未通过")
    EXPIRED = "expired", _("已超时")


class FaceFailureReason(models.TextChoices):
    NOT_LIVE = "not_live", _("活体检测未通过")
    NOT_SAME_PERSON = "not_same_person", _("非本人")


S = FaceCheckStatus
FACE_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.PASSED, S.FAILED, S.EXPIRED}),
    S.PASSED: frozenset(),
    S.FAILED: frozenset(),
    S.EXPIRED: frozenset(),
}
FACE_FINAL_STATUSES = frozenset({S.PASSED, S.FAILED, S.EXPIRED})
