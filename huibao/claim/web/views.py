"""The customer's claim pages: /claims/ (my claims), /claims/report/<policy>/ (first notice of
loss, with the eligibility explained live by htmx), /claims/<claim>/ (timeline, checklist,
upload from the phone's camera, submit, withdraw). Owner-only (404 otherwise)."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from huibao.catalog.claim_terms import ClaimTerms, MaterialKind
from huibao.claim import selectors, services
from huibao.claim.eligibility import MATERIAL_LABELS
from huibao.claim.models import Claim, ClaimMaterial
from huibao.claim.services import appeals
from huibao.claim.services.materials import max_bytes
from huibao.claim.states import MATERIALS_OPEN, OPEN_STATUSES, REMOVABLE, ClaimStatus
from huibao.core.errors import DomainError, NotFound
from huibao.core.masking import mask_bank_card
from huibao.policy.models import Policy


def _policy(request: HttpRequest, public_id: Any) -> Policy:
    try:
        return selectors.policy_for_report(request.user, public_id)
    except NotFound:
        raise Http404("保单不存在") from None


def _claim(request: HttpRequest, public_id: Any) -> Claim:
    try:
        return selectors.claim_for_customer(request.user, public_id)
    except NotFound:
        raise Http404("理赔案件不存在") from None


def _date(value: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value.strip())
    except ValueError:
        return None


def _types(terms: ClaimTerms) -> list[tuple[str, str]]:
    return [(t.value, selectors.claim_type_label(t.value)) for t in terms.claim_types()]


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    claims = list(selectors.claims_of(request.user)[:200])
    return render(request, "claim/pages/mine.html", {"claims": claims})


@login_required
@require_http_methods(["POST"])
def check(request: HttpRequest, public_id: Any) -> HttpResponse:
    """The live eligibility explanation of the report form (an htmx partial)."""
    policy = _policy(request, public_id)
    incident = _date(request.POST.get("incident_date", ""))
    found = None
    if incident is not None:
        found = selectors.check_eligibility(
            policy,
            claim_type=request.POST.get("claim_type", ""),
            incident_date=incident,
            cause=request.POST.get("cause_code", ""),
        )
    return render(request, "claim/partials/eligibility.html", {"found": found})


@login_required
@require_http_methods(["GET", "POST"])
def report(request: HttpRequest, public_id: Any) -> HttpResponse:
    policy = _policy(request, public_id)
    terms = selectors.terms_of(policy)
    values = {k: request.POST.get(k, "") for k in request.POST} if request.method == "POST" else {}
    field_errors: dict[str, str] = {}
    error = ""
    if request.method == "POST":
        try:
            claim = services.report_claim(
                request.user,
                services.ReportInput(
                    policy_id=str(policy.public_id),
                    claim_type=values.get("claim_type", ""),
                    incident_date=_date(values.get("incident_date", "")),
                    region_code=values.get("region_code", "").strip(),
                    place=values.get("place", ""),
                    description=values.get("description", ""),
                    cause_code=values.get("cause_code", ""),
                    amount_claimed=values.get("amount_claimed", ""),
                    social_insurance_settled=values.get("social_insurance_settled", "1") == "1",
                    payee_name=values.get("payee_name", ""),
                    payee_account=values.get("payee_account", ""),
                    payee_bank=values.get("payee_bank", ""),
                ),
            )
            return redirect("claim:detail", public_id=claim.public_id)
        except DomainError as exc:
            for e in exc.errors:
                field_errors.setdefault(e.field, e.message)
            error = exc.message
    status = 422 if field_errors or error else 200
    context = {
        "policy": policy,
        "product_name": policy.product_version.product.name,
        "types": _types(terms),
        "values": values,
        "field_errors": field_errors,
        "error": error,
        "insured_name": selectors.insured_of(policy).name,
    }
    return render(request, "claim/pages/report.html", context, status=status)


def _labelled(material: ClaimMaterial) -> ClaimMaterial:
    material.label = str(MATERIAL_LABELS.get(MaterialKind(material.kind), material.kind))  # type: ignore[attr-defined]
    return material


def _detail_context(claim: Claim) -> dict[str, Any]:
    listed = selectors.checklist(claim)
    return {
        "claim": claim,
        "policy": claim.policy,
        "product_name": claim.policy.product_version.product.name,
        "type_label": selectors.claim_type_label(claim.claim_type),
        "checklist": listed,
        "materials": [_labelled(m) for m in selectors.materials_of(claim)],
        "timeline": selectors.timeline(claim),
        "kinds": [(k.value, v) for k, v in MATERIAL_LABELS.items()],
        "first_missing": listed.missing[0].value if listed.missing else "",
        "can_upload": claim.status in MATERIALS_OPEN,
        "can_remove": claim.status in REMOVABLE,
        "can_submit": claim.status in (ClaimStatus.REPORTED, ClaimStatus.INFO_REQUESTED) and listed.complete,
        "can_withdraw": claim.status in OPEN_STATUSES,
        "can_appeal": appeals.appealable(claim),
        "account": mask_bank_card(claim.payee_account),
        "max_mb": max_bytes() // (1024 * 1024),
    }


@login_required
@require_http_methods(["GET", "POST"])
def detail(request: HttpRequest, public_id: Any) -> HttpResponse:
    claim = _claim(request, public_id)
    error = ""
    field_errors: dict[str, str] = {}
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "upload":
                upload = request.FILES.get("file")
                if upload is None:
                    field_errors["file"] = "请选择要上传的照片或PDF文件"
                else:
                    services.upload_material(
                        request.user,
                        claim.public_id,
                        kind=request.POST.get("kind", ""),
                        file=upload,
                        invoice_number=request.POST.get("invoice_number", ""),
                    )
            elif action == "remove":
                services.remove_material(request.user, request.POST.get("material", ""))
            elif action == "submit":
                services.submit_claim(request.user, claim.public_id)
            elif action == "appeal":
                appeals.file_appeal(request.user, claim.public_id, reason=request.POST.get("reason", ""))
            elif action == "withdraw":
                services.withdraw_claim(request.user, claim.public_id, reason=request.POST.get("reason", ""))
            if not field_errors:
                return redirect("claim:detail", public_id=claim.public_id)
        except DomainError as exc:
            for e in exc.errors:
                field_errors.setdefault(e.field, e.message)
            error = exc.message
        claim = _claim(request, public_id)
    context = {**_detail_context(claim), "error": error, "field_errors": field_errors}
    return render(request, "claim/pages/detail.html", context, status=422 if error or field_errors else 200)
