"""The adjuster's moves before the decision (the decision itself is `claim.decisions`): take a
claim into review, assign it (on complete materials by region, type and workload, or by hand),
ask the customer for more information, send it to investigation by a provider of the shared
network — whose task changes come back as lines of the claim's timeline."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from huibao.catalog.claim_terms import MaterialKind
from huibao.claim.decisions import desk_for_claim, is_person
from huibao.claim.eligibility import MATERIAL_LABELS
from huibao.claim.lifecycle import ClaimStatusChanged, lock_claim, record_step, transition
from huibao.claim.models import Claim, ClaimsDesk
from huibao.claim.states import ClaimStatus
from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from huibao.provider.models import ServiceProvider, ServiceTask
from huibao.provider.rules import TaskSubject
from huibao.provider.selectors import tasks_of_subject
from huibao.provider.services import TaskChanged, assign_task
from huibao.provider.services import cancel as cancel_task
from huibao.provider.states import OPEN_STATUSES as TASK_OPEN
from huibao.provider.states import TaskStatus

log = logging.getLogger(__name__)

# The claims an adjuster is working on (their workload for assignment).
WORKLOAD_STATUSES = (
    ClaimStatus.MATERIALS_COMPLETE,
    ClaimStatus.UNDER_REVIEW,
    ClaimStatus.INFO_REQUESTED,
    ClaimStatus.INVESTIGATING,
    ClaimStatus.APPEALED,
)


def _refuse(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, errors=[FieldError(field, code, message)])


def _handles(desk: ClaimsDesk, claim: Claim) -> bool:
    if desk.insurer_id is not None and desk.insurer_id != claim.insurer_id:
        return False
    if desk.claim_types and claim.claim_type not in desk.claim_types:
        return False
    return not desk.regions or any(claim.region_code.startswith(str(r)) for r in desk.regions)


def pick_adjuster(claim: Claim, *, senior: bool = False, exclude: Sequence[int] = ()) -> ClaimsDesk | None:
    """The desk a claim goes to: the active desks that handle its insurer, region and type
    (`senior`: only seniors, for appeals; `exclude`: user ids, e.g. who decided it); the
    insurer's own adjusters before the agency's; then the fewest open claims; then the most
    specific region; then the longest-serving desk (lowest id)."""
    desks = (
        ClaimsDesk.objects.filter(active=True, user__is_active=True)
        .filter(Q(insurer__isnull=True) | Q(insurer_id=claim.insurer_id))
        .exclude(user_id__in=list(exclude))
    )
    if senior:
        desks = desks.filter(senior=True)
    candidates = [d for d in desks if _handles(d, claim)]
    if not candidates:
        return None
    loads = dict(
        Claim.objects.filter(assigned_to_id__in=[d.user_id for d in candidates], status__in=WORKLOAD_STATUSES)
        .values("assigned_to_id")
        .annotate(n=Count("id"))
        .values_list("assigned_to_id", "n")
    )

    def specificity(desk: ClaimsDesk) -> int:
        return max((len(str(r)) for r in desk.regions if claim.region_code.startswith(str(r))), default=0)

    return min(
        candidates,
        key=lambda d: (d.insurer_id is None, loads.get(d.user_id, 0), -specificity(d), d.pk),
    )


def _set_assignee(claim: Claim, user_id: int | None, *, actor: Any, request: Any = None) -> None:
    before = claim.assigned_to_id
    claim.assigned_to_id = user_id
    claim.assigned_at = timezone.now() if user_id else None
    claim.save(update_fields=["assigned_to", "assigned_at", "updated_at"])
    audit.record(
        "claim.assigned",
        "claim",
        claim.number,
        actor=actor if is_person(actor) else None,
        before={"assigned_to": before},
        after={"assigned_to": user_id, "by": "auto" if not is_person(actor) else f"user:{actor.pk}"},
        request=request,
    )


def auto_assign(claim: Claim) -> int | None:
    """Assigns a locked claim with no adjuster to the best desk; the user id, or None."""
    if claim.assigned_to_id is not None:
        return claim.assigned_to_id
    desk = pick_adjuster(claim)
    if desk is None:
        return None
    _set_assignee(claim, desk.user_id, actor="system")
    return desk.user_id


# The claims whose assignment waits for the end of `assignment_deferred()` (None outside it).
_deferred: contextvars.ContextVar[list[Claim] | None] = contextvars.ContextVar(
    "claim_assignment_deferred", default=None
)
# Decided by the time the block ends (the fast track's, in the submit's transaction): nobody is
# to review them, so nobody is assigned.
_DECIDED = frozenset({ClaimStatus.APPROVED, ClaimStatus.PAYING, ClaimStatus.PAID, ClaimStatus.DENIED})


@contextlib.contextmanager
def assignment_deferred() -> Iterator[None]:
    """Inside a transaction (the customer's submit): a claim whose materials become complete is
    assigned to an adjuster when the block ends, not at the move — and not at all when it was
    decided meanwhile (the fast track approved it: no desk is read, nothing is written). If the
    block raises, nobody is assigned (the transaction is rolled back with it). Nested blocks join
    the outermost."""
    if _deferred.get() is not None:
        yield
        return
    pending: list[Claim] = []
    token = _deferred.set(pending)
    try:
        yield
    finally:
        _deferred.reset(token)
    for claim in pending:
        if claim.status not in _DECIDED:
            auto_assign(claim)


def on_status_changed(event: ClaimStatusChanged) -> None:
    """`claim_status_changed` listener: complete materials go to an adjuster (at the end of
    `assignment_deferred()` when inside one); a withdrawn claim calls off the provider tasks
    still open."""
    if event.to_status == ClaimStatus.MATERIALS_COMPLETE:
        pending = _deferred.get()
        if pending is not None and event.claim is not None:
            pending.append(event.claim)
            return
        claim = event.claim or Claim.objects.select_for_update().filter(pk=event.claim_id).first()
        if claim is not None:
            auto_assign(claim)
    elif event.to_status == ClaimStatus.WITHDRAWN:
        for task in tasks_of_subject("claim", event.number):
            if task.status in TASK_OPEN:
                cancel_task(task, "客户已撤销报案", actor="system")


def assign(claim: Claim, *, to: Any, actor: Any, request: Any = None) -> Claim:
    """Assigns the claim by hand to the adjuster `to` (a user with a desk that handles the
    claim's insurer), or with `to=None` to the best desk."""
    with transaction.atomic():
        locked = lock_claim(claim.public_id)
        desk_for_claim(actor, locked)
        if to is None:
            desk = pick_adjuster(locked)
            if desk is None:
                raise _refuse("assignee", "no_adjuster", "没有可分配的理赔人员")
        else:
            desk = ClaimsDesk.objects.filter(user_id=getattr(to, "pk", to), active=True).first()
            if desk is None or (desk.insurer_id is not None and desk.insurer_id != locked.insurer_id):
                raise _refuse("assignee", "assignee_invalid", "该人员不能处理此案件")
        _set_assignee(locked, desk.user_id, actor=actor, request=request)
    claim.refresh_from_db()
    return claim


def start_review(claim: Claim, *, actor: Any, request: Any = None) -> Claim:
    """materials_complete → under_review; an unassigned claim becomes the reviewer's."""
    with transaction.atomic():
        locked = lock_claim(claim.public_id)
        desk_for_claim(actor, locked)
        if locked.status != ClaimStatus.MATERIALS_COMPLETE:
            raise Conflict("该案件当前不能开始审核", code="not_reviewable")
        transition(locked, ClaimStatus.UNDER_REVIEW, actor=actor)
        if locked.assigned_to_id is None and is_person(actor):
            _set_assignee(locked, actor.pk, actor=actor, request=request)
    claim.refresh_from_db()
    return claim


def request_info(claim: Claim, *, kinds: Sequence[str], note: str, actor: Any, request: Any = None) -> Claim:
    """under_review → info_requested: the customer is told what to add (material kinds and a note);
    each kind asked for needs a new upload before they can resubmit."""
    chosen: list[str] = []
    for kind in kinds:
        try:
            chosen.append(MaterialKind(kind).value)
        except ValueError:
            raise _refuse("kinds", "kind_invalid", "材料类型不正确") from None
    note = (note or "").strip()
    if not chosen and not note:
        raise _refuse("kinds", "nothing_requested", "请选择需要补充的材料或填写说明")
    if len(note) > 300:
        raise _refuse("note", "note_too_long", "说明最多300个字")
    with transaction.atomic():
        locked = lock_claim(claim.public_id)
        desk_for_claim(actor, locked)
        if locked.status != ClaimStatus.UNDER_REVIEW:
            raise Conflict("只有审核中的案件可以要求补充材料", code="not_under_review")
        wanted = "、".join(str(MATERIAL_LABELS[MaterialKind(k)]) for k in dict.fromkeys(chosen))
        text = "；".join(x for x in (f"请补充：{wanted}" if wanted else "", note) if x)
        locked.info_request = {
            "kinds": list(dict.fromkeys(chosen)),
            "at": timezone.now().isoformat(),
            "note": note,
        }
        locked.save(update_fields=["info_request", "updated_at"])
        transition(locked, ClaimStatus.INFO_REQUESTED, actor=actor, note=text)
    claim.refresh_from_db()
    return claim


def send_to_investigation(
    claim: Claim,
    *,
    task_kind: str,
    summary: str,
    actor: Any,
    provider: ServiceProvider | None = None,
    due_hours: int | None = None,
    request: Any = None,
) -> ServiceTask:
    """under_review → investigating, with a task offered to a provider of the network (the one
    chosen, or the best match for the region). Refused, changing nothing, when the provider
    app refuses (no provider for the region, one that cannot do the kind…)."""
    summary = (summary or "").strip()
    if not summary:
        raise _refuse("summary", "summary_required", "请填写调查事项")
    with transaction.atomic():
        locked = lock_claim(claim.public_id)
        desk_for_claim(actor, locked)
        if locked.status != ClaimStatus.UNDER_REVIEW:
            raise Conflict("只有审核中的案件可以发起调查", code="not_under_review")
        task = assign_task(
            TaskSubject(
                kind="claim",
                reference=locked.number,
                region=locked.region_code,
                summary=summary[:200],
                insurer=locked.insurer.code,
            ),
            task_kind,
            provider,
            due_hours=due_hours,
            actor=actor,
        )
        transition(
            locked,
            ClaimStatus.INVESTIGATING,
            actor=actor,
            note=f"已委托{task.provider.name}进行{task.get_kind_display()}",
        )
    return task


def on_task_changed(event: TaskChanged) -> None:
    """A provider's task of a claim changed: a line on the claim's timeline (the customer is told);
    once no task of the claim is open any more, the investigation is over and the claim goes back
    to review (`task_changed` listener, inside the provider's transaction)."""
    if event.subject_kind != "claim":
        return
    claim = Claim.objects.select_for_update().filter(number=event.subject_reference).first()
    if claim is None:
        log.warning("task %s names claim %s, which does not exist", event.task_id, event.subject_reference)
        return
    if event.status != TaskStatus.OFFERED or event.overdue:
        record_step(
            claim,
            from_status=claim.status,
            actor=f"provider:{event.provider_name}"[:64],
            note="",
            line=event.status_line,
        )
    if claim.status != ClaimStatus.INVESTIGATING or event.status in TASK_OPEN:
        return
    still_open = [
        t
        for t in tasks_of_subject("claim", claim.number)
        if t.status in TASK_OPEN and t.public_id != event.task_id
    ]
    if event.status == "unassigned" or still_open:
        return
    transition(claim, ClaimStatus.UNDER_REVIEW, actor="system", note="调查已完成，案件回到审核")


def claim_by_number(number: str) -> Claim:
    claim = Claim.objects.filter(number=number).first()
    if claim is None:
        raise NotFound("理赔案件不存在", code="claim_not_found")
    return claim
