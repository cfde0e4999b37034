"""Reads and access checks of claims: the customer's own claims, the claim terms of a policy,
the eligibility of a report before it is saved, the checklist and the timeline."""

from __future__ import annotations

import contextlib
import contextvars
import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from huibao.catalog.claim_terms import ClaimTerms, ClaimType, CoverageBasis, MaterialKind, claim_terms
from huibao.claim import eligibility, insurer_rules
from huibao.claim.models import Claim, ClaimMaterial, ClaimsDesk, ClaimStatusChange, InsurerClaimSettings
from huibao.claim.states import ClaimStatus
from huibao.core.errors import NotFound
from huibao.fraud.models import Screening
from huibao.policy.lifecycle import policy_state_at
from huibao.policy.models import Policy, PolicyParty
from huibao.policy.schedule import loads
from huibao.policy.selectors import policy_for_customer
from huibao.policy.states import COVERED_STATUSES, PartyRole, PolicyStatus

DEFAULT_DECISION_DAYS = 30  # 保险法 Art. 23: within 30 days of complete materials

# A customer may report on a policy that covers now or covered before (an expired or ended one:
# the incident may have happened while it was in force).
CLAIMABLE_POLICY_STATUSES = COVERED_STATUSES | {
    PolicyStatus.EXPIRED,
    PolicyStatus.TERMINATED,
    PolicyStatus.SURRENDERED,
}


def claims_of(user: Any) -> QuerySet[Claim]:
    """The customer's claims, newest first (none for anonymous visitors)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Claim.objects.none()
    return Claim.objects.filter(claimant_id=user.pk).select_related(
        "policy__product_version__product", "insurer"
    )


def claim_for_customer(
    user: Any, public_id: Any, *, lock: bool = False, related: tuple[str, ...] = ()
) -> Claim:
    """The customer's claim by public id; NotFound for anyone else's (no hint that it exists).
    `lock`: its row (only) locked until the end of the caller's transaction; `related`: read with it."""
    rows = claims_of(user)
    if lock:
        rows = rows.select_for_update(of=("self",))
    if related:
        rows = rows.select_related(*related)
    try:
        claim = rows.filter(public_id=public_id).first() if public_id else None
    except (ValidationError, ValueError):  # a malformed UUID
        claim = None
    if claim is None:
        raise NotFound("理赔案件不存在", code="claim_not_found")
    return claim


def material_for_customer(user: Any, public_id: Any) -> ClaimMaterial:
    try:
        found = (
            ClaimMaterial.objects.filter(public_id=public_id, claim__claimant_id=user.pk)
            .select_related("claim")
            .first()
            if public_id and getattr(user, "is_authenticated", False)
            else None
        )
    except (ValidationError, ValueError):  # a malformed UUID
        found = None
    if found is None:
        raise NotFound("材料不存在", code="material_not_found")
    return found


def coverage_bases(policy: Policy) -> list[CoverageBasis]:
    """The coverages the policy was sold with: the frozen schedule's rows (sum insured, deductible,
    ratio, waiting period as signed) with the catalog row's per-claim and annual limits."""
    rows = {c.code: c for c in policy.plan.coverages.all()}
    scheduled = loads(policy.schedule).get("coverages") or []
    bases = []
    for item in scheduled:
        row = rows.get(str(item.get("code")))
        bases.append(
            CoverageBasis(
                code=str(item["code"]),
                name=str(item.get("name", "")),
                sum_insured=Decimal(str(item.get("sum_insured", "0"))),
                deductible=Decimal(str(item.get("deductible", "0"))),
                reimbursement_ratio=Decimal(str(item.get("reimbursement_ratio", "1"))),
                waiting_period_days=int(item.get("waiting_period_days", 0)),
                per_claim_limit=row.per_claim_limit if row is not None else None,
                annual_limit=row.annual_limit if row is not None else None,
            )
        )
    return bases


def terms_of(policy: Policy) -> ClaimTerms:
    version = policy.product_version
    return claim_terms(version.claims, coverage_bases(policy), line=version.product.line)


