"""Event-triggered payouts on pages: the customer's automatic benefits (/claims/auto/, and the
page that claims a waiting one with a bank card) and the staff's event-file import
(/claims/events/import/, CSV or Excel, each row accepted or refused with its reason)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from huibao.claim import triggers
from huibao.claim.event_models import TriggeredPayout, TriggeredPayoutStatus
from huibao.claim.events_intake import import_file
from huibao.core.errors import DomainError


@login_required
def auto_list(request: HttpRequest) -> HttpResponse:
    return render(request, "claim/events/auto_list.html", {"payouts": triggers.payouts_of(request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def auto_claim(request: HttpRequest, public_id: Any) -> HttpResponse:
    tp = (
        TriggeredPayout.objects.select_related("policy", "event", "payout")
        .filter(public_id=public_id, policy__customer_id=request.user.pk)
        .first()
    )
    if tp is None:
        raise Http404("没有这笔自动赔付")
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            triggers.claim_money(
                request.user,
                public_id,
                payee_name=request.POST.get("payee_name", ""),
                account_number=request.POST.get("account_number", ""),
                bank_name=request.POST.get("bank_name", "").strip()[:40],
            )
            return redirect("claim:auto_list")
        except DomainError as exc:
            errors = {e.field: e.message for e in exc.errors} or {"form": exc.message}
    open_to_claim = tp.status in (TriggeredPayoutStatus.AWAITING_ACCOUNT, TriggeredPayoutStatus.FAILED)
    return render(
        request,
        "claim/events/auto_claim.html",
        {"tp": tp, "errors": errors, "open_to_claim": open_to_claim, "form": request.POST},
        status=422 if errors else 200,
    )


@login_required
@permission_required("claim.add_triggerevent", raise_exception=True)
@require_http_methods(["GET", "POST"])
def import_events(request: HttpRequest) -> HttpResponse:
    outcomes = None
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            outcomes = import_file(
                request.POST.get("source", ""),
                request.POST.get("kind", ""),
                (upload.name or "") if upload else "",
                upload.read() if upload else b"",
            )
        except DomainError as exc:
            error = "；".join(e.message for e in exc.errors) or exc.message
    accepted = sum(1 for o in outcomes or () if o.accepted)
    return render(
        request,
        "claim/events/import.html",
        {"outcomes": outcomes, "error": error, "accepted": accepted, "form": request.POST},
        status=422 if error else 200,
    )
