"""Holds (暂缓): a screening routed to `hold` waits for a condition elsewhere to clear before anyone
decides the claim or queues it for a person.

The condition is the `related_open_case` rule: another claim of the same claimant or insured has
an open case in the analysts' queue. Deciding this claim before that case is resolved would
decide it blind (the same person may be confirmed a fraudster tomorrow), and queueing it would
give the analysts two cases of one person to resolve apart. So the claim waits:

- when every case it waits on is resolved, the hold is released by the system: to the route the
  screening had without the hold (`then_route`: pass or review), or to review when one of those
  cases was confirmed as fraud;
- an analyst may release it earlier, to review (a case is opened on the held screening) or to
  pass, with a note;
- a later screening of the same subject that routes elsewhere ends the hold.

Every release is audited and announced on `hold_released[kind]`: the claim side moves the claim
out of its on-hold status (to review, or on to the fast track). In the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from huibao.core import audit
from huibao.core.errors import FieldError, ValidationFailed
from huibao.core.hooks import KeyedHook
from huibao.core.states import check_transition
from huibao.core.validators import text_problem
from huibao.fraud.models import FraudCase, FraudHold, ScreenedClaim, Screening
from huibao.fraud.rules import Route, Verdict
from huibao.fraud.states import HOLD_TRANSITIONS, OPEN_STATUSES, RELEASE_ROUTES, CaseStatus, HoldStatus

HOLD_RULE = "related_open_case"
SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class HoldReleased:
    """A held subject continues: `route` is "review" (a case is open for it) or "pass"."""

    subject_kind: str
    reference: str
    screening_id: str
    hold_id: str
    route: str
    case_id: str  # the case opened for a release to review, else ""
    note: str
    by_system: bool


# Keyed by subject kind ("claim"): the claim side registers its listener in its AppConfig.ready().
hold_released: KeyedHook[HoldReleased, None] = KeyedHook("fraud.hold_released")


def open_case(claim: ScreenedClaim, screening: Screening) -> FraudCase:
    """The subject's open case (one at most), pointed at `screening`: its fired rules are the
    case's evidence. Opened for a review or block route, or a hold released to review."""
    case = FraudCase.objects.select_for_update().filter(claim=claim, status__in=OPEN_STATUSES).first()
    if case is not None:  # still in the queue: the analyst sees the latest screening
        case.screening = screening
        case.save(update_fields=["screening"])
        return case
    case = FraudCase.objects.create(claim=claim, screening=screening)
    audit.record(
        "fraud.case_opened",
        "fraud.case",
        str(case.public_id),
        actor="system",
        after={
            "reference": claim.reference,
            "route": screening.route,
            "score": screening.score,
            "evidence": [f"{f['code']}@v{f['version']}" for f in screening.fired],
        },
    )
    return case


def _waiting_on(verdict: Verdict) -> list[str]:
    found = {m.value for f in verdict.fired if f.route == Route.HOLD for m in f.finding.matches if m.value}
    return sorted(found)


def hold(claim: ScreenedClaim, screening: Screening, verdict: Verdict) -> FraudHold:
    """Holds the subject (or points its open hold at the new screening)."""
    reason = "；".join(f.finding.summary for f in verdict.fired if f.route == Route.HOLD)[:300]
    then = Route.REVIEW if verdict.after_hold == Route.REVIEW else Route.PASS
    found = FraudHold.objects.select_for_update().filter(claim=claim, status=HoldStatus.HELD).first()
    if found is not None:
        found.screening, found.reason, found.waiting_on, found.then_route = (
            screening,
            reason,
            _waiting_on(verdict),
            then.value,
        )
        found.save(update_fields=["screening", "reason", "waiting_on", "then_route"])
        return found
    found = FraudHold.objects.create(
        claim=claim,
        screening=screening,
        reason=reason,
        waiting_on=_waiting_on(verdict),
        then_route=then.value,
    )
    audit.record(
        "fraud.hold_opened",
        "fraud.hold",
        str(found.public_id),
        actor=SYSTEM,
        after={"reference": claim.reference, "waiting_on": found.waiting_on, "then": found.then_route},
    )
    return found


