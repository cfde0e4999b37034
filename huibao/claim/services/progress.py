"""The customer's moves of a claim: submit when the checklist is complete (or again after more
information was asked for), withdraw while it is open."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction

from huibao.catalog.claim_terms import MaterialKind
from huibao.claim.eligibility import MATERIAL_LABELS
from huibao.claim.lifecycle import batched, lock_claim, transition
from huibao.claim.models import Claim, ClaimMaterial
from huibao.claim.selectors import checklist, claim_for_customer
from huibao.claim.services.review import assignment_deferred
from huibao.claim.services.triage import TRIAGE_RELATED, triage_locked
from huibao.claim.states import OPEN_STATUSES, ClaimStatus
from huibao.core.errors import Conflict, FieldError, ValidationFailed


def submit_claim(user: Any, claim_id: Any) -> Claim:
    """reported → materials_complete once every required material is there; info_requested →
    under_review (the materials asked for were added). Refused naming what is missing."""
    # Every move of the submit (up to materials_complete → approved → paying on the fast track)
    # writes its timeline rows, notices and audit entries together at the end (`batched`).
    # A claim the fast track decides in it is not assigned to an adjuster (`assignment_deferred`).
    with transaction.atomic(), batched(), assignment_deferred():
        # Locked (the claim's row only) with what the triage reads, and its materials read once.
        claim = claim_for_customer(user, claim_id, lock=True, related=(*TRIAGE_RELATED, "claimant"))
        if claim.status not in (ClaimStatus.REPORTED, ClaimStatus.INFO_REQUESTED):
            raise Conflict("该案件当前不需要提交", code="not_submittable")
        materials = list(ClaimMaterial.objects.filter(claim=claim))
        listed = checklist(claim, materials)
        if claim.status == ClaimStatus.INFO_REQUESTED:
            still = _still_requested(claim)
            if still:
                message = f"请先上传补充材料：{still}"
                raise ValidationFailed(
                    message,
                    code="materials_missing",
                    errors=[FieldError("materials", "materials_missing", message)],
                )
        if not listed.complete:
            message = f"材料不齐全，还需上传：{listed.missing_text()}"
            raise ValidationFailed(
                message,
                code="materials_missing",
                errors=[FieldError("materials", "materials_missing", message)],
            )
        target = (
            ClaimStatus.MATERIALS_COMPLETE
            if claim.status == ClaimStatus.REPORTED
            else ClaimStatus.UNDER_REVIEW
        )
        transition(claim, target, actor=user, note="已补充材料" if target == ClaimStatus.UNDER_REVIEW else "")
        if target == ClaimStatus.MATERIALS_COMPLETE:
            # Screened and fast-tracked (or queued) in this transaction, after the move's own
            # announcement, so every claim_status_changed listener sees the moves in order.
            triage_locked(claim, materials)
    return claim


def _still_requested(claim: Claim) -> str:
    """The material kinds the adjuster asked for with no upload since they asked (labels)."""
    asked = claim.info_request or {}
    kinds = asked.get("kinds") or []
    if not kinds:
        return ""
    since = datetime.datetime.fromisoformat(asked["at"])
    added = set(
        ClaimMaterial.objects.filter(claim=claim, uploaded_at__gte=since).values_list("kind", flat=True)
    )
    return "、".join(str(MATERIAL_LABELS[MaterialKind(k)]) for k in kinds if k not in added)


def withdraw_claim(user: Any, claim_id: Any, *, reason: str = "") -> Claim:
    found = claim_for_customer(user, claim_id)
    with transaction.atomic():
        claim = lock_claim(found.public_id)
        if claim.status not in OPEN_STATUSES:
            raise Conflict("该案件已不能撤销", code="not_withdrawable")
        transition(claim, ClaimStatus.WITHDRAWN, actor=user, note=reason.strip()[:200])
    return claim