def insured_of(policy: Policy) -> PolicyParty:
    parties = {p.role: p for p in policy.parties.all()}
    party = parties.get(PartyRole.INSURED) or parties.get(PartyRole.HOLDER)
    if party is None:
        raise NotFound("保单没有被保险人", code="insured_not_found")
    return party


def continuous_since(policy: Policy) -> datetime.date:
    """The start of continuous cover: a renewal continues the policy it renews."""
    first = policy
    seen = 0
    while first.renewed_from_id is not None and seen < 100:
        first = first.renewed_from  # type: ignore[assignment]
        seen += 1
    return timezone.localtime(first.effective_at).date()


def _label(status: str) -> str:
    try:
        return str(PolicyStatus(status).label)
    except ValueError:
        return status


def check_eligibility(
    policy: Policy,
    *,
    claim_type: str,
    incident_date: datetime.date,
    coverage_codes: tuple[str, ...] = (),
    cause: str = "",
    amount: Decimal | None = None,
    today: datetime.date | None = None,
    terms: ClaimTerms | None = None,
) -> eligibility.Eligibility:
    """The eligibility of a report on `policy` (nothing saved): what the form explains live and
    what `report_claim` enforces."""
    terms = terms or terms_of(policy)
    today = today or timezone.localdate()
    try:
        kind: ClaimType | None = ClaimType(claim_type)
    except ValueError:
        kind = None
    end_of_day = timezone.make_aware(datetime.datetime.combine(incident_date, datetime.time(23, 59, 59)))
    state = policy_state_at(policy, end_of_day) if incident_date <= today else policy.status
    return eligibility.check(
        eligibility.Facts(
            terms=terms,
            claim_type=kind,
            coverage_codes=coverage_codes,
            incident_date=incident_date,
            reported_on=today,
            covered_on_incident=state in COVERED_STATUSES,
            state_label=_label(state) if state else "",
            effective_on=timezone.localtime(policy.effective_at).date(),
            continuous_since=continuous_since(policy),
            expires_on=timezone.localtime(policy.expires_at).date() if policy.expires_at else None,
            cause=cause,
            amount=amount,
        )
    )


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    kind: MaterialKind
    label: str
    uploaded: int
    required: bool

    @property
    def done(self) -> bool:
        return self.uploaded > 0


@dataclass(frozen=True, slots=True)
class Checklist:
    items: tuple[ChecklistItem, ...]

    @property
    def missing(self) -> tuple[MaterialKind, ...]:
        return tuple(i.kind for i in self.items if i.required and not i.done)

    @property
    def complete(self) -> bool:
        return not self.missing

    def missing_text(self) -> str:
        return "、".join(str(eligibility.MATERIAL_LABELS[k]) for k in self.missing)


def checklist(claim: Claim, materials: list[ClaimMaterial] | None = None) -> Checklist:
    """The one answer to "what is still missing": the required kinds minus the uploaded ones
    (other kinds uploaded are listed too, not required). `materials`: the claim's, when the
    caller has read them."""
    counts: dict[str, int] = {}
    kinds = (
        [m.kind for m in materials]
        if materials is not None
        else ClaimMaterial.objects.filter(claim=claim).values_list("kind", flat=True)
    )
    for kind in kinds:
        counts[kind] = counts.get(kind, 0) + 1
    required = [MaterialKind(k) for k in claim.required_materials]
    extra = [MaterialKind(k) for k in counts if MaterialKind(k) not in required]
    return Checklist(
        tuple(
            ChecklistItem(
                kind, str(eligibility.MATERIAL_LABELS[kind]), counts.get(kind.value, 0), kind in required
            )
            for kind in (*required, *extra)
        )
    )


def timeline(claim: Claim) -> list[ClaimStatusChange]:
    return list(ClaimStatusChange.objects.filter(claim=claim).order_by("at", "id"))


def materials_of(claim: Claim) -> list[ClaimMaterial]:
    return list(ClaimMaterial.objects.filter(claim=claim).order_by("uploaded_at", "id"))


