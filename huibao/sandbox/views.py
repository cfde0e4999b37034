"""The sandboxes' pages: the payment gateway's pay page, the face service's check page, and the
SMS gateway's inbox (staff only), and a partner's webhook receiver with its page."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from huibao.account.access import staff_required
from huibao.core.errors import ValidationFailed
from huibao.core.masking import mask_id_number, mask_name
from huibao.core.money import format_cny
from huibao.sandbox import identity, partner_webhooks, payment, sms
from huibao.sandbox.models import SandboxCheckoutStatus, SandboxFaceSessionStatus
from huibao.sandbox.notifications import SandboxError

# Merchant pages where a bare POST means "pay again" (a new payment, straight to its cashier):
# the declined payer's 重新支付 is one tap there. Elsewhere it is a link back to the page.
_PAY_AGAIN_BY_POST = frozenset({"application:pay"})


def _retries_by_post(return_url: str) -> bool:
    if not return_url:
        return False
    try:
        match = resolve(urlsplit(return_url).path)
    except Resolver404:
        return False
    return match.view_name in _PAY_AGAIN_BY_POST


@never_cache
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest, txn_id: str) -> HttpResponse:
    """The sandbox gateway's cashier, as a phone cashier behaves: the order's amount, the payer of
    its real-name binding (masked; not asked again), a card number. Paid: back to the merchant's
    return URL at once. Declined or closed: the reason in words and the way back to pay again."""
    try:
        checkout = payment.get_checkout(txn_id)
    except SandboxError:
        raise Http404("no such checkout") from None
    errors: dict[str, str] = {}
    form = {"payer_name": "", "id_number": "", "card_number": ""}
    if request.method == "POST" and checkout.status == SandboxCheckoutStatus.OPEN:
        form = {key: request.POST.get(key, "") for key in form}
        try:
            checkout = payment.submit_payment(
                txn_id,
                payer_name=form["payer_name"],
                id_number=form["id_number"],
                card_number=form["card_number"],
                action=request.POST.get("action", "pay"),
            )
        except ValidationFailed as exc:
            errors = {e.field: e.message for e in exc.errors} or {"form": exc.message}
        else:
            # return_url was checked by the merchant's payment service (its own site only).
            if checkout.status == SandboxCheckoutStatus.PAID and checkout.return_url:
                return HttpResponseRedirect(checkout.return_url)
    bound = bool(checkout.bound_id_number)
    context = {
        "checkout": checkout,
        "amount": format_cny(Decimal(checkout.amount_fen) / 100),
        "form": form,
        "errors": errors,
        "bound": bound,
        "payer_name": mask_name(checkout.bound_name) if bound else "",
        "payer_id": mask_id_number(checkout.bound_id_number) if bound else "",
        # Someone else's card: its holder's fields open when they were used (or are in error).
        "other_payer": bool(
            form["payer_name"] or form["id_number"] or "payer_name" in errors or "id_number" in errors
        ),
        "reason": payment.reason_text(checkout.reason),
        "retry_by_post": _retries_by_post(checkout.return_url),
    }
    return render(request, "sandbox/pay.html", context, status=422 if errors else 200)


@never_cache
@require_http_methods(["GET", "POST"])
def face(request: HttpRequest, token: str) -> HttpResponse:
    """The sandbox face service's hosted page: "开始检测" submits, the service decides and notifies
    the platform, and the browser goes back to the platform's return URL."""
    try:
        session = identity.get_session(token)
    except SandboxError:
        raise Http404("no such face session") from None
    if request.method == "POST":
        session = identity.submit_face(token)
        # return_url was checked by the platform when it opened the check (a path or its own host).
        return HttpResponseRedirect(session.return_url)
    context = {
        "session": session,
        "open": session.status == SandboxFaceSessionStatus.OPEN and timezone.now() < session.expires_at,
        "masked_name": mask_name(session.name),
        "masked_id": mask_id_number(session.id_number),
    }
    return render(request, "sandbox/face.html", context)


@never_cache
@require_http_methods(["GET"])
@staff_required(permission="sandbox.view_sandboxsms")
def sms_inbox(request: HttpRequest) -> HttpResponse:
    """The sandbox SMS gateway's inbox: the last texts per (masked) number, codes in clear, for
    verified staff allowed to read it; not served where the sandbox is not allowed."""
    if not sms.inbox_allowed():
        raise Http404("no sandbox SMS inbox here")
    return render(request, "sandbox/sms.html", {"numbers": sms.inbox()})


def _partner_receiver_allowed() -> None:
    """The sandbox partner is a development part: not served outside development."""
    if settings.HUIBAO_STRICT:
        raise Http404("no sandbox partner here")


@staff_required(permission="webhook.view_webhookdelivery")
def _partner_page(request: HttpRequest, code: str) -> HttpResponse:
    context = {
        "code": code,
        "rows": partner_webhooks.received(code),
        "fail_next": partner_webhooks.fail_next(code),
        "may_change": request.user.has_perm("webhook.change_webhookendpoint"),
    }
    return render(request, "sandbox/partner_webhooks.html", context)


@csrf_exempt  # a partner's server-to-server endpoint: the signature is its authentication
@never_cache
@require_http_methods(["GET", "POST"])
def partner_webhooks_view(request: HttpRequest, code: str) -> HttpResponse:
    """POST: the sandbox partner `code` receives a webhook (signature checked); GET: what it
    received (staff)."""
    _partner_receiver_allowed()
    if request.method == "GET":
        return _partner_page(request, code)
    headers = {
        name: request.headers.get(name, "")
        for name in ("Huibao-Webhook-Id", "Huibao-Timestamp", "Huibao-Signature")
    }
    answer = partner_webhooks.receive(code, headers=headers, body=request.body)
    return JsonResponse(answer.body, status=answer.status)


@require_POST
@staff_required(permission="webhook.change_webhookendpoint")
def partner_webhooks_fail(request: HttpRequest, code: str) -> HttpResponse:
    """Tells the sandbox partner to answer the next N deliveries with a 500."""
    _partner_receiver_allowed()
    raw = request.POST.get("count", "0").strip()
    count = int(raw) if raw.isdigit() else 0
    partner_webhooks.set_fail_next(code, min(count, 100))
    return HttpResponseRedirect(request.path.removesuffix("fail/"))
