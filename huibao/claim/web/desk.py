"""The adjusters' back office under /claims/desk/: the queue (by type, region, status, insurer,
assignment; time since each step; claims past the insurer's promised decision time flagged;
the share decided automatically and the time from report to payment) and the review page (all
materials — images inline, PDFs linked, duplicates flagged —, the policy's coverages as sold,
the eligibility explanation, the benefit preview line by line, the fraud screen, provider tasks,
the timeline; actions: review, assign, more information, investigation, approve / partial /
deny, four-eyes confirm or send back, pay again, appeals). Verified staff with
`claim.change_claim` and a claims desk; another insurer's claim is 404. Desk-first, usable on
a phone (one column under 48rem)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huibao.account.access import staff_required
from huibao.account.models import User
from huibao.catalog.claim_terms import ClaimType, MaterialKind
from huibao.claim import decisions, fast_track, recoveries, selectors
from huibao.claim.desk_actions import ACTIONS, run_action
from huibao.claim.eligibility import MATERIAL_LABELS
from huibao.claim.models import Claim, ClaimMaterial, ClaimTriage
from huibao.claim.selectors import QueueFilters
from huibao.claim.services import appeals
from huibao.claim.states import ClaimStatus, DecisionReason
from huibao.core.errors import DomainError, NotFound
from huibao.core.masking import mask_bank_card
from huibao.provider.selectors import tasks_of_subject
from huibao.provider.states import TaskKind

HANDLE = "claim.change_claim"
IMAGE_TYPES = ("image/jpeg", "image/png")


def _claim_or_404(request: HttpRequest, public_id: uuid.UUID) -> Claim:
    try:
        return selectors.claim_for_desk(request.user, public_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _filters(request: HttpRequest) -> QueueFilters:
    get = request.GET
    status = get.get("status", "")
    claim_type = get.get("claim_type", "")
    region = get.get("region", "").strip()[:6]
    return QueueFilters(
        claim_type=claim_type if claim_type in ClaimType._value2member_map_ else "",
        region=region if region.isdigit() else "",
        status=status if status in ClaimStatus.values else "",
        insurer=get.get("insurer", "").strip()[:32],
        assigned=get.get("assigned", "") if get.get("assigned", "") in ("me", "none") else "",
        overdue=get.get("overdue") == "1",
    )


def _duration(delta: Any) -> str:
    if delta is None:
        return ""
    seconds = int(delta.total_seconds())
    days, rest = divmod(max(seconds, 0), 86400)
    hours = rest // 3600
    return f"{days}天{hours}小时" if days else f"{hours}小时{(rest % 3600) // 60}分"


@never_cache
@require_GET
@staff_required(permission=HANDLE)
def queue(request: HttpRequest) -> HttpResponse:
    desk = selectors.desk_of(request.user)
    if desk is None:
        return render(request, "claim/desk/no_desk.html", status=403)
    filters = _filters(request)
    rows = selectors.queue(request.user, filters)
    stats = selectors.desk_stats(request.user)
    context = {
        "desk": desk,
        "filters": filters,
        "rows": [
            {
                "row": r,
                "type_label": selectors.claim_type_label(r.claim.claim_type),
                "since": _duration(r.since),
                "waiting": _duration(r.waiting),
            }
            for r in rows
        ],
        "stats": stats,
        "share": f"{stats.automatic_share:.0%}",
        "statuses": ClaimStatus.choices,
        "types": [(t.value, selectors.claim_type_label(t.value)) for t in ClaimType],
    }
    return render(request, "claim/desk/queue.html", context)


def _material_rows(claim: Claim) -> list[dict[str, Any]]:
    return [
        {
            "m": m,
            "label": str(MATERIAL_LABELS.get(MaterialKind(m.kind), m.kind)),
            "image": m.content_type in IMAGE_TYPES,
            "url": reverse("claim:desk_material", args=[m.public_id]),
        }
        for m in selectors.materials_of(claim)
    ]


def _review_context(request: HttpRequest, claim: Claim) -> dict[str, Any]:
    policy = claim.policy
    terms = selectors.terms_of(policy)
    eligibility = selectors.check_eligibility(
        policy,
        claim_type=claim.claim_type,
        incident_date=claim.incident_date,
        coverage_codes=tuple(claim.coverage_codes),
        cause=claim.cause_code,
        amount=claim.amount_claimed,
        today=timezone.localtime(claim.reported_at).date(),
        terms=terms,
    )
    try:
        preview = decisions.preview(claim, terms=terms)
    except DomainError:
        preview = None
    desk = selectors.desk_of(request.user)
    approval = decisions.pending_approval(claim)
    appeal = appeals.open_appeal(claim)
    return {
        "claim": claim,
        "desk": desk,
        "policy": policy,
        "product_name": policy.product_version.product.name,
        "type_label": selectors.claim_type_label(claim.claim_type),
        "coverages": selectors.coverage_bases(policy),
        "eligibility": eligibility,
        "preview": preview,
        "screening": selectors.screening_of(claim),
        "triage": (triage := ClaimTriage.objects.filter(claim=claim).first()),
        # Why the system did not decide it (the fast track's reasons, in the reader's language).
        "triage_reasons": [
            gettext(fast_track.REASONS[code])
            for code in (triage.reason_codes if triage else [])
            if code in fast_track.REASONS
        ],
        "materials": _material_rows(claim),
        "checklist": selectors.checklist(claim),
        "timeline": selectors.timeline(claim),
        "tasks": tasks_of_subject("claim", claim.number),
        "approval": approval,
        "appeal": appeal,
        "appeals": list(claim.appeals.order_by("filed_at")),
        "account": mask_bank_card(claim.payee_account),
        "overdue": selectors.is_overdue(claim),
        "due": selectors.decision_due(claim),
        "reasons": DecisionReason.choices,
        "kinds": [(k.value, v) for k, v in MATERIAL_LABELS.items()],
        "task_kinds": TaskKind.choices,
        "adjusters": list(
            User.objects.filter(claims_desk__active=True)
            .filter(Q(claims_desk__insurer__isnull=True) | Q(claims_desk__insurer_id=claim.insurer_id))
            .order_by("username")
        ),
        "can_start": claim.status == ClaimStatus.MATERIALS_COMPLETE,
        "can_decide": claim.status in (ClaimStatus.MATERIALS_COMPLETE, ClaimStatus.UNDER_REVIEW)
        and not approval,
        "can_ask": claim.status == ClaimStatus.UNDER_REVIEW and not approval,
        "can_retry": claim.status == ClaimStatus.PAYMENT_FAILED,
        "can_review_approval": approval is not None and approval.proposed_by_id != request.user.pk,
        "can_appeal_decide": appeal is not None
        and desk is not None
        and desk.senior
        and request.user.pk not in (claim.decided_by_id, appeal.decision.get("decided_by")),
        "decision_value": claim.decision_kind,
        "recoveries": list(claim.recoveries.order_by("opened_at", "pk")),
        "open_recovery": recoveries.open_recovery_of(claim),
        "can_reopen": claim.status == ClaimStatus.PAID and desk is not None and desk.senior,
    }


@never_cache
@require_GET
@staff_required(permission=HANDLE)
def review_page(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    claim = _claim_or_404(request, public_id)
    return render(request, "claim/desk/review.html", _review_context(request, claim))


@never_cache
@require_POST
@staff_required(permission=HANDLE)
def act(request: HttpRequest, public_id: uuid.UUID, action: str) -> HttpResponse:
    claim = _claim_or_404(request, public_id)
    if action not in ACTIONS:
        raise Http404("unknown action")
    try:
        message = run_action(request, claim, action, request.POST)
    except DomainError as exc:
        claim = _claim_or_404(request, public_id)
        context = _review_context(request, claim)
        context["error"] = exc.message
        context["errors"] = {e.field: e.message for e in exc.errors}
        context["failed_action"] = action
        context["posted"] = request.POST
        status = exc.http_status if exc.http_status != 404 else 404
        return render(request, "claim/desk/review.html", context, status=status)
    messages.success(request, message)
    return HttpResponseRedirect(reverse("claim:desk_review", args=[claim.public_id]))


@never_cache
@require_http_methods(["GET"])
@staff_required(permission=HANDLE)
def material(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """A material's bytes for the reviewing adjuster (inline; never a public URL)."""
    try:
        found: ClaimMaterial = selectors.material_for_desk(request.user, public_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    response = FileResponse(found.file.open("rb"), content_type=found.content_type)
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response  # type: ignore[return-value]  # a streaming response, like any view's