def policy_for_report(user: Any, public_id: Any) -> Policy:
    """The customer's own policy that a claim may be reported on; NotFound otherwise."""
    try:
        policy = policy_for_customer(user, public_id)
    except (ValidationError, ValueError) as exc:  # a malformed UUID is "not found" too
        raise NotFound("保单不存在", code="policy_not_found") from exc
    if policy.status not in CLAIMABLE_POLICY_STATUSES:
        raise NotFound("该保单不能报案", code="policy_not_claimable")
    return policy


def claim_type_label(value: str) -> str:
    try:
        return str(eligibility.CLAIM_TYPE_LABELS[ClaimType(value)])
    except ValueError:
        return value


# --- the back office (adjusters) ----------------------------------------------------------------

# Before a decision: what the insurer's promised decision time (保险法 Art. 23) runs against.
AWAITING_DECISION = (
    ClaimStatus.MATERIALS_COMPLETE,
    ClaimStatus.UNDER_REVIEW,
    ClaimStatus.INFO_REQUESTED,
    ClaimStatus.INVESTIGATING,
    ClaimStatus.APPEALED,
)


def desk_of(user: Any) -> ClaimsDesk | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return ClaimsDesk.objects.filter(user_id=user.pk, active=True).select_related("insurer").first()


def claims_for_desk(user: Any) -> QuerySet[Claim]:
    """The claims an adjuster may see: every insurer's for the agency's claims staff (a desk with
    no insurer), their own insurer's for an insurer's adjuster, none without a desk."""
    desk = desk_of(user)
    if desk is None:
        return Claim.objects.none()
    rows = Claim.objects.select_related("insurer", "policy__product_version__product", "assigned_to")
    return rows if desk.insurer_id is None else rows.filter(insurer_id=desk.insurer_id)


def claim_for_desk(user: Any, public_id: Any) -> Claim:
    """One claim the adjuster may see; NotFound for another insurer's (no hint that it exists)."""
    try:
        claim = claims_for_desk(user).filter(public_id=public_id).first() if public_id else None
    except (ValidationError, ValueError):
        claim = None
    if claim is None:
        raise NotFound("理赔案件不存在", code="claim_not_found")
    return claim


# The insurers' settings read inside `settings_read_once()` (None outside it).
_settings_read: contextvars.ContextVar[dict[int, InsurerClaimSettings | None] | None] = (
    contextvars.ContextVar("insurer_claim_settings", default=None)
)


@contextlib.contextmanager
def settings_read_once() -> Iterator[None]:
    """Inside the block an insurer's claim settings are read once (`insurer_settings`): a
    use-case that asks for them at several steps (the fast track: the connector check at complete
    materials, the fast-track facts, the four-eyes amount) pays one round trip. For a block that
    does not change them; nested blocks join the outermost."""
    if _settings_read.get() is not None:
        yield
        return
    token = _settings_read.set({})
    try:
        yield
    finally:
        _settings_read.reset(token)


def insurer_settings(insurer_id: int) -> InsurerClaimSettings | None:
    """The insurer's claim settings row, or None (its defaults apply)."""
    read = _settings_read.get()
    if read is not None and insurer_id in read:
        return read[insurer_id]
    row = InsurerClaimSettings.objects.filter(insurer_id=insurer_id).first()
    if read is not None:
        read[insurer_id] = row
    return row


def decision_days(insurer_id: int) -> int:
    row = insurer_settings(insurer_id)
    return row.decision_days if row is not None else DEFAULT_DECISION_DAYS


def decision_due(
    claim: Claim, days: int | None = None, *, now: datetime.datetime | None = None
) -> datetime.datetime | None:
    """When the insurer must have decided: complete materials + its promised days (at most 30),
    the time more information was asked of the customer not counted (`insurer_rules.decision_due`)."""
    if claim.materials_complete_at is None:
        return None
    return insurer_rules.decision_due(
        claim.materials_complete_at,
        days or decision_days(claim.insurer_id),
        paused=claim.sla_paused,
        paused_since=claim.sla_paused_since,
        now=now or timezone.now(),
    )


