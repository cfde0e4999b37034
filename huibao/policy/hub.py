"""The policy app's own actions on the hub (`policy.actions`), and what a policy's status means
to its customer. Registered in `PolicyConfig.ready()`."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from huibao.billing import rules as billing_rules
from huibao.billing.models import Instalment, PremiumSchedule
from huibao.billing.states import InstalmentStatus, ScheduleStatus
from huibao.policy.actions import register_action
from huibao.policy.models import Policy
from huibao.policy.states import PolicyStatus

OBJ_TYPE = "policy"
_SCHEDULE_CACHE = "_hub_schedule"


def schedule_of(policy: Policy) -> PremiumSchedule | None:
    """The policy's premium schedule (instalment policies only), read once per policy object."""
    if not hasattr(policy, _SCHEDULE_CACHE):
        schedule = (
            PremiumSchedule.objects.filter(reference_kind=OBJ_TYPE, reference_id=policy.number)
            .select_related("mandate")
            .first()
        )
        setattr(policy, _SCHEDULE_CACHE, schedule)
    cached: PremiumSchedule | None = getattr(policy, _SCHEDULE_CACHE)
    return cached


def prime_schedules(policies: list[Policy]) -> None:
    """Reads the schedules of many policies in one query (for "my policies")."""
    numbers = [p.number for p in policies if not hasattr(p, _SCHEDULE_CACHE)]
    if not numbers:
        return
    found = {
        s.reference_id: s
        for s in PremiumSchedule.objects.filter(
            reference_kind=OBJ_TYPE, reference_id__in=numbers
        ).select_related("mandate")
    }
    for p in policies:
        if not hasattr(p, _SCHEDULE_CACHE):
            setattr(p, _SCHEDULE_CACHE, found.get(p.number))


def pays_in_instalments(policy: Policy, user: Any = None) -> bool:
    return schedule_of(policy) is not None


def mandate_applies(policy: Policy, user: Any = None) -> bool:
    """A payment authorisation matters while instalments are still to be collected."""
    schedule = schedule_of(policy)
    return schedule is not None and schedule.status in (ScheduleStatus.ACTIVE, ScheduleStatus.LAPSED)


def grace_ends_on(policy: Policy) -> datetime.date | None:
    """The last day to pay the overdue premium of a policy in grace: the oldest overdue
    instalment's due date plus the schedule's grace days."""
    schedule = schedule_of(policy)
    if schedule is None:
        return None
    oldest = (
        Instalment.objects.filter(schedule=schedule, status=InstalmentStatus.OVERDUE)
        .order_by("due_on")
        .values_list("due_on", flat=True)
        .first()
    )
    if oldest is None:
        return None
    return billing_rules.grace_ends(oldest, schedule.grace_days)


def reinstatement_until(policy: Policy) -> datetime.date | None:
    """The last day a lapsed policy may be reinstated (billing's rule: two years on)."""
    schedule = schedule_of(policy)
    if schedule is None or schedule.lapsed_on is None:
        return None
    return billing_rules.reinstatement_until(schedule.lapsed_on)


def status_meaning(policy: Policy) -> str:
    """One sentence: what the policy's status means for the customer now."""
    status = policy.status
    if status == PolicyStatus.PENDING_START:
        return _t("保单已签发，将于%(day)s零时起生效。") % {"day": _day(policy.effective_at)}
    if status == PolicyStatus.IN_FORCE:
        return _t("保单有效，正在为您提供保障。")
    if status == PolicyStatus.IN_GRACE:
        ends = grace_ends_on(policy)
        if ends is not None:
            return _t("保费逾期未缴，仍在宽限期内、保障继续。请在%(day)s前缴费，否则保单将失效。") % {
                "day": ends.strftime("%Y-%m-%d")
            }
        return _t("保费逾期未缴，仍在宽限期内、保障继续。请尽快缴费，否则保单将失效。")
    if status == PolicyStatus.LAPSED:
        until = reinstatement_until(policy)
        if until is not None:
            return _t("宽限期内未缴保费，保单效力中止、暂无保障。%(day)s前补缴所欠保费可申请复效。") % {
                "day": until.strftime("%Y-%m-%d")
            }
        return _t("宽限期内未缴保费，保单效力中止、暂无保障。补缴所欠保费后可申请复效。")
    if status == PolicyStatus.REINSTATED:
        return _t("保单已复效，保障已恢复。")
    if status == PolicyStatus.EXPIRED:
        return _t("保险期间已届满，保障已结束。")
    if status == PolicyStatus.CANCELLED_COOLING_OFF:
        return _t("已在犹豫期内退保，保费已退还，保障已结束。")
    if status == PolicyStatus.SURRENDERED:
        return _t("保单已退保，保障已结束。")
    return _t("保单已终止，保障已结束。")


def _day(value: datetime.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d") if value is not None else ""


def _verify_kwargs(policy: Policy) -> Mapping[str, Any]:
    return {"code": policy.verification_code}


def _always(policy: Policy, user: Any) -> bool:
    return True


def _in_grace(policy: Policy, user: Any) -> bool:
    return policy.status == PolicyStatus.IN_GRACE and pays_in_instalments(policy)


def _reinstatable(policy: Policy, user: Any) -> bool:
    schedule = schedule_of(policy)
    return (
        policy.status == PolicyStatus.LAPSED
        and schedule is not None
        and schedule.status == ScheduleStatus.LAPSED
        and schedule.lapsed_on is not None
        and billing_rules.can_reinstate(schedule.lapsed_on, timezone.localdate())
    )


def register_policy_actions() -> None:
    """The actions every policy has (and the instalment ones), registered by the policy app.
    The premium actions name the lifecycle's pages (`policy:premiums`, `policy:reinstate`): were
    a URL name not routed, the hub would leave its action out (see `policy.actions`)."""
    register_action(
        "pay_now",
        label=_("续期缴费"),
        url_name="policy:premiums",
        order=10,
        available=_in_grace,
        icon="pay",
        group="payment",
        api_url_name="api:get_premiums",
    )
    register_action(
        "reinstate",
        label=_("申请复效"),
        url_name="policy:reinstate",
        order=15,
        available=_reinstatable,
        icon="pay",
        group="payment",
        api_url_name="api:get_reinstatement",
    )
    register_action(
        "epolicy",
        label=_("电子保单"),
        url_name="policy:epolicy",
        order=100,
        available=_always,
        icon="document",
        group="documents",
        api_url_name="api:policy_epolicy",
    )
    register_action(
        "premiums",
        label=_("缴费记录"),
        url_name="policy:premiums",
        order=110,
        available=lambda policy, user: pays_in_instalments(policy) and policy.status != PolicyStatus.IN_GRACE,
        icon="pay",
        group="payment",
        api_url_name="api:get_premiums",
    )
    register_action(
        "mandate",
        label=_("代扣授权"),
        url_name="policy:mandate",
        order=250,
        available=mandate_applies,
        icon="card",
        group="payment",
    )
    register_action(
        "history",
        label=_("历史记录"),
        url_name="policy:history",
        order=400,
        available=_always,
        icon="history",
        group="documents",
        api_url_name="api:policy_history",
    )
    register_action(
        "verify",
        label=_("保单验真"),
        url_name="policy:verify",
        order=500,
        available=_always,
        icon="shield",
        group="documents",
        url_kwargs=_verify_kwargs,
    )
    register_action(
        "contact",
        label=_("联系客服"),
        url_name="policy:detail",
        order=900,
        available=_always,
        icon="help",
        group="help",
        fragment="service",
    )
