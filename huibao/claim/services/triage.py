"""Triage of a claim whose materials are complete: the fraud screen, then the fast track.

Runs inside the transaction that moved the claim to materials_complete, under the claim's row
lock, so the customer's submit answers with the outcome at once (已赔付/赔付中 or 审核中).
`submit_claim` calls it explicitly after the move rather than from a `claim_status_changed`
listener: a listener that moved the claim again would announce the next move before the other
listeners had seen the first one.

1. the claim is handed to `fraud.services.screen_claim` as a `ClaimSubject` (policy dates,
   waiting period end, the last sum-insured increase, invoice numbers and file digests, region,
   institution, the insured's other live policies of the line); the screening's public id, route
   and score are kept on the claim's `ClaimTriage`;
2. a review or block route holds the claim (under_review, held; the fraud case — opened for
   both — is in the analysts' queue, and the claim cannot be paid while it is open), the
   customer reads only 理赔审核中; a hold route (a related case of the same person still open)
   puts it on_hold: nobody decides it, no adjuster's queue offers it, until the fraud side
   releases it (`on_hold_released`: to review → under_review, held for the case opened; to pass
   → the fast track is tried);
3. a pass route goes through `fast_track.qualify`: qualified → `decisions.decide(..., auto=True)`
   (the benefit recorded, the payout requested, no person); otherwise under_review with the
   reasons staff read in the queue.

`on_screening_resolved` continues a held claim: cleared → the fast track is tried again (the
analyst's clearance counts as a clean screen), else the adjuster's queue; confirmed → denied
with the fraud reason code through `decide`.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils import timezone

from huibao.catalog.claim_terms import BenefitKind, ClaimTerms
from huibao.claim import decisions, fast_track, selectors
from huibao.claim.insurer import terms_for as insurer_terms_for
from huibao.claim.lifecycle import SYSTEM, transition
from huibao.claim.models import Claim, ClaimMaterial, ClaimTriage
from huibao.claim.states import ClaimStatus, DecisionKind, DecisionReason
from huibao.core import audit
from huibao.fraud import services as fraud
from huibao.fraud.rules import ClaimSubject, HeldPolicy
from huibao.policy.endorsements import changes_of, previous_of
from huibao.policy.models import Endorsement, Policy
from huibao.policy.states import COVERED_STATUSES, EndorsementStatus

if TYPE_CHECKING:
    from huibao.fraud.holds import HoldReleased
    from huibao.fraud.services import ScreeningResolved

FRAUD_CLAUSE = "《保险法》第二十七条"
# Benefit kinds whose amount follows from what the report says (no days, hours or grade to read).
CALCULABLE = frozenset({BenefitKind.REIMBURSEMENT, BenefitKind.FIXED})
MEDICAL_TYPES = frozenset({"medical", "hospital_cash", "critical_illness", "pet_medical"})
HELD_POLICIES_LIMIT = 20
# What the triage reads of a claim with it (one query with the lock).
TRIAGE_RELATED = ("policy__product_version__product", "policy__insurer", "policy__plan", "insured")


# --- the subject the fraud screen reads ---------------------------------------------------------


def _sum_insured_increased_on(policy: Policy) -> datetime.date | None:
    """The effective date of the latest applied endorsement that raised the sum insured."""
    for e in Endorsement.objects.filter(
        policy=policy, status=EndorsementStatus.APPLIED, kind__in=("sum_insured", "plan")
    ).order_by("-effective_at", "-id")[:5]:
        after, before = changes_of(e).get("sum_insured"), previous_of(e).get("sum_insured")
        if after is not None and (before is None or Decimal(str(after)) > Decimal(str(before))):
            stamp = e.effective_at or e.decided_at or e.requested_at
            return timezone.localtime(stamp).date()
    return None


def _held_policies(policy: Policy, line: str) -> tuple[HeldPolicy, ...]:
    """The insured's other live policies of the same line (one indexed query)."""
    if not policy.insured_id_hash:
        return ()
    rows = (
        Policy.objects.filter(
            insured_id_hash=policy.insured_id_hash,
            status__in=COVERED_STATUSES,
            product_version__product__line=line,
        )
        .exclude(pk=policy.pk)
        .values_list("insurer__code", "number")[:HELD_POLICIES_LIMIT]
    )
    return tuple(HeldPolicy(insurer_code=code, policy_reference=number) for code, number in rows)


