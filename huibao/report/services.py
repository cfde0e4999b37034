"""The daily sales report (销售日报): every manager of a sales unit (`SalesUnitMember.is_manager`)
gets the figures of their subtree for the day, the agency's finance and operations staff those
of the whole agency — through the outbox (in-site inbox and e-mail), once per person and day
(the message's dedup key), in batches that commit with the job's cursor."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from huibao.core.money import to_fen
from huibao.distribution.models import SalesUnitMember
from huibao.notification.services import Notice, notify_many
from huibao.report import notices, rules
from huibao.report.rules import Period
from huibao.report.selectors import Scope, sales_report

# Whole-agency recipients: the roles (groups, `account.roles`) that run the agency's money.
AGENCY_ROLES = ("finance", "operator")
BATCH = 100

type Checkpoint = Callable[[Any], None]
type Stop = Callable[[], bool]


@dataclass(frozen=True, slots=True)
class Recipient:
    user: Any
    scope: Scope
    label: str  # what the figures are of: "全公司", or the managed units' names


def daily_recipients(*, after_user_id: int = 0) -> list[Recipient]:
    """Everyone who gets the daily report, in user id order from `after_user_id` (exclusive)."""
    User = get_user_model()
    managed: dict[int, list[Any]] = {}
    for member in (
        SalesUnitMember.objects.filter(is_manager=True, unit__is_active=True, user__is_active=True)
        .filter(user_id__gt=after_user_id)
        .select_related("unit")
        .order_by("user_id", "unit__path")
    ):
        managed.setdefault(member.user_id, []).append(member.unit)
    agency_ids = set(
        User.objects.filter(is_active=True, groups__name__in=AGENCY_ROLES, pk__gt=after_user_id).values_list(
            "pk", flat=True
        )
    )
    users = User.objects.filter(pk__in=set(managed) | agency_ids).order_by("pk")
    found = []
    for user in users:
        if user.pk in agency_ids:
            found.append(Recipient(user, Scope(everything=True), "全公司"))
        else:
            units = managed[user.pk]
            roots = tuple(sorted({u.path for u in units}))
            found.append(
                Recipient(user, Scope(roots=roots, managed=tuple(units)), "、".join(u.name for u in units))
            )
    return found


def dedup_key(user_id: int, day: datetime.date) -> str:
    return f"report:daily:{user_id}:{day.isoformat()}"


def daily_notice(recipient: Recipient, day: datetime.date) -> Notice:
    figures = sales_report(
        recipient.scope, period=Period.DAY, since=day, until=day + datetime.timedelta(days=1)
    ).total
    month_start = rules.period_start(Period.MONTH, day)
    month = sales_report(
        recipient.scope, period=Period.MONTH, since=month_start, until=day + datetime.timedelta(days=1)
    ).total
    return Notice(
        user=recipient.user,
        template=notices.DAILY,
        context={
            "day": day,
            "scope": recipient.label[:60],
            "policies": figures.policies,
            "premium": to_fen(figures.premium),
            "commission_in": to_fen(figures.commission_in),
            "commission_out": to_fen(figures.commission_out),
            "margin": to_fen(figures.margin),
            "cancellations": figures.cancellations,
            "month_premium": to_fen(month.premium),
        },
        dedup_key=dedup_key(recipient.user.pk, day),
        reference=f"daily-{day.isoformat()}",
    )


def send_daily_reports(
    run_date: datetime.date,
    *,
    cursor: Any = None,
    checkpoint: Checkpoint | None = None,
    stop: Stop | None = None,
    batch: int = BATCH,
) -> int:
    """Sends the report of the day before `run_date` to every recipient; returns the messages
    written. Run again for the same date it writes nothing (the dedup key); resumed, it starts
    after the last user of the last committed batch."""
    day = run_date - datetime.timedelta(days=1)
    after = int(cursor.get("user", 0)) if isinstance(cursor, dict) else 0
    recipients = daily_recipients(after_user_id=after)
    written = 0
    for offset in range(0, len(recipients), batch):
        if stop is not None and stop():
            break
        chunk = recipients[offset : offset + batch]
        with transaction.atomic():
            written += len(notify_many([daily_notice(r, day) for r in chunk]))
            if checkpoint is not None:
                checkpoint({"user": chunk[-1].user.pk})
    return written