def end_hold_on_rescreen(claim: ScreenedClaim, route: Route) -> None:
    """A new screening routed the subject elsewhere: its hold (if any) ends, nothing announced
    (the caller acts on the new route)."""
    found = FraudHold.objects.select_for_update().filter(claim=claim, status=HoldStatus.HELD).first()
    if found is None:
        return
    _mark_released(
        found,
        "review" if route in (Route.REVIEW, Route.BLOCK) else "pass",
        actor=SYSTEM,
        note="重新筛查后不再暂缓",
        request=None,
    )


def _mark_released(hold: FraudHold, to: str, *, actor: Any, note: str, request: HttpRequest | None) -> None:
    check_transition(HOLD_TRANSITIONS, hold.status, HoldStatus.RELEASED, what="fraud hold")
    hold.status = HoldStatus.RELEASED
    hold.released_to = to
    hold.released_at = timezone.now()
    hold.released_by = actor if getattr(actor, "pk", None) else None
    hold.note = note
    hold.save(update_fields=["status", "released_to", "released_at", "released_by", "note"])
    audit.record(
        "fraud.hold_released",
        "fraud.hold",
        str(hold.public_id),
        actor=actor,
        request=request,
        before={"status": HoldStatus.HELD},
        after={"status": HoldStatus.RELEASED, "to": to, "note": note},
    )


def _release(hold: FraudHold, to: str, *, actor: Any, note: str, request: HttpRequest | None) -> FraudHold:
    _mark_released(hold, to, actor=actor, note=note, request=request)
    case = open_case(hold.claim, hold.screening) if to == Route.REVIEW else None
    hold_released.announce(
        hold.screening.subject_kind,
        HoldReleased(
            subject_kind=hold.screening.subject_kind,
            reference=hold.claim.reference,
            screening_id=str(hold.screening.public_id),
            hold_id=str(hold.public_id),
            route=to,
            case_id=str(case.public_id) if case else "",
            note=note,
            by_system=not getattr(actor, "pk", None),
        ),
    )
    return hold


def release_hold(
    hold: FraudHold, *, to: str, actor: Any, note: str, request: HttpRequest | None = None
) -> FraudHold:
    """An analyst releases a held subject before its condition cleared: to review (a case is
    opened in the queue on the held screening) or to pass (the subject's side continues as for a
    clean screen). A note is required."""
    errors: list[FieldError] = []
    if to not in RELEASE_ROUTES:
        errors.append(FieldError("to", "invalid_choice", "放行至：须为人工复核或通过"))
    note = (note or "").strip()
    problem = text_problem(note, max_length=2000, multiline=True) if note else ("required", "必填")
    if problem:
        errors.append(FieldError("note", problem[0], f"放行说明：{problem[1]}"))
    if errors:
        raise ValidationFailed("放行信息有误：" + "；".join(e.message for e in errors), errors=errors)
    with transaction.atomic():
        locked = FraudHold.objects.select_for_update().select_related("claim", "screening").get(pk=hold.pk)
        return _release(locked, to, actor=actor, note=note, request=request)


def release_waiting_on(case: FraudCase) -> int:
    """After `case` was resolved: every hold of the same people whose awaited cases are all
    resolved now is released (to its `then_route`; to review when an awaited case was confirmed).
    Returns how many were released."""
    hashes = sorted({h for h in (case.claim.claimant_id_hash, case.claim.insured_id_hash) if h})
    if not hashes:
        return 0
    candidates = list(
        FraudHold.objects.select_for_update()
        .select_related("claim", "screening")
        .filter(status=HoldStatus.HELD)
        .filter(Q(claim__insured_id_hash__in=hashes) | Q(claim__claimant_id_hash__in=hashes))
        .exclude(claim_id=case.claim_id)
        .order_by("created_at", "id")
    )
    candidates = [h for h in candidates if str(case.public_id) in h.waiting_on]
    if not candidates:
        return 0
    awaited = {key for h in candidates for key in h.waiting_on}
    statuses = dict(
        (str(k), v)
        for k, v in FraudCase.objects.filter(public_id__in=awaited).values_list("public_id", "status")
    )
    released = 0
    for found in candidates:
        mine = [statuses.get(key, CaseStatus.CLEARED) for key in found.waiting_on]
        if any(s in OPEN_STATUSES for s in mine):
            continue  # still waiting on another case
        confirmed = CaseStatus.CONFIRMED in mine
        to = Route.REVIEW.value if confirmed else found.then_route
        note = "关联案件已确认欺诈，转人工复核" if confirmed else "关联案件已处理完毕"
        _release(found, to, actor=SYSTEM, note=note, request=None)
        released += 1
    return released
