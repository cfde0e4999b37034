"""Reads of the insurers' side of claims: the chase board (per insurer, the claims waiting on it
with the time since each step, those past the promised time flagged) and the settings list.
Staff pages and the API call these; access is checked by their callers (staff permissions)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from huibao.catalog.models import Insurer
from huibao.claim import insurer_rules
from huibao.claim.insurer import UNDECIDED, terms_for
from huibao.claim.insurer_models import ClaimChase, InsurerClaimDelivery
from huibao.claim.insurer_rules import InsurerTerms
from huibao.claim.insurer_states import Payer
from huibao.claim.models import Claim, ClaimStatusChange, InsurerClaimSettings
from huibao.claim.states import ClaimStatus


def elapsed_label(delta: datetime.timedelta) -> str:
    """ "3天4小时", "5小时", "12分钟": the time since a step, as staff read it."""
    seconds = max(int(delta.total_seconds()), 0)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    if days:
        return _("%(days)d天%(hours)d小时") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d小时") % {"hours": hours}
    return _("%(minutes)d分钟") % {"minutes": rest // 60}


@dataclass(frozen=True, slots=True)
class Step:
    label: str  # Chinese msgid, translated by the page
    at: datetime.datetime
    since: str


@dataclass(frozen=True, slots=True)
class WaitingClaim:
    claim: Claim
    delivery: InsurerClaimDelivery | None
    steps: tuple[Step, ...]
    last_step_since: str
    due_at: datetime.datetime | None
    overdue: bool
    overdue_by: str
    chases: int
    last_chase: ClaimChase | None


@dataclass(slots=True)
class InsurerWaiting:
    insurer: Insurer
    terms: InsurerTerms
    claims: list[WaitingClaim] = field(default_factory=list)

    @property
    def overdue_count(self) -> int:
        return sum(1 for c in self.claims if c.overdue)


def waiting_claims() -> Q:
    """Claims waiting on their insurer: undecided, or approved and to be paid by the insurer."""
    return Q(status__in=UNDECIDED) | Q(
        status=ClaimStatus.APPROVED,
        insurer_delivery__payer=Payer.INSURER,
        insurer_delivery__paid_at__isnull=True,
    )


def chase_board(
    now: datetime.datetime | None = None, *, insurer_code: str = "", limit: int = 500
) -> list[InsurerWaiting]:
    """Per insurer, the claims waiting on it (oldest complete materials first)."""
    now = now or timezone.now()
    claims = list(
        Claim.objects.filter(waiting_claims())
        .filter(**({"insurer__code": insurer_code} if insurer_code else {}))
        .select_related("insurer", "insurer_delivery", "overdue")
        .order_by("insurer__name", "materials_complete_at", "reported_at", "id")[:limit]
    )
    ids = [c.pk for c in claims]
    last_moves: dict[int, datetime.datetime] = {}
    for claim_id, at in ClaimStatusChange.objects.filter(claim_id__in=ids).values_list("claim_id", "at"):
        last_moves[claim_id] = max(at, last_moves.get(claim_id, at))
    chases: dict[int, list[ClaimChase]] = {}
    for chase in ClaimChase.objects.filter(claim_id__in=ids).order_by("-at", "-id"):
        chases.setdefault(chase.claim_id, []).append(chase)
    board: dict[int, InsurerWaiting] = {}
    for claim in claims:
        group = board.get(claim.insurer_id)
        if group is None:
            group = board[claim.insurer_id] = InsurerWaiting(
                insurer=claim.insurer, terms=terms_for(claim.insurer_id)
            )
        delivery = getattr(claim, "insurer_delivery", None)
        moments: list[tuple[str, datetime.datetime | None]] = [
            (gettext_noop("报案"), claim.reported_at),
            (gettext_noop("材料齐全"), claim.materials_complete_at),
        ]
        if delivery is not None:
            moments += [
                (gettext_noop("已转保险公司"), delivery.sent_at),
                (gettext_noop("保险公司受理"), delivery.received_at),
                (gettext_noop("保险公司决定"), delivery.decided_at),
            ]
        elif claim.decided_at is not None:
            moments.append((gettext_noop("审核决定"), claim.decided_at))
        steps = tuple(Step(label, at, elapsed_label(now - at)) for label, at in moments if at is not None)
        due_at = (
            insurer_rules.decision_due(
                claim.materials_complete_at,
                group.terms.decision_days,
                paused=claim.sla_paused,
                paused_since=claim.sla_paused_since,
                now=now,
            )
            if claim.materials_complete_at is not None and claim.status in UNDECIDED
            else None
        )
        overdue = due_at is not None and insurer_rules.is_overdue(due_at, now)
        claim_chases = chases.get(claim.pk, [])
        last = last_moves.get(claim.pk, claim.reported_at)
        group.claims.append(
            WaitingClaim(
                claim=claim,
                delivery=delivery,
                steps=steps,
                last_step_since=elapsed_label(now - last),
                due_at=due_at,
                overdue=overdue,
                overdue_by=elapsed_label(now - due_at) if overdue and due_at is not None else "",
                chases=len(claim_chases),
                last_chase=claim_chases[0] if claim_chases else None,
            )
        )
    return list(board.values())


@dataclass(frozen=True, slots=True)
class InsurerSettingRow:
    insurer: Insurer
    terms: InsurerTerms
    configured: bool


def insurer_settings() -> list[InsurerSettingRow]:
    rows = {s.insurer_id: s for s in InsurerClaimSettings.objects.all()}
    out = []
    for insurer in Insurer.objects.order_by("name", "id"):
        row = rows.get(insurer.pk)
        terms = (
            InsurerTerms(mode=row.mode, decision_days=row.decision_days, payer=row.payer)
            if row
            else insurer_rules.DEFAULTS
        )
        out.append(InsurerSettingRow(insurer=insurer, terms=terms, configured=row is not None))
    return out


def insurer_by_code(code: str) -> Insurer | None:
    return Insurer.objects.filter(code=code).first()
