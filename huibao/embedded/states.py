"""Statuses of an asynchronous batch of embedded sales, and its transition table."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["BATCH_TRANSITIONS", "BatchStatus", "OutcomeStatus"]


class BatchStatus(models.TextChoices):
    PENDING = "pending", _("待处理")
    PROCESSING = "processing", _("处理中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("处理失败")


class OutcomeStatus(models.TextChoices):
    """What became of one sale: a policy (new, or the one its order reference already has), or
    refused with its reasons."""

    ACCEPTED = "accepted", _("已承保")
    REFUSED = "refused", _("已拒绝")


S = BatchStatus
BATCH_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.PROCESSING, S.FAILED}),
    # A chunk committed with its policies; the batch stays processing until the last one.
    S.PROCESSING: frozenset({S.PROCESSING, S.DONE, S.FAILED}),
    S.DONE: frozenset(),
    S.FAILED: frozenset(),
}
