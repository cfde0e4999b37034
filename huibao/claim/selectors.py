"""Reads and access checks of claims: the customer's own claims, the claim terms of a policy,
the eligibility of a report before it is saved, the checklist and the timeline."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from huibao.catalog.claim_terms import ClaimTerms, ClaimType, CoverageBasis, MaterialKind, claim_terms
from huibao.claim import eligibility
from huibao.claim.models import Claim, ClaimMaterial, ClaimStatusChange
from huibao.core.errors import NotFound
from huibao.policy.lifecycle import policy_state_at
from huibao.policy.models import Policy, PolicyParty
from huibao.policy.schedule import loads
from huibao.policy.selectors import policy_for_customer
from huibao.policy.states import COVERED_STATUSES, PartyRole, PolicyStatus

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


def claim_for_customer(user: Any, public_id: Any) -> Claim:
    """The customer's claim by public id; NotFound for anyone else's (no hint that it exists)."""
    try:
        claim = claims_of(user).filter(public_id=public_id).first() if public_id else None
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
        return "、".join(eligibility.MATERIAL_LABELS[k] for k in self.missing)


def checklist(claim: Claim) -> Checklist:
    """The one answer to "what is still missing": the required kinds minus the uploaded ones
    (other kinds uploaded are listed too, not required)."""
    counts: dict[str, int] = {}
    for kind in ClaimMaterial.objects.filter(claim=claim).values_list("kind", flat=True):
        counts[kind] = counts.get(kind, 0) + 1
    required = [MaterialKind(k) for k in claim.required_materials]
    extra = [MaterialKind(k) for k in counts if MaterialKind(k) not in required]
    return Checklist(
        tuple(
            ChecklistItem(
                kind, eligibility.MATERIAL_LABELS[kind], counts.get(kind.value, 0), kind in required
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
        return eligibility.CLAIM_TYPE_LABELS[ClaimType(value)]
    except ValueError:
        return value