def subject_of(claim: Claim, terms: ClaimTerms, materials: list[ClaimMaterial]) -> ClaimSubject:
    policy = claim.policy
    product = policy.product_version.product
    waiting_days = max(
        (c.waiting_period_days for c in terms.coverages if c.code in claim.coverage_codes), default=0
    )
    waiting_end = (
        selectors.continuous_since(policy) + datetime.timedelta(days=waiting_days) if waiting_days else None
    )
    return ClaimSubject(
        reference=claim.number,
        policy_reference=policy.number,
        insurer_code=policy.insurer.code,
        product_code=product.code,
        claimant_id_hash=policy.holder_id_hash,
        insured_id_hash=policy.insured_id_hash or claim.insured.id_hash,
        region_code=claim.region_code,
        claim_type=claim.claim_type,
        amount_claimed=claim.amount_claimed,
        incident_date=claim.incident_date,
        reported_at=claim.reported_at,
        policy_effective_date=timezone.localtime(policy.effective_at).date(),
        waiting_period_end=waiting_end,
        sum_insured_increased_on=_sum_insured_increased_on(policy),
        medical_institution=claim.place if claim.claim_type in MEDICAL_TYPES else "",
        invoice_numbers=tuple(sorted({m.invoice_number for m in materials if m.invoice_number})),
        file_digests=tuple(sorted({m.sha256 for m in materials})),
        line=product.line,
        fast_track_threshold=terms.fast_track_limit,
        held_policies=_held_policies(policy, product.line),
        claimant_name=claim.insured.name,
        policy_applied_date=timezone.localtime(policy.issued_at).date(),
    )


# --- the fast track -----------------------------------------------------------------------------


def evaluate(
    claim: Claim, terms: ClaimTerms, triage: ClaimTriage, materials: list[ClaimMaterial]
) -> tuple[fast_track.Qualification, decisions.ClaimBenefit | None]:
    """The fast-track facts of `claim` gathered and judged (nothing written)."""
    found = selectors.check_eligibility(
        claim.policy,
        claim_type=claim.claim_type,
        incident_date=claim.incident_date,
        coverage_codes=tuple(claim.coverage_codes),
        cause=claim.cause_code,
        today=timezone.localtime(claim.reported_at).date(),
        terms=terms,
    )
    coverages = [terms.coverage(code) for code in claim.coverage_codes]
    calculable = bool(coverages) and all(c is not None and c.benefit_kind in CALCULABLE for c in coverages)
    # The benefit as `decide` will record it, read now with the ledger's usage rows locked (decide
    # records on the rows this read locked, computing it again from them).
    benefit = decisions.preview(claim, terms=terms, lock=True) if calculable else None
    required = set(claim.required_materials)
    facts = fast_track.Facts(
        amount_claimed=claim.amount_claimed,
        fast_track_limit=terms.fast_track_limit,
        materials_complete=required <= {m.kind for m in materials},
        duplicate_materials=any(m.duplicate_of_id is not None for m in materials),
        eligible=not found.problems,
        route=triage.route,
        cleared=triage.fraud_outcome == "cleared",
        calculable=calculable,
        payable=benefit.payable if benefit is not None else None,
        refusal=benefit.refusal if benefit is not None else "",
        insurer_decides=insurer_terms_for(claim.insurer_id).by_connector,
    )
    return fast_track.qualify(facts), benefit


