"""Policy pages: public verification, the customer's policies and e-policy download, the NPS
survey, and the insurers' acknowledgement endpoint. Views are thin: they parse the request, call
selectors and services and pick a template."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huibao.billing import selectors as billing_selectors
from huibao.core import audit
from huibao.core.errors import DomainError, NotFound
from huibao.policy import delivery, documents, presenters, selectors, services
from huibao.policy.connector import ACK
from huibao.policy.limits import UPLOAD_LIMIT, VERIFY_LIMIT, over_limit
from huibao.policy.states import LIVE_POLICY_STATUSES
from huibao.policy.web.forms import LookupForm, NpsForm, UploadForm

# --- public verification -------------------------------------------------------------------------


def _verify_page(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(request, "policy/pages/verify.html", context, status=status)
    response["X-Robots-Tag"] = "noindex"
    # Nothing of the page (its URL holds the verification code) goes to another site; its own
    # forms keep a readable Origin for the CSRF check (`no-referrer` makes browsers send
    # `Origin: null`, and the lookup and the upload were refused).
    response["Referrer-Policy"] = "same-origin"
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def verify_form(request: HttpRequest) -> HttpResponse:
    """Look a policy up by number and verification code, or check an uploaded e-policy PDF."""
    lookup, upload = LookupForm(), UploadForm()
    context: dict[str, Any] = {"lookup": lookup, "upload": upload}
    if request.method == "POST" and request.POST.get("action") == "upload":
        upload = UploadForm(request.POST, request.FILES)
        context["upload"] = upload
        if over_limit(request, "upload", UPLOAD_LIMIT):
            upload.add_error(None, "核验次数过多，请10分钟后再试")
            return _verify_page(request, context, status=429)
        if not upload.is_valid():
            return _verify_page(request, context, status=422)
        file = upload.cleaned_data["file"]
        if file.size > services.MAX_UPLOAD_BYTES:
            upload.add_error("file", "文件不能超过5MB")
            return _verify_page(request, context, status=422)
        check = services.check_pdf(file.read())
        context["pdf_check"] = check
        context["pdf_policy"] = presenters.public_view(check.policy) if check.policy else None
        return _verify_page(request, context)
    if request.method == "POST":
        lookup = LookupForm(request.POST)
        context["lookup"] = lookup
        if over_limit(request, "lookup", VERIFY_LIMIT):
            lookup.add_error(None, "查询次数过多，请10分钟后再试")
            return _verify_page(request, context, status=429)
        if not lookup.is_valid():
            return _verify_page(request, context, status=422)
        policy = services.policy_by_number_and_code(
            lookup.cleaned_data["number"], lookup.cleaned_data["code"]
        )
        if policy is None:
            context["not_found"] = True
            return _verify_page(request, context, status=404)
        return HttpResponseRedirect(reverse("policy:verify", args=[policy.verification_code]))
    return _verify_page(request, context)


@never_cache
@require_GET
def verify(request: HttpRequest, code: str) -> HttpResponse:
    """The verification page a QR code leads to: genuine or not, nothing personal."""
    if over_limit(request, "lookup", VERIFY_LIMIT):
        return _verify_page(request, {"lookup": LookupForm(), "upload": UploadForm(), "throttled": True}, 429)
    policy = services.policy_by_code(code)
    if policy is None:
        context = {"lookup": LookupForm(), "upload": UploadForm(), "not_found": True}
        return _verify_page(request, context, status=404)
    return _verify_page(
        request, {"lookup": LookupForm(), "upload": UploadForm(), "policy": presenters.public_view(policy)}
    )


# --- the customer's policies ---------------------------------------------------------------------


@login_required
@require_GET
def mine(request: HttpRequest) -> HttpResponse:
    policies = [presenters.card(p) for p in selectors.policies_of(request.user)]
    schedules = billing_selectors.schedules_for("policy", [p["number"] for p in policies])
    for p in policies:
        p["billing"] = schedules.get(p["number"])
        p["cancellable"] = p["status"] in LIVE_POLICY_STATUSES
    return render(request, "policy/pages/mine.html", {"policies": policies})


def _own(request: HttpRequest, public_id: Any) -> Any:
    try:
        return selectors.policy_for_customer(request.user, public_id)
    except NotFound:
        raise Http404("保单不存在") from None


@login_required
@require_GET
def detail(request: HttpRequest, public_id: Any) -> HttpResponse:
    policy = _own(request, public_id)
    context = {
        "policy": presenters.detail(policy),
        "rated": services.nps_for(policy.application_id) is not None,
        "billing": billing_selectors.schedule_for("policy", policy.number),
    }
    return render(request, "policy/pages/detail.html", context)


@login_required
@require_GET
def epolicy_pdf(request: HttpRequest, public_id: Any) -> HttpResponse:
    """The signed e-policy PDF of the customer's own policy (rendered now if not yet)."""
    policy = _own(request, public_id)
    document = documents.render_epolicy(policy)
    audit.record(
        "policy.epolicy_downloaded",
        "policy",
        policy.number,
        actor=request.user,
        request=request,
        after={"sha256": document.sha256},
    )
    response = HttpResponse(document.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


# --- NPS ------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def nps(request: HttpRequest, public_id: Any) -> HttpResponse:
    # The application rated is known here by the reference its policies hold (not read).
    policies = services.rated_policies(public_id, request.user)
    if not policies:
        raise Http404("投保单不存在")
    existing = services.nps_for(policies[0].application_id)
    form = NpsForm(request.POST or None)
    status = 200
    if request.method == "POST" and existing is None:
        if form.is_valid():
            try:
                existing = services.record_nps(
                    public_id,
                    score=form.cleaned_data["score"],
                    comment=form.cleaned_data["comment"],
                    user=request.user,
                    request=request,
                )
            except DomainError as exc:
                for error in exc.errors:
                    form.add_error(error.field if error.field in form.fields else None, error.message)
                if not exc.errors:
                    form.add_error(None, exc.message)
        if existing is None:
            status = 422
    application = {"public_id": public_id, "number": policies[0].application_number}
    context = {"application": application, "form": form, "response": existing, "policies": policies}
    return render(request, "policy/pages/nps.html", context, status=status)


# --- insurers ---------------------------------------------------------------------------------------


@csrf_exempt  # server-to-server: authenticated by the insurer's signature, not a cookie
@require_POST
def insurer_ack(request: HttpRequest, connector: str) -> HttpResponse:
    outcome = delivery.handle_ack(connector, request.headers, request.body)
    if outcome.acknowledge:
        return HttpResponse(ACK, content_type="text/plain")
    return HttpResponse("fail", status=400, content_type="text/plain")
