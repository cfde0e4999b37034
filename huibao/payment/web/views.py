"""Thin views: the provider notify endpoint."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from huibao.payment import payouts, services
from huibao.payment.provider import ACK


@csrf_exempt  # server-to-server: authenticated by the provider's signature, not a cookie
@require_POST
def notify(request: HttpRequest, provider: str) -> HttpResponse:
    outcome = services.handle_notification(provider, request.headers, request.body)
    if outcome.acknowledge:
        return HttpResponse(ACK, content_type="text/plain")
    return HttpResponse("fail", status=400, content_type="text/plain")


@csrf_exempt  # server-to-server: authenticated by the provider's signature, not a cookie
@require_POST
def payout_notify(request: HttpRequest, provider: str) -> HttpResponse:
    """A payout result notification: 'success' once taken; otherwise the API's error shape."""
    outcome = payouts.handle_payout_notification(provider, request.headers, request.body)
    if outcome.acknowledge:
        return HttpResponse(ACK, content_type="text/plain")
    return JsonResponse(
        {"code": outcome.code, "message": outcome.message, "errors": []}, status=outcome.http_status
    )
