"""The claim lifecycle: the one guarded way a claim's status changes, and its timeline.

`transition(claim, target, actor=…, note=…)` is the only function that writes `Claim.status`
after the report. The caller holds the claim's row lock (`lock_claim`, inside its transaction);
the move is checked against `TRANSITIONS`, saved with the step's timestamp, written as a
`ClaimStatusChange` (the customer's timeline) and an audit entry (`claim.status_changed`), the
customer is told (outbox, same transaction), then it is announced on `claim_status_changed`,
whose listeners (the fast track, the insurer connector of wave 2) run in the same transaction.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from huibao.claim import notices
from huibao.claim.models import Claim, ClaimStatusChange
from huibao.claim.states import CUSTOMER_LINES, TRANSITIONS, ClaimStatus
from huibao.core import audit
from huibao.core.errors import NotFound
from huibao.core.hooks import Hook
from huibao.core.states import check_transition
from huibao.notification import services as notification

OBJ_TYPE = "claim"
SYSTEM = "system"

# The timestamp a step sets on the claim.
_STAMPS = {
    ClaimStatus.MATERIALS_COMPLETE: "materials_complete_at",
    ClaimStatus.APPROVED: "decided_at",
    ClaimStatus.DENIED: "decided_at",
    ClaimStatus.PAID: "paid_at",
}


@dataclass(frozen=True, slots=True)
class ClaimStatusChanged:
    """What `claim_status_changed` listeners receive (after the row, the audit entry and the
    customer's notice)."""

    claim_id: int
    number: str
    from_status: str
    to_status: str
    at: datetime.datetime
    actor: str


claim_status_changed: Hook[ClaimStatusChanged, None] = Hook("claim.status_changed")


def actor_label(actor: Any) -> str:
    if actor is None:
        return ""
    if isinstance(actor, str):
        return actor[:64]
    pk = getattr(actor, "pk", None)
    return f"user:{pk}" if pk is not None else str(actor)[:64]


def lock_claim(public_id: str | uuid.UUID) -> Claim:
    """The claim, locked until the end of the caller's transaction. Raises NotFound."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise NotFound("理赔案件不存在", code="claim_not_found") from None
    claim = Claim.objects.select_for_update().filter(public_id=key).first()
    if claim is None:
        raise NotFound("理赔案件不存在", code="claim_not_found")
    return claim


def record_step(
    claim: Claim, *, from_status: str, actor: Any, note: str, line: str = ""
) -> ClaimStatusChange:
    """The timeline row of a move (or of the report: from "") and the customer's notice."""
    change = ClaimStatusChange.objects.create(
        claim=claim,
        from_status=from_status,
        to_status=claim.status,
        at=timezone.now(),
        actor=actor_label(actor),
        line=(line or CUSTOMER_LINES[claim.status])[:200],
        note=note[:500],
    )
    if from_status and claim.claimant is not None:
        notification.notify(
            user=claim.claimant,
            template=notices.PROGRESS,
            context={"claim_number": claim.number, "status_line": change.line, "note": change.note},
            dedup_key=f"claim:{claim.number}:{change.pk}",
            reference=claim.number,
        )
    return change


def _pause_clock(claim: Claim, before: str, target: str, now: datetime.datetime) -> list[str]:
    """The decision clock stops when more information is asked (→ info_requested) and runs again
    when the customer supplies it (info_requested → anything): the fields changed."""
    if target == ClaimStatus.INFO_REQUESTED and claim.sla_paused_since is None:
        claim.sla_paused_since = now
        return ["sla_paused_since"]
    if before == ClaimStatus.INFO_REQUESTED and claim.sla_paused_since is not None:
        claim.sla_paused = (claim.sla_paused or datetime.timedelta(0)) + (now - claim.sla_paused_since)
        claim.sla_paused_since = None
        return ["sla_paused", "sla_paused_since"]
    return []


def transition(claim: Claim, target: str, *, actor: Any, note: str = "", line: str = "") -> ClaimStatusChange:
    """Moves the (locked) `claim` to `target`; raises InvalidTransition when the table forbids it
    (nothing written). `note` is shown to the customer under the step (a reason, what to add);
    `line` replaces the status's standard line."""
    check_transition(TRANSITIONS, claim.status, target, what=f"claim {claim.number}")
    before = claim.status
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        claim.status = target
        claim.status_since = now
        fields = ["status", "status_since", "updated_at"]
        stamp = _STAMPS.get(ClaimStatus(target))
        if stamp is not None:
            setattr(claim, stamp, now)
            fields.append(stamp)
        fields += _pause_clock(claim, before, target, now)
        claim.save(update_fields=fields)
        change = record_step(claim, from_status=before, actor=actor, note=note, line=line)
        audit.record(
            "claim.status_changed",
            OBJ_TYPE,
            claim.number,
            actor=actor,
            before={"status": before},
            after={"status": target, "actor": actor_label(actor), "note": note[:200]},
        )
        claim_status_changed.announce(
            ClaimStatusChanged(
                claim_id=claim.pk,
                number=claim.number,
                from_status=before,
                to_status=target,
                at=change.at,
                actor=change.actor,
            )
        )
    return change