def _auto_decide(
    claim: Claim, terms: ClaimTerms, triage: ClaimTriage, benefit: decisions.ClaimBenefit
) -> Claim:
    """Approves the calculated benefit by the system; the payout is requested by `decide`. The
    claim is the row this transaction locked (triage holds it), decided in place, on the usage
    rows the benefit's preview locked."""
    return decisions.decide_locked(
        claim,
        decisions.Decision(kind=DecisionKind.APPROVE, note="小额快赔，系统自动审核通过"),
        actor=SYSTEM,
        terms=terms,
        held=triage.held,
        usages=benefit.held,
    )


def _deny_for_fraud(claim: Claim, note: str) -> None:
    decisions.decide(
        claim,
        decisions.Decision(
            kind=DecisionKind.DENY, reason_code=DecisionReason.FRAUD, clause=FRAUD_CLAUSE, note=note
        ),
        actor=SYSTEM,
    )


def _judge(claim: Claim, terms: ClaimTerms, triage: ClaimTriage, materials: list[ClaimMaterial]) -> bool:
    """Judges a clean (or cleared) claim for the fast track and decides it when it qualifies,
    setting the triage's reasons and `fast_tracked` (not saved); True when the claim goes to the
    adjusters' queue next (not qualified, and not left to an insurer deciding in its own system)."""
    verdict, benefit = evaluate(claim, terms, triage, materials)
    triage.reason_codes = list(verdict.codes)
    triage.reason = verdict.summary[:300]
    if verdict.qualified and benefit is not None:
        decided = _auto_decide(claim, terms, triage, benefit)
        if decided.status in (ClaimStatus.APPROVED, ClaimStatus.PAYING, ClaimStatus.PAID):
            triage.fast_tracked = True
        else:  # above the four-eyes amount: a second adjuster confirms the system's approval
            triage.reason_codes, triage.reason = ["four_eyes"], fast_track.REASONS["four_eyes"]
        return False
    # insurer_decides: the insurer's delivery forwards it (已转保险公司审核) and its callbacks decide
    return "insurer_decides" not in verdict.codes


def _fast_track_or_queue(
    claim: Claim, terms: ClaimTerms, triage: ClaimTriage, materials: list[ClaimMaterial] | None = None
) -> None:
    """The fast track, or the adjusters' queue, for a claim whose triage row exists."""
    if materials is None:
        materials = list(ClaimMaterial.objects.filter(claim=claim))
    queue = _judge(claim, terms, triage, materials)
    triage.save(update_fields=["reason_codes", "reason", "fast_tracked", "updated_at"])
    if queue and claim.status == ClaimStatus.MATERIALS_COMPLETE:
        transition(claim, ClaimStatus.UNDER_REVIEW, actor=SYSTEM)


# Every field of a triage but the claim: what a new screening writes over an earlier one's row.
_TRIAGE_FIELDS = [
    "screening_id",
    "route",
    "score",
    "held",
    "fraud_outcome",
    "fast_tracked",
    "reason_codes",
    "reason",
    "screened_at",
    "updated_at",
]


def _write_triage(triage: ClaimTriage) -> None:
    """The claim's one triage row in one statement: made, or an earlier screening's replaced (the
    claim's row lock keeps anyone else from writing it meanwhile)."""
    ClaimTriage.objects.bulk_create(
        [triage], update_conflicts=True, unique_fields=["claim"], update_fields=_TRIAGE_FIELDS
    )


def triage_claim(claim_id: int) -> ClaimTriage:
    """Screens the claim and fast-tracks or queues it (the caller's transaction; locks the claim)."""
    claim = Claim.objects.select_for_update().select_related(*TRIAGE_RELATED).get(pk=claim_id)
    return triage_locked(claim)


