"""The daily overdue check of settlement statements: flags each unpaid statement past its due
date (once) and tells the finance staff who may mark statements paid, one message per run
listing the numbers, through the outbox. Idempotent: a second run for the date flags nothing
and the message's dedup key holds."""

from __future__ import annotations

from django.db.models import Q

from huibao.account.models import User, UserKind
from huibao.finance import settlement
from huibao.jobs.registry import JobContext
from huibao.notification import services as notification
from huibao.notification.catalogue import MessageTemplate

OVERDUE_TEMPLATE = "finance.settlement_overdue_staff"

OVERDUE_MESSAGE = MessageTemplate(
    code=OVERDUE_TEMPLATE,
    category="service",
    required=("count", "statements"),
    title="结算单逾期未结清",
    body="有{{ count }}张结算单已过应付款日仍未结清：{{ statements }}。请在工作台“结算”中处理。",
)


def finance_staff() -> list[User]:
    """Who is told: active staff who may mark statements paid (by role or by their own grant)."""
    perm = Q(
        groups__permissions__content_type__app_label="finance",
        groups__permissions__codename="pay_settlementstatement",
    ) | Q(
        user_permissions__content_type__app_label="finance",
        user_permissions__codename="pay_settlementstatement",
    )
    return list(User.objects.filter(perm, kind=UserKind.STAFF, is_active=True).distinct().order_by("pk"))


def overdue_job(ctx: JobContext) -> None:
    ctx.check_stop()
    flagged = settlement.flag_overdue(ctx.run_date)
    if flagged:
        listed = "、".join(f"{s.number}（{s.party_name}，应付款日{s.due_on}）" for s in flagged[:20])
        if len(flagged) > 20:
            listed += f"等{len(flagged)}张"
        for user in finance_staff():
            notification.notify(
                user=user,
                template=OVERDUE_TEMPLATE,
                context={"count": len(flagged), "statements": listed},
                dedup_key=f"settlement-overdue:{ctx.run_date}:{flagged[0].pk}:{user.pk}",
                reference=flagged[0].number,
            )
    ctx.progress(len(flagged), len(flagged))
