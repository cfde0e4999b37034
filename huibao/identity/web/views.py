"""Thin views: the face notify endpoint, the status poll, and the sandbox face service's hosted page."""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huibao.core.errors import NotFound
from huibao.core.masking import mask_id_number, mask_name
from huibao.identity import sandbox, services
from huibao.identity.models import SandboxFaceSessionStatus


@csrf_exempt  # server-to-server: authenticated by the provider's signature, not a cookie
@require_POST
def face_notify(request: HttpRequest, provider: str) -> HttpResponse:
    outcome = services.handle_face_notification(provider, request.headers, request.body)
    if outcome.acknowledge:
        return HttpResponse(sandbox.ACK, content_type="text/plain")
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


@never_cache
@require_http_methods(["GET", "POST"])
def sandbox_face(request: HttpRequest, token: str) -> HttpResponse:
    """The sandbox face service's hosted page: "开始检测" submits, the service decides and notifies
    the platform, and the browser goes back to the platform's return URL."""
    try:
        session = sandbox.get_session(token)
    except sandbox.SandboxError:
        raise Http404("no such face session") from None
    if request.method == "POST":
        session = sandbox.submit_face(token)
        # return_url was checked by the platform when it opened the check (a path or its own host).
        return HttpResponseRedirect(session.return_url)
    context = {
        "session": session,
        "open": session.status == SandboxFaceSessionStatus.OPEN and timezone.now() < session.expires_at,
        "masked_name": mask_name(session.name),
        "masked_id": mask_id_number(session.id_number),
    }
    return render(request, "identity/sandbox/face.html", context)
