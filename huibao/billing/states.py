"""Billing statuses and the transition tables every status change goes through."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ScheduleStatus(models.TextChoices):
    ACTIVE = "active", _("缴费中")
    COMPLETED = "completed", _("已缴清")
    LAPSED = "lapsed", _("已失效")
    CANCELLED = "cancelled", _("已终止")


S = ScheduleStatus
SCHEDULE_TRANSITIONS: dict[str, frozenset[str]] = {
    S.ACTIVE: frozenset({S.COMPLETED, S.LAPSED, S.CANCELLED}),
    # reinstated: back to active once everything owed is paid
    S.LAPSED: frozenset({S.ACTIVE, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}


class InstalmentStatus(models.TextChoices):
    DUE = "due", _("待缴")
    PAID = "paid", _("已缴")
    OVERDUE = "overdue", _("逾期未缴")
    WAIVED = "waived", _("已豁免")
    CANCELLED = "cancelled", _("已取消")


I = InstalmentStatus  # noqa: E741
INSTALMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    I.DUE: frozenset({I.PAID, I.OVERDUE, I.WAIVED, I.CANCELLED}),
    I.OVERDUE: frozenset({I.PAID, I.WAIVED, I.CANCELLED}),
    I.PAID: frozenset(),
    I.WAIVED: frozenset(),
    I.CANCELLED: frozenset(),
}
UNPAID_STATUSES = frozenset({I.DUE, I.OVERDUE})


class MandateStatus(models.TextChoices):
    ACTIVE = "active", _("有效")
    REVOKED = "revoked", _("已解约")


MANDATE_TRANSITIONS: dict[str, frozenset[str]] = {
    MandateStatus.ACTIVE: frozenset({MandateStatus.REVOKED}),
    MandateStatus.REVOKED: frozenset(),
}


class CollectionStatus(models.TextChoices):
    PENDING = "pending", _("扣款中")
    SUCCEEDED = "succeeded", _("扣款成功")
    FAILED = "failed", _("扣款失败")


COLLECTION_TRANSITIONS: dict[str, frozenset[str]] = {
    CollectionStatus.PENDING: frozenset({CollectionStatus.SUCCEEDED, CollectionStatus.FAILED}),
    CollectionStatus.SUCCEEDED: frozenset(),
    CollectionStatus.FAILED: frozenset(),
}
