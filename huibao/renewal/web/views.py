"""The customer's renewal page: /renewal/<policy uuid>/ — the offer with its premium explained,
accept and pay at the cashier, automatic renewal on or off, decline. Owner-only (404 otherwise)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from huibao.core.errors import DomainError, FieldError, NotFound, ValidationFailed
from huibao.renewal import selectors, services
from huibao.renewal.models import RenewalOffer
from huibao.renewal.states import OPEN_STATUSES, OfferStatus


def presented(offer: RenewalOffer) -> dict[str, Any]:
    policy = offer.policy
    change = None
    if offer.premium is not None and offer.previous_premium is not None:
        change = offer.premium - offer.previous_premium
    return {
        "offer": offer,
        "policy": policy,
        "product_name": policy.product_version.product.name,
        "status_label": offer.get_status_display(),
        "is_open": offer.status in OPEN_STATUSES and offer.premium is not None,
        "steps": [s for s in offer.steps if isinstance(s, dict)],
        "change": change,
        "starts_at": timezone.localtime(offer.starts_at),
        "ends_at": timezone.localtime(offer.ends_at) if offer.ends_at else None,
        "account": offer.mandate.masked_account if offer.mandate else "",
        "renewed": offer.status == OfferStatus.RENEWED,
        "monthly": offer.payment_mode == "monthly",
        "due_now": services.due_now(offer) if offer.premium is not None else None,
        "loading": offer.loading_percent,
        "loading_text": f"{offer.loading_percent}%",
    }


@login_required
@require_http_methods(["GET", "POST"])
def offer(request: HttpRequest, public_id: Any) -> HttpResponse:
    try:
        found = selectors.offer_for_owner(request.user, public_id)
    except NotFound:
        raise Http404("续保要约不存在") from None
    error = ""
    field_errors: dict[str, str] = {}
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "accept":
                payment = services.accept(found, user=request.user)
                return redirect(payment.checkout_url)
            if action == "decline":
                services.decline(found, user=request.user)
            elif action in ("auto_on", "auto_off"):
                services.set_auto_renew(
                    found,
                    user=request.user,
                    on=action == "auto_on",
                    card_number=request.POST.get("card_number", ""),
                )
            else:
                raise ValidationFailed(
                    "unknown action", errors=[FieldError("action", "invalid", "请选择要办理的续保操作")]
                )
        except DomainError as exc:
            field_errors = {e.field: e.message for e in exc.errors}
            error = "；".join(field_errors.values()) or exc.message
        else:
            return redirect("renewal:offer", public_id=found.policy.public_id)
        found = selectors.offer_for_owner(request.user, public_id)
    context = {**presented(found), "error": error, "field_errors": field_errors}
    return render(request, "renewal/offer.html", context, status=400 if error else 200)
