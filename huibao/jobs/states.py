"""Job run statuses and the transition table every status change goes through."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class JobRunStatus(models.TextChoices):
    PENDING = "pending", _("待运行")
    RUNNING = "running", _("运行中")
    SUCCEEDED = "succeeded", _("已完成")
    FAILED = "failed", _("失败")


S = JobRunStatus
JOB_RUN_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.RUNNING}),
    # running → running: a crashed run (stale heartbeat) taken over and resumed from its cursor
    S.RUNNING: frozenset({S.RUNNING, S.SUCCEEDED, S.FAILED}),
    # failed → running: retried (resumed from its cursor)
    S.FAILED: frozenset({S.RUNNING}),
    S.SUCCEEDED: frozenset(),
}
