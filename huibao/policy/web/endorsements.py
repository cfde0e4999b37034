"""Endorsement pages (批改): the customer's changes of their own policy, and the staff approval
queue. Thin: parse the form, call `policy.endorsements`, show the answer; field errors are put
beside their fields."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huibao.account.access import staff_required
from huibao.catalog.servicing import EndorsementKind
from huibao.core import audit
from huibao.core.errors import DomainError, NotFound
from huibao.policy import endorsement_documents, endorsements, selectors
from huibao.policy import endorsement_rules as er
from huibao.policy.models import Endorsement, Policy
from huibao.policy.states import (
    COVERED_STATUSES,
    OPEN_ENDORSEMENT_STATUSES,
    WITHDRAWABLE_STATUSES,
    EndorsementStatus,
    Relation,
)

BENEFICIARY_ROWS = 3
E = EndorsementStatus


def _own(request: HttpRequest, public_id: Any) -> Policy:
    try:
        return selectors.policy_for_customer(request.user, public_id)
    except NotFound:
        raise Http404("保单不存在") from None


def _own_endorsement(request: HttpRequest, public_id: Any, number: str) -> tuple[Policy, Endorsement]:
    policy = _own(request, public_id)
    try:
        return policy, endorsements.endorsement_for_customer(policy, number)
    except NotFound:
        raise Http404("批改不存在") from None


def view_of(e: Endorsement) -> dict[str, Any]:
    """An endorsement as the pages show it: before and after masked, the delta explained."""
    payment = endorsements.payment_of(e) if e.status == E.AWAITING_PAYMENT else None
    return {
        "number": e.number,
        "kind": e.kind,
        "kind_label": er.KIND_LABELS[e.kind],
        "status": e.status,
        "status_label": E(e.status).label,
        "before": er.display_rows(e.kind, endorsements.previous_of(e)),
        "after": er.display_rows(e.kind, endorsements.changes_of(e)),
        "old_premium": e.old_premium,
        "new_premium": e.new_premium,
        "delta": e.premium_delta,
        "delta_text": er.delta_text(e.premium_delta),
        "rerated": e.quote_id is not None,
        "needs_approval": e.needs_approval,
        "requested_at": e.requested_at,
        "confirm_by": e.confirm_by,
        "effective_at": e.effective_at,
        "version": e.version,
        "decision_reason": e.decision_reason,
        "has_pdf": e.document_id is not None or e.status == E.APPLIED,
        "pay_url": payment.checkout_url if payment is not None else "",
        "withdrawable": e.status in WITHDRAWABLE_STATUSES,
        "signature_required": e.status == E.AWAITING_CONFIRMATION
        and endorsements.signature_required(e.policy),
        "holder_name": endorsements.holder_name(e.policy),
        "instalments": endorsements.instalment_lines(e),
    }


@login_required
@require_GET
def changes(request: HttpRequest, public_id: Any) -> HttpResponse:
    """What can be changed on this policy (only the kinds its product allows), and its changes."""
    policy = _own(request, public_id)
    rows = endorsements.endorsements_of(policy)
    context = {
        "policy": policy,
        "covered": policy.status in COVERED_STATUSES,
        "kinds": [(k.value, er.KIND_LABELS[k]) for k in endorsements.allowed_kinds(policy)],
        "open": next((r for r in rows if r.status in OPEN_ENDORSEMENT_STATUSES), None),
        "endorsements": [view_of(r) for r in rows],
    }
    return render(request, "policy/pages/changes.html", context)


def _initial(policy: Policy, kind: EndorsementKind) -> dict[str, Any]:
    facts = endorsements.facts_of(policy)
    if kind == EndorsementKind.CONTACT:
        return {"phone": facts.holder_phone, "email": facts.holder_email, "address": facts.holder_address}
    if kind == EndorsementKind.INSURED_CORRECTION:
        return {"name": facts.insured_name, "id_number": ""}
    if kind == EndorsementKind.PLAN:
        return {"plan_code": facts.plan_code}
    if kind == EndorsementKind.SUM_INSURED:
        return {"sum_insured": str(facts.sum_insured or "")}
    rows = [
        {
            "name": b["name"],
            "id_number": "",
            "relation": b["relation"],
            "share_percent": b["share_percent"],
            "order": b["order"],
        }
        for b in facts.beneficiaries
    ]
    while len(rows) < BENEFICIARY_ROWS:
        rows.append({"name": "", "id_number": "", "relation": "", "share_percent": "", "order": 1})
    return {"mode": "named", "beneficiaries": rows}


def _posted(request: HttpRequest, kind: EndorsementKind) -> dict[str, Any]:
    post = request.POST
    if kind != EndorsementKind.BENEFICIARIES:
        return {
            key: post.get(key, "")
            for key in ("phone", "email", "address", "name", "id_number", "plan_code", "sum_insured")
            if key in post
        }
    rows = []
    for i in range(er.MAX_BENEFICIARIES):
        row = {
            f: post.get(f"b-{i}-{f}", "").strip()
            for f in ("name", "id_number", "relation", "share_percent", "order")
        }
        if any(row[f] for f in ("name", "id_number", "share_percent")):
            rows.append(row)
    return {"mode": post.get("mode", ""), "beneficiaries": rows}


def _field_errors(exc: DomainError) -> tuple[dict[str, list[str]], list[str]]:
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    for error in exc.errors:
        if error.field in ("kind", "policy", ""):
            general.append(error.message)
        else:
            by_field.setdefault(error.field, []).append(error.message)
    if not exc.errors:
        general.append(exc.message)
    return by_field, general


@login_required
@require_http_methods(["GET", "POST"])
def change_form(request: HttpRequest, public_id: Any, kind: str) -> HttpResponse:
    policy = _own(request, public_id)
    try:
        parsed = EndorsementKind(kind)
    except ValueError:
        raise Http404("批改类型不存在") from None
    if parsed not in endorsements.allowed_kinds(policy):
        raise Http404("本产品不支持该批改")
    values = _initial(policy, parsed)
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    status = 200
    if request.method == "POST":
        values = _posted(request, parsed)
        try:
            created = endorsements.request_endorsement(policy, parsed, values, actor=request.user)
        except DomainError as exc:
            errors, general = _field_errors(exc)
            status = 409 if exc.http_status == 409 else 422
        else:
            return HttpResponseRedirect(
                reverse("policy:endorsement", args=[policy.public_id, created.number])
            )
        if parsed == EndorsementKind.BENEFICIARIES:
            rows = list(values["beneficiaries"])
            while len(rows) < BENEFICIARY_ROWS:
                rows.append({"name": "", "id_number": "", "relation": "", "share_percent": "", "order": 1})
            values["beneficiaries"] = rows
    if parsed == EndorsementKind.BENEFICIARIES:
        for i, row in enumerate(values["beneficiaries"]):
            row["errors"] = {
                f: errors.get(f"beneficiaries[{i}].{f}", [])
                for f in ("name", "id_number", "relation", "share_percent", "order")
            }
    context = {
        "policy": policy,
        "kind": parsed.value,
        "kind_label": er.KIND_LABELS[parsed],
        "values": values,
        "errors": errors,
        "general": general,
        "plans": endorsements.facts_of(policy).plans,
        "relations": [(r.value, r.label) for r in Relation if r != Relation.SELF],
    }
    return render(request, "policy/pages/change_form.html", context, status=status)


@login_required
@require_GET
def endorsement(request: HttpRequest, public_id: Any, number: str) -> HttpResponse:
    policy, e = _own_endorsement(request, public_id, number)
    context = {
        "policy": policy,
        "e": view_of(e),
        "message": _("验证码已发送至投保人手机") if request.GET.get("sent") else "",
    }
    return render(request, "policy/pages/endorsement.html", context)


@login_required
@require_POST
def endorsement_action(request: HttpRequest, public_id: Any, number: str, action: str) -> HttpResponse:
    """send the SMS code, confirm with it, or withdraw."""
    policy, e = _own_endorsement(request, public_id, number)
    url = reverse("policy:endorsement", args=[policy.public_id, e.number])
    try:
        if action == "code":
            endorsements.send_confirmation_code(
                e, actor=request.user, client_address=request.META.get("REMOTE_ADDR")
            )
            return HttpResponseRedirect(url + "?sent=1")
        if action == "confirm":
            endorsements.confirm_endorsement(
                e, request.POST.get("code", ""), actor=request.user, signature=request.POST.get("signature")
            )
        elif action == "withdraw":
            endorsements.withdraw_endorsement(e, actor=request.user)
        else:
            raise Http404("操作不存在")
    except DomainError as exc:
        e.refresh_from_db()
        context = {
            "policy": policy,
            "e": view_of(e),
            "error": exc.errors[0].message if exc.errors else exc.message,
        }
        return render(request, "policy/pages/endorsement.html", context, status=exc.http_status)
    return HttpResponseRedirect(url)


@login_required
@require_GET
def endorsement_pdf(request: HttpRequest, public_id: Any, number: str) -> HttpResponse:
    """The signed 批单 of an applied change (rendered now if the task has not yet)."""
    _policy, e = _own_endorsement(request, public_id, number)
    document = endorsement_documents.render_endorsement(e.pk)
    if document is None:
        raise Http404("批单尚未生成")
    audit.record(
        "policy.endorsement_downloaded", "endorsement", e.number, actor=request.user, request=request
    )
    response = HttpResponse(document.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- staff ------------------------------------------------------------------------------------------


@staff_required(endorsements.APPROVE_PERMISSION)
@require_http_methods(["GET", "POST"])
def approvals(request: HttpRequest) -> HttpResponse:
    """The approval queue: changes confirmed by their customer that need a second look."""
    error = ""
    status = 200
    if request.method == "POST":
        number = request.POST.get("number", "")
        found = Endorsement.objects.filter(number=number).first()
        try:
            if found is None:
                raise NotFound("批改不存在")
            if request.POST.get("decision") == "approve":
                endorsements.approve_endorsement(
                    found, actor=request.user, reason=request.POST.get("reason", "")
                )
            else:
                endorsements.reject_endorsement(
                    found, actor=request.user, reason=request.POST.get("reason", "")
                )
        except DomainError as exc:
            error = exc.errors[0].message if exc.errors else exc.message
            status = exc.http_status
        else:
            return HttpResponseRedirect(reverse("policy:endorsement_approvals"))
    rows = [
        {"policy_number": e.policy.number, **view_of(e), "confirmed_at": e.confirmed_at}
        for e in endorsements.pending_approvals()
    ]
    return render(request, "policy/pages/approvals.html", {"rows": rows, "error": error}, status=status)
