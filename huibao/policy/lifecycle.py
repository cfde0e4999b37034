"""The policy lifecycle: the one guarded way a policy's status changes, and its history.

`transition(policy, target, reason=…, actor=…)` is the only function that writes
`Policy.status` after issuance. The caller holds the policy's row lock (`lock_policy`, inside
its transaction); the move is checked against `POLICY_TRANSITIONS`, saved, written as a
`PolicyStatusChange` row (the history: what `policy_state_at` reads) and as an audit entry
(`policy.status_changed`), then announced on the `policy_status_changed` hook, whose listeners
run in the same transaction (notifications, renewal, claims…).

Reasons are short codes (`Reason`), stable: pages and listeners may branch on them.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from huibao.core import audit
from huibao.core.errors import NotFound
from huibao.core.hooks import Hook
from huibao.core.states import check_transition
from huibao.policy.models import Policy, PolicyStatusChange
from huibao.policy.states import POLICY_TRANSITIONS

OBJ_TYPE = "policy"
SYSTEM = "system"


class Reason:
    """The reason codes of the platform's own moves (servicing branches add theirs)."""

    ISSUED = "issued"
    START = "start"
    EXPIRY = "expiry"
    INSTALMENT_OVERDUE = "instalment_overdue"
    OVERDUE_PAID = "overdue_paid"
    GRACE_OVER = "grace_over"
    REINSTATED = "reinstated"
    COOLING_OFF_CANCELLATION = "cooling_off_cancellation"
    SURRENDER = "surrender"
    TERMINATION = "termination"


@dataclass(frozen=True, slots=True)
class PolicyStatusChanged:
    """What `policy_status_changed` listeners receive (after the row and the audit entry)."""

    policy_id: int
    number: str
    from_status: str
    to_status: str
    reason: str
    at: datetime.datetime


policy_status_changed: Hook[PolicyStatusChanged, None] = Hook("policy.status_changed")


def actor_label(actor: Any) -> str:
    """How a change's actor is kept on its row: a label as given, a user as `user:<id>` (never a
    phone number or a name)."""
    if actor is None:
        return ""
    if isinstance(actor, str):
        return actor[:64]
    pk = getattr(actor, "pk", None)
    return f"user:{pk}" if pk is not None else str(actor)[:64]


def lock_policy(pk_or_public_id: int | str | uuid.UUID) -> Policy:
    """The policy (by primary key, or by public id), locked until the end of the caller's
    transaction. Raises NotFound."""
    query = Policy.objects.select_for_update()
    if isinstance(pk_or_public_id, int) and not isinstance(pk_or_public_id, bool):
        policy = query.filter(pk=pk_or_public_id).first()
    else:
        try:
            public_id = uuid.UUID(str(pk_or_public_id))
        except ValueError:
            raise NotFound("保单不存在", code="policy_not_found") from None
        policy = query.filter(public_id=public_id).first()
    if policy is None:
        raise NotFound("保单不存在", code="policy_not_found")
    return policy


def transition(
    policy: Policy,
    target: str,
    *,
    reason: str,
    actor: Any,
    at: datetime.datetime | None = None,
    detail: dict[str, Any] | None = None,
) -> PolicyStatusChange:
    """Moves the (locked) `policy` to `target`; raises InvalidTransition when the table forbids
    it (nothing written). `at` is when the change takes effect (default now), `detail` what the
    audit entry keeps besides (its "note", if any, is kept on the row too)."""
    if not reason:
        raise ValueError("transition(): a reason is required")
    check_transition(POLICY_TRANSITIONS, policy.status, target, what=f"policy {policy.number}")
    at = at or timezone.now()
    # The history stays in order: a change never takes effect before the one it follows.
    latest = (
        PolicyStatusChange.objects.filter(policy=policy).order_by("-at").values_list("at", flat=True).first()
    )
    if latest is not None and at < latest:
        at = latest
    before = policy.status
    extra = dict(detail or {})
    note = str(extra.get("note", ""))[:200]
    with transaction.atomic(savepoint=False):
        policy.status = target
        policy.save(update_fields=["status"])
        change = PolicyStatusChange.objects.create(
            policy=policy,
            from_status=before,
            to_status=target,
            reason=reason,
            note=note,
            at=at,
            actor=actor_label(actor),
        )
        audit.record(
            "policy.status_changed",
            OBJ_TYPE,
            policy.number,
            actor=actor,
            before={"status": before},
            after={"status": target, "reason": reason, "at": at, **extra},
        )
        policy_status_changed.announce(
            PolicyStatusChanged(
                policy_id=policy.pk,
                number=policy.number,
                from_status=before,
                to_status=target,
                reason=reason,
                at=at,
            )
        )
    return change


