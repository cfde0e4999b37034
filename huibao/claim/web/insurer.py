"""The insurers' side of claims on the web: the claims staff's chase board (催办) and its chase
button, the operators' per-insurer settings, the insurer's signed notice endpoint and the signed
material links the insurer fetches. Staff pages: verified staff (password + TOTP) with the
permission named on each view."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huibao.account.access import staff_required
from huibao.claim import insurer, insurer_selectors
from huibao.claim.insurer_models import MAX_DECISION_DAYS
from huibao.claim.insurer_states import DecisionMode, Payer
from huibao.claim.models import ClaimMaterial
from huibao.core.errors import DomainError, NotFound
from huibao.policy.connector import ACK

VIEW = "claim.view_claim"
CHASE = "claim.change_claim"
SETTINGS = "claim.change_insurerclaimsettings"


@never_cache
@require_GET
@staff_required(permission=VIEW)
def board(request: HttpRequest) -> HttpResponse:
    code = request.GET.get("insurer", "").strip()[:32]
    groups = insurer_selectors.chase_board(insurer_code=code)
    return render(
        request,
        "claim/staff/insurers.html",
        {"groups": groups, "insurer_code": code, "can_chase": request.user.has_perm(CHASE)},
    )


@never_cache
@require_POST
@staff_required(permission=CHASE)
def chase(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    try:
        row = insurer.chase(public_id, actor=request.user, note=request.POST.get("note", ""), request=request)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("已催办赔案%(number)s：%(answer)s")
            % {"number": row.claim.number, "answer": row.answer or _("已记录")},
        )
    return HttpResponseRedirect(reverse("claim:staff_insurers"))


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(permission=SETTINGS)
def settings_page(request: HttpRequest) -> HttpResponse:
    errors: dict[str, dict[str, str]] = {}
    if request.method == "POST":
        code = request.POST.get("insurer", "")
        found = insurer_selectors.insurer_by_code(code)
        if found is None:
            raise Http404("保险公司不存在")
        try:
            insurer.save_setting(
                found,
                mode=request.POST.get("mode", ""),
                decision_days=request.POST.get("decision_days", ""),
                payer=request.POST.get("payer", ""),
                actor=request.user,
                request=request,
            )
        except DomainError as exc:
            errors[code] = {e.field: e.message for e in exc.errors}
        else:
            messages.success(request, _("已保存%(name)s的理赔设置") % {"name": found.name})
            return HttpResponseRedirect(reverse("claim:staff_insurer_settings"))
    return render(
        request,
        "claim/staff/insurer_settings.html",
        {
            "rows": [(r, errors.get(r.insurer.code, {})) for r in insurer_selectors.insurer_settings()],
            "modes": DecisionMode.choices,
            "payers": Payer.choices,
            "max_days": MAX_DECISION_DAYS,
        },
        status=422 if errors else 200,
    )


@csrf_exempt  # server-to-server: authenticated by the insurer's signature, not a cookie
@require_POST
def insurer_notify(request: HttpRequest, connector: str) -> HttpResponse:
    """A claim notice from an insurer: 'success' once taken; otherwise the API's error shape."""
    outcome = insurer.handle_claim_notice(connector, request.headers, request.body)
    if outcome.acknowledge:
        return HttpResponse(ACK, content_type="text/plain")
    return JsonResponse(
        {"code": outcome.code, "message": outcome.message, "errors": []}, status=outcome.http_status
    )


@require_GET
def insurer_material(request: HttpRequest, token: str) -> FileResponse:
    """A material the insurer fetches by the signed link it was sent (valid 7 days)."""
    try:
        public_id = insurer.material_from_token(token)
    except NotFound:
        raise Http404("链接无效或已过期") from None
    material = ClaimMaterial.objects.filter(public_id=public_id).first()
    if material is None:
        raise Http404("材料不存在")
    response = FileResponse(material.file.open("rb"), content_type=material.content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