def triage_locked(claim: Claim, materials: list[ClaimMaterial] | None = None) -> ClaimTriage:
    """`triage_claim` of a claim this transaction has locked, read with `TRIAGE_RELATED` (and its
    `materials`, when the caller has read them); the claim is moved in place."""
    terms = selectors.terms_of(claim.policy)
    if materials is None:
        materials = list(ClaimMaterial.objects.filter(claim=claim))
    screening = fraud.screen_claim(subject_of(claim, terms, materials))
    # Written once, when the outcome is known (the decision below reads `held` from it, not
    # from the row).
    triage = ClaimTriage(
        claim=claim,
        screening_id=screening.public_id,
        route=screening.route,
        score=screening.score,
        held=screening.route != "pass",
        fraud_outcome="",
        fast_tracked=False,
        screened_at=timezone.now(),
    )
    audit.record(
        "claim.screened",
        "claim",
        claim.number,
        actor=SYSTEM,
        after={"screening": str(screening.public_id), "route": screening.route, "score": screening.score},
    )
    if triage.held:
        code = {"block": "fraud_block", "hold": "fraud_hold"}.get(screening.route, "fraud_review")
        triage.reason_codes, triage.reason = [code], fast_track.REASONS[code]
        _write_triage(triage)
        target = ClaimStatus.ON_HOLD if screening.route == "hold" else ClaimStatus.UNDER_REVIEW
        transition(claim, target, actor=SYSTEM)
        return triage
    queue = _judge(claim, terms, triage, materials)
    _write_triage(triage)
    if queue and claim.status == ClaimStatus.MATERIALS_COMPLETE:
        transition(claim, ClaimStatus.UNDER_REVIEW, actor=SYSTEM)
    return triage


def on_screening_resolved(event: ScreeningResolved) -> None:
    """An analyst resolved the fraud case of a held claim."""
    claim = (
        Claim.objects.select_for_update()
        .select_related("policy__product_version__product", "policy__insurer", "insured")
        .filter(number=event.reference)
        .first()
    )
    if claim is None:
        return
    triage = ClaimTriage.objects.select_for_update().filter(claim=claim).first()
    if triage is None:
        return
    triage.held = False
    triage.fraud_outcome = "cleared" if event.outcome == "cleared" else "confirmed"
    triage.save(update_fields=["held", "fraud_outcome", "updated_at"])
    audit.record(
        "claim.fraud_resolved",
        "claim",
        claim.number,
        actor=SYSTEM,
        after={"case": event.case_id, "outcome": triage.fraud_outcome},
    )
    if claim.status != ClaimStatus.UNDER_REVIEW:
        return  # withdrawn, or already decided by a person: nothing to continue
    if triage.fraud_outcome == "confirmed":
        _deny_for_fraud(claim, "经风控调查核实，本案存在欺诈情形")
        return
    _fast_track_or_queue(claim, selectors.terms_of(claim.policy), triage)


def on_hold_released(event: HoldReleased) -> None:
    """The fraud side released a held claim: to review (a case is open: under review, still held
    for the analysts) or to pass (under review, then the fast track as for a clean screen)."""
    claim = (
        Claim.objects.select_for_update()
        .select_related("policy__product_version__product", "policy__insurer", "insured")
        .filter(number=event.reference)
        .first()
    )
    if claim is None:
        return
    triage = ClaimTriage.objects.select_for_update().filter(claim=claim).first()
    if triage is None or claim.status != ClaimStatus.ON_HOLD:
        return  # withdrawn meanwhile: nothing to continue
    review = event.route == "review"
    triage.route = "review" if review else "pass"
    triage.held = review
    code = "fraud_review" if review else ""
    triage.reason_codes, triage.reason = ([code], fast_track.REASONS[code]) if code else ([], "")
    triage.save(update_fields=["route", "held", "reason_codes", "reason", "updated_at"])
    audit.record(
        "claim.fraud_hold_released",
        "claim",
        claim.number,
        actor=SYSTEM,
        after={"hold": event.hold_id, "route": triage.route, "case": event.case_id},
    )
    transition(claim, ClaimStatus.UNDER_REVIEW, actor=SYSTEM)
    if not review:
        _fast_track_or_queue(claim, selectors.terms_of(claim.policy), triage)
