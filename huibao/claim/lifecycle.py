"""The claim lifecycle: the one guarded way a claim's status changes, and its timeline.

`transition(claim, target, actor=…, note=…)` is the only function that writes `Claim.status`
after the report. The caller holds the claim's row lock (`lock_claim`, inside its transaction);
the move is checked against `TRANSITIONS`, saved with the step's timestamp, written as a
`ClaimStatusChange` (the customer's timeline) and an audit entry (`claim.status_changed`), the
customer is told (outbox, same transaction), then it is announced on `claim_status_changed`,
whose listeners (the fast track, the insurer connector of wave 2) run in the same transaction.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from huibao.account.models import User
from huibao.claim import notices, selectors
from huibao.claim.models import Claim, ClaimStatusChange
from huibao.claim.states import CUSTOMER_LINES, TRANSITIONS, ClaimStatus
from huibao.core import audit, taskqueue
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
    # The claim row the mover holds locked, as moved (listeners in the same transaction use it
    # instead of reading it again; None when an announcer has no row at hand).
    claim: Claim | None = None


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


# The moves recorded inside `batched()`, not written yet (None outside it): each timeline row with
# the claim it belongs to (for the customer's notice).
_steps: contextvars.ContextVar[list[tuple[ClaimStatusChange, Claim]] | None] = contextvars.ContextVar(
    "claim_steps", default=None
)


@contextlib.contextmanager
def batched() -> Iterator[None]:
    """Inside a transaction: the timeline rows of the moves made in the block are inserted
    together when it ends (one INSERT), then the customers' notices of those moves are written
    (one outbox write: `notification.notify_many`), and the block's audit entries are inserted
    together (`audit.batched`); an insurer's claim settings are read once
    (`selectors.settings_read_once`), and the tasks queued after commit (the payout's
    submission, the notices' sends) are queued by one insert (`taskqueue.batched`). A use-case
    that makes several moves in one transaction (the fast track's submit: materials_complete,
    approved, paying) pays one round trip for each kind of row instead of one per move. Nothing
    inside the block may read the rows back; the rows returned by `transition` get their ids at
    the end. If the block raises, nothing is written (the transaction is rolled back with it).
    Nested blocks join the outermost."""
    if _steps.get() is not None:
        yield
        return
    pending: list[tuple[ClaimStatusChange, Claim]] = []
    with taskqueue.batched(), audit.batched(), selectors.settings_read_once():
        token = _steps.set(pending)
        try:
            yield
        finally:
            _steps.reset(token)
        if pending:
            _write_steps(pending)


def _write_steps(pending: list[tuple[ClaimStatusChange, Claim]]) -> None:
    ClaimStatusChange.objects.bulk_create([change for change, _claim in pending])
    _notify([(change, claim) for change, claim in pending if change.from_status])


def _notify(moves: list[tuple[ClaimStatusChange, Claim]]) -> None:
    """The customer's notice of each move (one outbox write for them all); a claimant not loaded
    on its claim is read with the others in one query."""
    moves = [(change, claim) for change, claim in moves if claim.claimant_id is not None]
    if not moves:
        return
    users: dict[int, User] = {}
    for _change, claim in moves:
        if Claim.claimant.is_cached(claim) and claim.claimant is not None:
            users[claim.claimant.pk] = claim.claimant
    missing = {c.claimant_id for _change, c in moves if c.claimant_id is not None} - users.keys()
    if missing:
        users.update({u.pk: u for u in User.objects.filter(pk__in=missing)})
    notification.notify_many(
        [
            notification.Notice(
                users[claim.claimant_id],
                notices.PROGRESS,
                {"claim_number": claim.number, "status_line": change.line, "note": change.note},
                f"claim:{claim.number}:{change.pk}",
                claim.number,
            )
            for change, claim in moves
            if claim.claimant_id in users
        ]
    )


def record_step(
    claim: Claim, *, from_status: str, actor: Any, note: str, line: str = ""
) -> ClaimStatusChange:
    """The timeline row of a move (or of the report: from "") and the customer's notice (at the
    end of `batched()` when inside one)."""
    change = ClaimStatusChange(
        claim=claim,
        from_status=from_status,
        to_status=claim.status,
        at=timezone.now(),
        actor=actor_label(actor),
        line=(line or CUSTOMER_LINES[claim.status])[:200],
        note=note[:500],
    )
    pending = _steps.get()
    if pending is not None:
        pending.append((change, claim))
        return change
    change.save()
    if from_status:
        _notify([(change, claim)])
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


def transition(
    claim: Claim, target: str, *, actor: Any, note: str = "", line: str = "", fields: Sequence[str] = ()
) -> ClaimStatusChange:
    """Moves the (locked) `claim` to `target`; raises InvalidTransition when the table forbids it
    (nothing written). `note` is shown to the customer under the step (a reason, what to add);
    `line` replaces the status's standard line; `fields`: other fields the caller set on the
    claim, saved in the move's UPDATE (a decision's)."""
    check_transition(TRANSITIONS, claim.status, target, what=f"claim {claim.number}")
    before = claim.status
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        claim.status = target
        claim.status_since = now
        saved = ["status", "status_since", "updated_at", *fields]
        stamp = _STAMPS.get(ClaimStatus(target))
        if stamp is not None:
            setattr(claim, stamp, now)
            saved.append(stamp)
        saved += _pause_clock(claim, before, target, now)
        claim.save(update_fields=saved)
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
                claim=claim,
            )
        )
    return change