def transition_many(
    moves: Sequence[tuple[Policy, datetime.datetime]],
    target: str,
    *,
    reason: str,
    actor: Any,
    details: Sequence[Mapping[str, Any]] | None = None,
) -> list[PolicyStatusChange]:
    """`transition` for a batch of (locked) policies moving to the same `target`, each at its own
    time (a sweep's starts or expiries, billing's overdue marks): the same checks, rows, audit
    entries and announcements, in a fixed number of statements for the batch — the latest
    history time of each policy (one query), their status (one UPDATE), their history rows (one
    insert); the listeners run per policy, in order. `details`, one per move, is what each audit
    entry keeps besides (as `transition`'s `detail`). Raises InvalidTransition before writing
    anything if any move is forbidden."""
    if not reason:
        raise ValueError("transition_many(): a reason is required")
    if not moves:
        return []
    if details is not None and len(details) != len(moves):
        raise ValueError("transition_many(): one detail per move")
    for policy, _ in moves:
        check_transition(POLICY_TRANSITIONS, policy.status, target, what=f"policy {policy.number}")
    latest = dict(
        PolicyStatusChange.objects.filter(policy_id__in=[p.pk for p, _ in moves])
        .values("policy_id")
        .annotate(last=Max("at"))
        .values_list("policy_id", "last")
    )
    label = actor_label(actor)
    changes: list[PolicyStatusChange] = []
    events: list[PolicyStatusChanged] = []
    with transaction.atomic(savepoint=False):
        for index, (policy, when) in enumerate(moves):
            last = latest.get(policy.pk)
            at = last if last is not None and when < last else when
            before = policy.status
            policy.status = target
            extra = dict(details[index]) if details is not None else {}
            changes.append(
                PolicyStatusChange(
                    policy=policy,
                    from_status=before,
                    to_status=target,
                    reason=reason,
                    note=str(extra.get("note", ""))[:200],
                    at=at,
                    actor=label,
                )
            )
            audit.record(
                "policy.status_changed",
                OBJ_TYPE,
                policy.number,
                actor=actor,
                before={"status": before},
                after={"status": target, "reason": reason, "at": at, **extra},
            )
            events.append(
                PolicyStatusChanged(
                    policy_id=policy.pk,
                    number=policy.number,
                    from_status=before,
                    to_status=target,
                    reason=reason,
                    at=at,
                )
            )
        Policy.objects.filter(pk__in=[p.pk for p, _ in moves]).update(status=target)
        PolicyStatusChange.objects.bulk_create(changes)
        for event in events:
            policy_status_changed.announce(event)
    return changes


def issued_change(policy: Policy, *, at: datetime.datetime, actor: Any = SYSTEM) -> PolicyStatusChange:
    """The first history row of a new policy (unsaved: issuance inserts those of all its items at
    once): its status at issuance, reason "issued". No hook: issuance is announced on its own."""
    return PolicyStatusChange(
        policy=policy,
        from_status="",
        to_status=policy.status,
        reason=Reason.ISSUED,
        at=at,
        actor=actor_label(actor),
    )


# The columns `issued_change_values` gives, in its order (the rest take their defaults).
ISSUED_CHANGE_FIELDS = ("policy_id", "from_status", "to_status", "reason", "at", "actor")


def issued_change_values(policy: Policy, *, at: datetime.datetime, actor: Any = SYSTEM) -> tuple[Any, ...]:
    """`issued_change` as the values of `ISSUED_CHANGE_FIELDS` (for `core.bulkcopy.copy_rows`:
    no model instance per row when many policies are issued at once)."""
    return (policy.pk, "", policy.status, Reason.ISSUED, at, actor_label(actor))


def policy_state_at(policy: Policy, when: datetime.datetime) -> str:
    """The status the policy had at `when`, from its history: the last change that had taken
    effect by then; "" before its first row (the policy did not exist yet). A policy with no
    history at all (not expected: issuance and the migration write one) answers its current
    status."""
    rows = PolicyStatusChange.objects.filter(policy=policy)
    last = rows.filter(at__lte=when).order_by("-at", "-id").values_list("to_status", flat=True).first()
    if last is not None:
        return last
    return "" if rows.exists() else policy.status