def is_overdue(claim: Claim, *, now: datetime.datetime | None = None, days: int | None = None) -> bool:
    now = now or timezone.now()
    due = decision_due(claim, days, now=now)
    return due is not None and claim.status in AWAITING_DECISION and insurer_rules.is_overdue(due, now)


@dataclass(frozen=True, slots=True)
class QueueRow:
    claim: Claim
    since: datetime.timedelta  # in the current status
    waiting: datetime.timedelta | None  # since complete materials, until decided
    due: datetime.datetime | None
    overdue: bool


@dataclass(frozen=True, slots=True)
class QueueFilters:
    claim_type: str = ""
    region: str = ""  # a region code prefix
    status: str = ""  # "" = awaiting a decision
    insurer: str = ""  # insurer code
    assigned: str = ""  # "" all | "me" | "none"
    overdue: bool = False


def queue(user: Any, filters: QueueFilters, *, limit: int = 200) -> list[QueueRow]:
    """The adjuster's queue, oldest first, with the time since each step and the SLA flag."""
    rows = claims_for_desk(user)
    rows = rows.filter(status=filters.status) if filters.status else rows.filter(status__in=AWAITING_DECISION)
    if filters.claim_type:
        rows = rows.filter(claim_type=filters.claim_type)
    if filters.region:
        rows = rows.filter(region_code__startswith=filters.region)
    if filters.insurer:
        rows = rows.filter(insurer__code=filters.insurer)
    if filters.assigned == "me":
        rows = rows.filter(assigned_to_id=user.pk)
    elif filters.assigned == "none":
        rows = rows.filter(assigned_to__isnull=True)
    found = list(
        rows.order_by("materials_complete_at", "reported_at", "id")[: limit * (5 if filters.overdue else 1)]
    )
    days = dict(InsurerClaimSettings.objects.values_list("insurer_id", "decision_days"))
    now = timezone.now()
    out = []
    for claim in found:
        promised = days.get(claim.insurer_id, DEFAULT_DECISION_DAYS)
        due = decision_due(claim, promised, now=now)
        late = is_overdue(claim, now=now, days=promised)
        if filters.overdue and not late:
            continue
        end = claim.decided_at or now
        out.append(
            QueueRow(
                claim=claim,
                since=now - (claim.status_since or claim.reported_at),
                waiting=(end - claim.materials_complete_at) if claim.materials_complete_at else None,
                due=due,
                overdue=late,
            )
        )
    return out[:limit]


@dataclass(frozen=True, slots=True)
class DeskStats:
    decided: int
    automatic: int
    paid: int
    report_to_paid_hours: float | None  # the average, for claims paid

    @property
    def automatic_share(self) -> float:
        return self.automatic / self.decided if self.decided else 0.0


def desk_stats(user: Any) -> DeskStats:
    """The share of claims decided automatically, and the time from report to payment."""
    rows = claims_for_desk(user).filter(decided_at__isnull=False)
    decided = rows.count()
    automatic = rows.filter(auto_decided=True).count()
    paid = list(rows.filter(paid_at__isnull=False).values_list("reported_at", "paid_at")[:5000])
    hours = [(p - r).total_seconds() / 3600 for r, p in paid if p is not None]
    return DeskStats(decided, automatic, len(paid), sum(hours) / len(hours) if hours else None)


def screening_of(claim: Claim) -> Any:
    """The fraud screen's latest result for the claim, or None."""
    return Screening.objects.filter(claim__reference=claim.number).order_by("-created_at", "-id").first()


def material_for_desk(user: Any, public_id: Any) -> ClaimMaterial:
    try:
        found = (
            ClaimMaterial.objects.filter(public_id=public_id, claim__in=claims_for_desk(user))
            .select_related("claim")
            .first()
        )
    except (ValidationError, ValueError):
        found = None
    if found is None:
        raise NotFound("材料不存在", code="material_not_found")
    return found
