"""The cancellation page of the customer's own policy (/policy/mine/<uuid>/cancel/): the refund
explained line by line, the reason, the SMS code to the holder's phone, then the result with the
refund's status. One address, by the cancellation's state; thin: forms and use-cases."""

from __future__ import annotations

import contextlib
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from huibao.account.access import staff_required
from huibao.core.errors import DomainError, NotFound
from huibao.core.masking import mask_phone
from huibao.policy import cancel_presenters, presenters, selectors
from huibao.policy import cancellation as service
from huibao.policy.models import Cancellation
from huibao.policy.states import CANCELLATION_PENDING_STATUSES, CancellationStatus
from huibao.policy.web.forms import CancellationForm, CodeForm


def _client_address(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _errors_onto(form: Any, exc: DomainError) -> None:
    placed = False
    for error in exc.errors:
        if error.field in form.fields:
            form.add_error(error.field, error.message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def cancel(request: HttpRequest, public_id: Any) -> HttpResponse:
    try:
        policy = selectors.policy_for_customer(request.user, public_id)
    except NotFound:
        raise Http404("保单不存在") from None
    here = reverse("policy:cancel", args=[policy.public_id])
    current = service.open_cancellation(policy)
    reason_form = CancellationForm(initial={"reason": current.reason if current else None})
    code_form = CodeForm()
    status = 200
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if action == "request":
        reason_form = CancellationForm(request.POST)
        if reason_form.is_valid():
            try:
                service.request_cancellation(
                    policy,
                    user=request.user,
                    reason=reason_form.cleaned_data["reason"],
                    reason_text=reason_form.cleaned_data["reason_text"],
                    client_address=_client_address(request),
                )
                return HttpResponseRedirect(here)
            except DomainError as exc:
                _errors_onto(reason_form, exc)
        status = 422
    elif action in ("confirm", "resend", "withdraw") and current is not None:
        try:
            if action == "withdraw":
                service.withdraw(current, user=request.user)
                return HttpResponseRedirect(reverse("policy:detail", args=[policy.public_id]))
            if action == "resend":
                service.send_confirmation_code(
                    current, user=request.user, client_address=_client_address(request)
                )
                return HttpResponseRedirect(here)
            code_form = CodeForm(request.POST)
            if code_form.is_valid():
                service.confirm(current, user=request.user, code=code_form.cleaned_data["code"])
                return HttpResponseRedirect(here)
            status = 422
        except DomainError as exc:
            _errors_onto(code_form, exc)
            status = exc.http_status if exc.http_status >= 400 else 422
    current = service.open_cancellation(policy)
    pending = current is not None and current.status in CANCELLATION_PENDING_STATUSES
    context: dict[str, Any] = {
        "policy": presenters.card(policy),
        "reason_form": reason_form,
        "code_form": code_form,
        "cancellation": None,
        "quote": None,
        "refusal": "",
        "done": current is not None and not pending,
        "pending": pending,
        "awaiting_code": current is not None and current.status == "awaiting_confirmation",
        "phone": "",
        "shown": [],
        "shown_kind": "",
        "shown_total": "",
    }
    if current is not None:
        view = cancel_presenters.cancellation_view(current, service.refunds_of(current))
        context.update(cancellation=view, shown=view["lines"], shown_kind=view["kind_label"])
        context["shown_total"] = view["amount_display"]
        with contextlib.suppress(DomainError):
            context["phone"] = mask_phone(service.holder_phone(policy))
    if current is None or pending:
        try:
            quote = cancel_presenters.quote_view(service.quote(policy))
        except DomainError as exc:
            context["refusal"] = exc.message
        else:
            context["quote"] = quote
            if current is None:
                context.update(
                    shown=quote["lines"], shown_kind=quote["kind_label"], shown_total=quote["amount_display"]
                )
    context["show_reason_form"] = bool(context["quote"]) and not context["awaiting_code"]
    return render(request, "policy/pages/cancel.html", context, status=status)


@never_cache
@require_POST
@staff_required(permission="policy.change_cancellation")
def staff_retry(request: HttpRequest, public_id: Any) -> HttpResponse:
    """The servicing queue's button: retries a failed refund, or tells the insurer now."""
    found = Cancellation.objects.select_related("policy").filter(public_id=public_id).first()
    if found is None:
        raise Http404("退保申请不存在")
    try:
        if found.status == CancellationStatus.REFUND_FAILED:
            status = service.retry_refund(found, actor=request.user)
            messages.success(
                request, gettext("已重试退款：%(status)s") % {"status": CancellationStatus(status).label}
            )
        elif service.notify_insurer_now(found, actor=request.user, request=request):
            messages.success(request, gettext("保险公司已接收退保通知。"))
        else:
            messages.error(request, gettext("保险公司仍未接收，请稍后再试。"))
    except DomainError as exc:
        messages.error(request, exc.message)
    return HttpResponseRedirect(reverse("policy:staff_servicing"))
