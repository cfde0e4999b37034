"""Service-provider and task statuses, task kinds, and the task's transitions (every move goes
through `check_transition`).

offered ──accept──▶ accepted ──start──▶ in_progress ──complete──▶ completed
   │                   │                    │
   ├──decline──▶ declined (re-offered to the next provider: a new task)
   └──cancel───────────┴────────────────────┴──▶ cancelled

completed, declined and cancelled are final.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ProviderKind(models.TextChoices):
    ASSESSOR = "assessor", _("公估机构")
    RESCUE = "rescue", _("道路救援")
    LEGAL = "legal", _("法律援助")
    HOSPITAL = "hospital", _("医院")
    REPAIR = "repair", _("维修厂")


class ProviderStatus(models.TextChoices):
    ACTIVE = "active", _("合作中")
    SUSPENDED = "suspended", _("已暂停")


class TaskKind(models.TextChoices):
    SURVEY = "survey", _("查勘")
    RESCUE = "rescue", _("救援")
    ASSESSMENT = "assessment", _("定损")
    LEGAL = "legal", _("法律咨询")
    MEDICAL_REVIEW = "medical_review", _("医疗审核")
    REPAIR = "repair", _("维修")


class TaskStatus(models.TextChoices):
    OFFERED = "offered", _("待接单")
    ACCEPTED = "accepted", _("已接单")
    IN_PROGRESS = "in_progress", _("处理中")
    COMPLETED = "completed", _("已完成")
    DECLINED = "declined", _("已拒单")
    CANCELLED = "cancelled", _("已取消")


S = TaskStatus
TASK_TRANSITIONS: dict[str, frozenset[str]] = {
    S.OFFERED: frozenset({S.ACCEPTED, S.DECLINED, S.CANCELLED}),
    S.ACCEPTED: frozenset({S.IN_PROGRESS, S.CANCELLED}),
    S.IN_PROGRESS: frozenset({S.COMPLETED, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.DECLINED: frozenset(),
    S.CANCELLED: frozenset(),
}
OPEN_STATUSES = frozenset({S.OFFERED, S.ACCEPTED, S.IN_PROGRESS})
FINAL_STATUSES = frozenset(s for s, targets in TASK_TRANSITIONS.items() if not targets)


class TaskAction(models.TextChoices):
    """What a `TaskEvent` row records (the task's own history)."""

    OFFERED = "offered", _("派单")
    ACCEPTED = "accepted", _("接单")
    DECLINED = "declined", _("拒单")
    STARTED = "started", _("开始处理")
    NOTE = "note", _("进度更新")
    COMPLETED = "completed", _("完成")
    CANCELLED = "cancelled", _("取消")
    OVERDUE = "overdue", _("超时")


# The service level: hours from the offer to completion, per task kind (a caller may pass its own).
SLA_HOURS: dict[str, int] = {
    TaskKind.RESCUE: 2,
    TaskKind.SURVEY: 24,
    TaskKind.ASSESSMENT: 72,
    TaskKind.MEDICAL_REVIEW: 72,
    TaskKind.LEGAL: 48,
    TaskKind.REPAIR: 168,
}
