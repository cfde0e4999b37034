"""Read queries and access checkpoints: a customer reaches only their own policies."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from huibao.core.errors import FieldError, NotFound, ValidationFailed
from huibao.core.models import AuditEntry
from huibao.policy.endorsement_rules import KIND_LABELS
from huibao.policy.lifecycle import policy_state_at
from huibao.policy.models import Endorsement, Policy, PolicyStatusChange, PolicyVersion
from huibao.policy.states import COVERED_STATUSES, LIVE_POLICY_STATUSES, EndorsementStatus, PolicyStatus


def policies_of(user: Any) -> QuerySet[Policy]:
    """The customer's policies, newest first (none for anonymous visitors)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Policy.objects.none()
    return (
        Policy.objects.filter(customer_id=user.pk)
        .select_related("insurer", "product_version__product", "plan")
        .order_by("-issued_at", "-id")
    )


def policy_for_customer(user: Any, public_id: Any) -> Policy:
    """The customer's policy by public id, with its parties and beneficiaries; NotFound for
    anyone else's (no hint that it exists)."""
    policy = (
        policies_of(user).filter(public_id=public_id).prefetch_related("parties", "beneficiaries").first()
        if public_id
        else None
    )
    if policy is None:
        raise NotFound("保单不存在", code="policy_not_found")
    return policy


def in_force_death_benefit(id_hashes: Iterable[str]) -> dict[str, Decimal]:
    """Death benefit of the live policies (in force or about to start) per insured person, by
    ID hash: what counts towards an insured person's aggregate limits."""
    totals = (
        Policy.objects.filter(insured_id_hash__in=set(id_hashes), status__in=LIVE_POLICY_STATUSES)
        .values("insured_id_hash")
        .annotate(total=Sum("death_benefit"))
    )
    return {row["insured_id_hash"]: row["total"] or Decimal(0) for row in totals}


