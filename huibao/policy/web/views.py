"""Policy pages: public verification, the customer's policies and e-policy download, the NPS
survey, and the insurers' acknowledgement endpoint. Views are thin: they parse the request, call
selectors and services and pick a template."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huibao.billing import selectors as billing_selectors
from huibao.core import audit
from huibao.core.errors import DomainError, NotFound, ValidationFailed
from huibao.policy import delivery, documents, hub, mandates, premiums, presenters, selectors, services
from huibao.policy.actions import actions_for, most_relevant
from huibao.policy.connector import ACK
from huibao.policy.limits import UPLOAD_LIMIT, VERIFY_LIMIT, over_limit
from huibao.policy.states import LIVE_POLICY_STATUSES
from huibao.policy.web.forms import LookupForm, MandateForm, NpsForm, RevokeMandateForm, UploadForm

# --- public verification -------------------------------------------------------------------------


def _verify_page(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    context = {**context, "root": documents.published_root()}
    response = render(request, "policy/pages/verify.html", context, status=status)
    response["X-Robots-Tag"] = "noindex"
    # Nothing of the page (its URL holds the verification code) goes to another site; its own
    # forms keep a readable Origin for the CSRF check (`no-referrer` makes browsers send
    # `Origin: null`, and the lookup and the upload were refused).
    response["Referrer-Policy"] = "same-origin"
    return response


ROOT_FILENAME = "huibao-root-ca.cer"


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


@require_GET
def root_certificate(request: HttpRequest) -> HttpResponse:
    """The platform's root certificate (DER), to trust the e-policies' signatures in a PDF reader."""
    root = documents.published_root()
    response = HttpResponse(root.der, content_type="application/x-x509-ca-cert")
    response["Content-Disposition"] = f'attachment; filename="{ROOT_FILENAME}"'
    response["Cache-Control"] = "public, max-age=3600"
    return response


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
    rows = list(selectors.policies_of(request.user))
    hub.prime_schedules(rows)
    policies = []
    for row in rows:
        card = presenters.card(row)
        card["action"] = most_relevant(actions_for(row, request.user))
        policies.append(card)
    schedules = billing_selectors.schedules_for("policy", [p["number"] for p in policies])
    for p in policies:
        p["billing"] = schedules.get(p["number"])
        # 退保 is always one tap away in "my policies" (unless it is the top action already).
        action = p["action"]
        p["cancel_entry"] = p["status"] in LIVE_POLICY_STATUSES and (action is None or action.key != "cancel")
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
        "actions": actions_for(policy, request.user),
        "status_meaning": hub.status_meaning(policy),
        "rated": services.nps_for(policy.application_id) is not None,
        "billing": billing_selectors.schedule_for("policy", policy.number),
    }
    return render(request, "policy/pages/detail.html", context)


@login_required
@require_GET
def history(request: HttpRequest, public_id: Any) -> HttpResponse:
    """The policy's timeline, and the policy as of a day (`?on=YYYY-MM-DD`)."""
    policy = _own(request, public_id)
    status = 200
    error = ""
    as_of = None
    raw = request.GET.get("on", "")
    try:
        on = selectors.parse_on(raw)
    except ValidationFailed as exc:
        on, status, error = None, 422, exc.errors[0].message
    if on is not None:
        as_of = selectors.policy_as_of(policy, on)
    context = {
        "policy": presenters.card(policy),
        "timeline": selectors.policy_timeline(policy),
        "as_of": as_of,
        "on": raw,
        "on_error": error,
    }
    return render(request, "policy/pages/history.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def mandate(request: HttpRequest, public_id: Any) -> HttpResponse:
    """The policy's payment authorisation: the stored one (masked), sign a new one, revoke it."""
    policy = _own(request, public_id)
    if not hub.pays_in_instalments(policy):
        raise Http404("这张保单不是分期缴费")
    sign_form, revoke_form = MandateForm(), RevokeMandateForm()
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        form: forms.Form
        if action == "sign":
            form = sign_form = MandateForm(request.POST)
        else:
            form = revoke_form = RevokeMandateForm(request.POST)
        if form.is_valid():
            try:
                if action == "sign":
                    mandates.sign(policy, user=request.user, request=request, **form.cleaned_data)
                    messages.success(request, _("代扣授权已签署，之后每期保费将按期自动扣款。"))
                else:
                    mandates.revoke(policy, user=request.user, request=request)
                    messages.success(request, _("代扣授权已解约，请按时手动缴纳每期保费。"))
                return HttpResponseRedirect(reverse("policy:mandate", args=[policy.public_id]))
            except DomainError as exc:
                for error in exc.errors:
                    form.add_error(error.field if error.field in form.fields else None, error.message)
                if not exc.errors:
                    form.add_error(None, exc.message)
        status = 422
    context = {
        "policy": presenters.card(policy),
        "mandate": mandates.mandate_of(policy),
        "sign_form": sign_form,
        "revoke_form": revoke_form,
    }
    return render(request, "policy/pages/mandate.html", context, status=status)


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


# --- premiums, reinstatement, history ----------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def premiums_page(request: HttpRequest, public_id: Any) -> HttpResponse:
    """The schedule of a policy paid in instalments: what is paid and due, and paying the next
    instalment now at the provider's page (the notification settles it)."""
    policy = _own(request, public_id)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        raw = request.POST.get("instalment", "")
        if not raw.isdigit():
            errors, status = ["请选择要缴纳的期数"], 422
        else:
            try:
                payment = premiums.pay_instalment(policy, int(raw), user=request.user, request=request)
            except DomainError as exc:
                errors, status = [exc.message], exc.http_status
            else:
                return HttpResponseRedirect(payment.checkout_url)
        policy = _own(request, public_id)
    context = {"policy": presenters.card(policy), "premiums": premiums.premiums_of(policy), "errors": errors}
    return render(request, "policy/pages/premiums.html", context, status=status)


def _answers(request: HttpRequest, questions: Any) -> dict[str, bool]:
    """The yes/no answers posted as `q_<code>` (anything else is left out: unanswered)."""
    answers: dict[str, bool] = {}
    for q in questions:
        value = request.POST.get(f"q_{q.code}", "")
        if value in ("yes", "no"):
            answers[q.code] = value == "yes"
    return answers


@login_required
@require_http_methods(["GET", "POST"])
def reinstate(request: HttpRequest, public_id: Any) -> HttpResponse:
    """Reinstating a lapsed policy (复效): the premiums owed line by line, the health questions
    again, then the payment at the provider's page."""
    policy = _own(request, public_id)
    errors: list[str] = []
    field_errors: dict[str, str] = {}
    answers: dict[str, bool] = {}
    status = 200
    offer = premiums.reinstatement_offer(policy)
    if request.method == "POST":
        answers = _answers(request, offer.health_questions)
        try:
            _, payment = premiums.request_reinstatement(policy, answers, user=request.user, request=request)
        except DomainError as exc:
            status = exc.http_status
            for e in exc.errors:
                field_errors[e.field.removeprefix("health_answers.")] = e.message
            errors = [exc.message] if exc.code != "validation_failed" else ["请回答全部健康告知问题"]
            if exc.code == "needs_underwriting":
                # referred to an underwriter: the page now says it waits, without the form
                offer = premiums.reinstatement_offer(policy)
                field_errors = {}
        else:
            return HttpResponseRedirect(payment.checkout_url)
    context = {
        "policy": presenters.card(policy),
        "offer": offer,
        "answers": answers,
        "errors": errors,
        "field_errors": field_errors,
    }
    return render(request, "policy/pages/reinstate.html", context, status=status)


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
