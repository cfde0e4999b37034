"""The staff servicing queue (/policy/staff/servicing/): what needs a person, in sections.

A feature adds its section in its AppConfig.ready()::

    from huibao.policy.queue import register_queue_section
    register_queue_section(
        "approvals", label=_("待审批的批改"), order=40, rows=pending_approvals,
        template="policy/staff/partials/approvals.html", permission="policy.change_endorsement",
    )

`rows(user)` returns what the section lists (at most `ROW_LIMIT`; a list of anything its
template reads as `rows`), `count(user)` how many there are in all (default: len of rows). A
section with a `permission` is shown only to staff holding it. The page shows the counts of all
its sections at the top, then each section.

The platform's own sections (registered by the policy app): policies in grace and lapsed (days
left), failed outbox messages (重新发送), insurer deliveries failed or given up (立即重试).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Min, Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from huibao.billing import rules as billing_rules
from huibao.billing.models import PremiumSchedule
from huibao.billing.states import InstalmentStatus
from huibao.notification import selectors as notification_selectors
from huibao.notification.models import OutboxMessage
from huibao.policy.models import InsurerDelivery, Policy
from huibao.policy.states import DeliveryStatus, PolicyStatus

ROW_LIMIT = 100
ATTENTION_DELIVERY_STATUSES = (DeliveryStatus.FAILED, DeliveryStatus.GAVE_UP)


@dataclass(frozen=True, slots=True)
class QueueSection:
    key: str
    label: str | Promise
    order: int
    rows: Callable[[Any], list[Any]]
    template: str
    permission: str = ""
    count: Callable[[Any], int] | None = None


@dataclass(frozen=True, slots=True)
class SectionView:
    key: str
    label: str
    count: int
    rows: list[Any]
    template: str


_sections: dict[str, QueueSection] = {}


def register_queue_section(
    key: str,
    *,
    label: str | Promise,
    order: int,
    rows: Callable[[Any], list[Any]],
    template: str,
    permission: str = "",
    count: Callable[[Any], int] | None = None,
) -> None:
    """Registers (or, under the same key, replaces) a section of the servicing queue."""
    _sections[key] = QueueSection(key, label, order, rows, template, permission, count)


def unregister_queue_section(key: str) -> None:
    _sections.pop(key, None)


def sections_for(user: Any) -> list[SectionView]:
    """The sections `user` may see, in order, with their rows and counts."""
    shown = []
    for section in sorted(_sections.values(), key=lambda s: (s.order, s.key)):
        if section.permission and not user.has_perm(section.permission):
            continue
        rows = section.rows(user)
        count = section.count(user) if section.count is not None else len(rows)
        shown.append(SectionView(section.key, str(section.label), count, rows, section.template))
    return shown


# --- the platform's own sections -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GraceRow:
    number: str
    public_id: Any
    status: str
    status_label: str
    product_name: str
    deadline: datetime.date | None  # last day to pay (in grace) or to reinstate (lapsed)
    days_left: int | None


def _grace_policies() -> Any:
    return Policy.objects.filter(status__in=(PolicyStatus.IN_GRACE, PolicyStatus.LAPSED))


def grace_rows(user: Any, *, today: datetime.date | None = None) -> list[GraceRow]:
    """Policies in grace (days left to pay) and lapsed (days left to reinstate), the most urgent
    first."""
    today = today or timezone.localdate()
    policies = list(
        _grace_policies().select_related("product_version__product").order_by("number")[:ROW_LIMIT]
    )
    schedules = {
        s.reference_id: s
        for s in PremiumSchedule.objects.filter(
            reference_kind="policy", reference_id__in=[p.number for p in policies]
        ).annotate(
            oldest_overdue=Min("instalments__due_on", filter=_overdue_filter()),
        )
    }
    rows = []
    for p in policies:
        schedule = schedules.get(p.number)
        deadline: datetime.date | None = None
        if schedule is not None and p.status == PolicyStatus.IN_GRACE and schedule.oldest_overdue:
            deadline = billing_rules.grace_ends(schedule.oldest_overdue, schedule.grace_days)
        elif schedule is not None and p.status == PolicyStatus.LAPSED and schedule.lapsed_on:
            deadline = billing_rules.reinstatement_until(schedule.lapsed_on)
        rows.append(
            GraceRow(
                number=p.number,
                public_id=p.public_id,
                status=p.status,
                status_label=str(PolicyStatus(p.status).label),
                product_name=p.product_version.product.name,
                deadline=deadline,
                days_left=(deadline - today).days if deadline is not None else None,
            )
        )
    rows.sort(
        key=lambda r: (r.status != PolicyStatus.IN_GRACE, r.days_left if r.days_left is not None else 10**6)
    )
    return rows


def _overdue_filter() -> Q:
    return Q(instalments__status=InstalmentStatus.OVERDUE)


def grace_count(user: Any) -> int:
    return _grace_policies().count()


def failed_message_rows(user: Any) -> list[OutboxMessage]:
    return list(notification_selectors.needing_attention()[:ROW_LIMIT])


def failed_message_count(user: Any) -> int:
    return notification_selectors.needing_attention().count()


def _failed_deliveries() -> Any:
    return InsurerDelivery.objects.filter(status__in=ATTENTION_DELIVERY_STATUSES)


def failed_delivery_rows(user: Any) -> list[InsurerDelivery]:
    return list(
        _failed_deliveries()
        .select_related("policy", "policy__insurer", "endorsement", "cancellation")
        .order_by("-updated_at")[:ROW_LIMIT]
    )


def failed_delivery_count(user: Any) -> int:
    return _failed_deliveries().count()


def register_platform_sections() -> None:
    register_queue_section(
        "grace",
        label=_("宽限期与失效保单"),
        order=10,
        rows=grace_rows,
        count=grace_count,
        template="policy/staff/partials/grace.html",
        permission="policy.view_policy",
    )
    register_queue_section(
        "messages",
        label=_("发送失败的消息"),
        order=20,
        rows=failed_message_rows,
        count=failed_message_count,
        template="policy/staff/partials/messages.html",
        permission="notification.view_outboxmessage",
    )
    register_queue_section(
        "deliveries",
        label=_("保险公司回传失败"),
        order=30,
        rows=failed_delivery_rows,
        count=failed_delivery_count,
        template="policy/staff/partials/deliveries.html",
        permission="policy.view_insurerdelivery",
    )
