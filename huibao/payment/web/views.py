"""Thin views: the provider notify endpoint and the sandbox gateway's hosted pay page."""

from __future__ import annotations

from decimal import Decimal

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from huibao.core.errors import ValidationFailed
from huibao.core.money import format_cny
from huibao.payment import sandbox, services
from huibao.payment.models import SandboxCheckoutStatus


@csrf_exempt  # server-to-server: authenticated by the provider's signature, not a cookie
@require_POST
def notify(request: HttpRequest, provider: str) -> HttpResponse:
    outcome = services.handle_notification(provider, request.headers, request.body)
    if outcome.acknowledge:
        return HttpResponse(sandbox.ACK, content_type="text/plain")
    return HttpResponse("fail", status=400, content_type="text/plain")


@require_http_methods(["GET", "POST"])
def sandbox_pay(request: HttpRequest, txn_id: str) -> HttpResponse:
    try:
        checkout = sandbox.get_checkout(txn_id)
    except sandbox.SandboxError:
        raise Http404("no such checkout") from None
    errors: dict[str, str] = {}
    form = {"payer_name": "", "id_number": "", "card_number": ""}
    if request.method == "POST" and checkout.status == SandboxCheckoutStatus.OPEN:
        form = {key: request.POST.get(key, "") for key in form}
        try:
            checkout = sandbox.submit_payment(
                txn_id,
                payer_name=form["payer_name"],
                id_number=form["id_number"],
                card_number=form["card_number"],
                action=request.POST.get("action", "pay"),
            )
        except ValidationFailed as exc:
            errors = {e.field: e.message for e in exc.errors} or {"__all__": exc.message}
    context = {
        "checkout": checkout,
        "amount": format_cny(Decimal(checkout.amount_fen) / 100),
        "form": form,
        "errors": errors,
    }
    return render(request, "payment/sandbox/pay.html", context, status=422 if errors else 200)
