"""Thin views: the face notify endpoint and the status poll."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from huibao.core.errors import NotFound
from huibao.identity import services
from huibao.identity.provider import ACK


@csrf_exempt  # server-to-server: authenticated by the provider's signature, not a cookie
@require_POST
def face_notify(request: HttpRequest, provider: str) -> HttpResponse:
    outcome = services.handle_face_notification(provider, request.headers, request.body)
    if outcome.acknowledge:
        return HttpResponse(ACK, content_type="text/plain")
    return HttpResponse("fail", status=400, content_type="text/plain")


@never_cache
@require_GET
def face_status(request: HttpRequest, public_id: uuid.UUID) -> JsonResponse:
    """JSON for a return page polling the result: status, failure_reason, message, final."""
    try:
        state = services.face_check_status(public_id)
    except NotFound as exc:
        return JsonResponse(exc.as_dict(), status=404)
    return JsonResponse(
        {
            "status": state.status,
            "failure_reason": state.failure_reason,
            "message": state.message,
            "final": state.final,
        }
    )