# --- the policy's history ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One line of a policy's history, oldest first. `kind` is "issued" or "status" (the
    servicing features add theirs: "endorsement", …); `status` the status after it, if it moved."""

    at: datetime.datetime
    kind: str
    title: str
    detail: str = ""
    status: str = ""
    status_label: str = ""


REASON_LABELS: dict[str, Any] = {
    "issued": _("保单签发"),
    "start": _("保单生效"),
    "expiry": _("保险期间届满"),
    "instalment_overdue": _("保费逾期未缴，进入宽限期"),
    "overdue_paid": _("补缴逾期保费，恢复正常"),
    "grace_over": _("宽限期满未缴费，保单效力中止"),
    "reinstated": _("补缴所欠保费，保单复效"),
    "cooling_off_cancellation": _("犹豫期内退保"),
    "surrender": _("退保"),
    "termination": _("保单终止"),
}


def _status_label(value: str) -> str:
    try:
        return str(PolicyStatus(value).label)
    except ValueError:
        return value


# Audit entries of the policy (object type "policy", id its number) that are events of its life,
# by action: what the timeline calls them. A servicing feature adds its own here.
AUDIT_EVENTS: dict[str, Any] = {
    "policy.mandate_signed": _("签署代扣授权"),
    "policy.mandate_revoked": _("解约代扣授权"),
}


def policy_timeline(policy: Policy) -> list[TimelineEvent]:
    """The policy's history, oldest first: its issuance, every status change (from the
    lifecycle's `PolicyStatusChange` rows) and the audited events of `AUDIT_EVENTS`. The one
    place the history page and the API read; a servicing feature adds its own events here
    (endorsement versions, refunds…)."""
    events: list[TimelineEvent] = []
    changes = list(PolicyStatusChange.objects.filter(policy=policy).order_by("at", "id"))
    if not any(c.reason == "issued" for c in changes):
        events.append(TimelineEvent(at=policy.issued_at, kind="issued", title=str(REASON_LABELS["issued"])))
    for change in changes:
        label = REASON_LABELS.get(change.reason)
        events.append(
            TimelineEvent(
                at=change.at,
                kind="issued" if change.reason == "issued" else "status",
                title=str(label) if label is not None else change.reason,
                detail=change.note,
                status=change.to_status,
                status_label=_status_label(change.to_status),
            )
        )
    audited = AuditEntry.objects.filter(
        object_type="policy", object_id=policy.number, action__in=list(AUDIT_EVENTS)
    ).order_by("occurred_at", "id")
    for entry in audited:
        events.append(
            TimelineEvent(at=entry.occurred_at, kind="audit", title=str(AUDIT_EVENTS[entry.action]))
        )
    events.extend(_endorsement_events(policy))
    events.sort(key=lambda e: e.at)
    return events


_ENDORSEMENT_OUTCOMES: dict[str, Any] = {
    EndorsementStatus.REJECTED: _("未通过审核"),
    EndorsementStatus.WITHDRAWN: _("已撤销"),
    EndorsementStatus.EXPIRED: _("已过期"),
}


def _endorsement_events(policy: Policy) -> list[TimelineEvent]:
    """Each endorsement requested, and what became of it: applied (the data version it made),
    rejected (why), withdrawn or expired."""
    events: list[TimelineEvent] = []
    for e in Endorsement.objects.filter(policy=policy).order_by("sequence"):
        label = KIND_LABELS.get(e.kind, e.kind)
        events.append(
            TimelineEvent(at=e.requested_at, kind="endorsement", title=f"{_('申请')}{label}", detail=e.number)
        )
        if e.status == EndorsementStatus.APPLIED and e.effective_at is not None:
            events.append(
                TimelineEvent(
                    at=e.effective_at,
                    kind="endorsement",
                    title=f"{label}{_('生效')}",
                    detail=f"{e.number} · " + str(_("保单数据第%(v)s版") % {"v": e.version}),
                )
            )
        elif e.status in _ENDORSEMENT_OUTCOMES:
            at = e.decided_at or e.updated_at
            detail = f"{e.number} · {e.decision_reason}" if e.decision_reason else e.number
            events.append(
                TimelineEvent(
                    at=at,
                    kind="endorsement",
                    title=f"{label}{_ENDORSEMENT_OUTCOMES[e.status]}",
                    detail=detail,
                )
            )
    return events


def data_version_at(policy: Policy, when: datetime.datetime) -> int | None:
    """The policy's data version at `when` (1 as issued; None before issuance)."""
    if when < policy.issued_at:
        return None
    number = (
        PolicyVersion.objects.filter(policy=policy, valid_from__lte=when)
        .order_by("-valid_from", "-number")
        .values_list("number", flat=True)
        .first()
    )
    return number or 1


@dataclass(frozen=True, slots=True)
class PolicyAsOf:
    """The policy as it stood at the end of a day: its status then (\"\" before it existed)."""

    on: datetime.date
    status: str
    status_label: str
    existed: bool
    covered: bool
    events: tuple[TimelineEvent, ...]
    data_version: int | None = None  # the policy data version then (endorsements make 2, 3, …)


def policy_as_of(policy: Policy, on: datetime.date) -> PolicyAsOf:
    """Status of the policy at the end of day `on` (local time), and its history up to then."""
    end = timezone.make_aware(datetime.datetime.combine(on + datetime.timedelta(days=1), datetime.time.min))
    status = policy_state_at(policy, end - datetime.timedelta(microseconds=1))
    return PolicyAsOf(
        on=on,
        status=status,
        status_label=_status_label(status) if status else "",
        existed=bool(status),
        covered=status in COVERED_STATUSES,
        events=tuple(e for e in policy_timeline(policy) if e.at < end),
        data_version=data_version_at(policy, end - datetime.timedelta(microseconds=1)),
    )


def parse_on(value: str | None) -> datetime.date | None:
    """The `?on=YYYY-MM-DD` of the history page and API; ValidationFailed naming `on`."""
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            "日期格式不正确",
            code="invalid_date",
            errors=[FieldError("on", "invalid_date", "日期格式应为YYYY-MM-DD，例如2026-01-31")],
        ) from None
