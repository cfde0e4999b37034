"""Thin views: the provider notify endpoints and the Alipay and WeChat Pay checkout pages."""

from __future__ import annotations

import uuid

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from huibao.core.errors import NotFound
from huibao.core.qr import qr_svg
from huibao.payment import payouts, selectors, services
from huibao.payment.gateways.alipay import AlipayProvider
from huibao.payment.gateways.wechatpay import WeChatPayProvider
from huibao.payment.provider import ACK, get_provider


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


def alipay_checkout(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The payment's Alipay checkout: the order signed now, posted by the payer's browser to the
    gateway (the payer's name and ID number stay out of every URL). Only whoever may see the
    payment reaches it; a payment no longer open shows that it is closed."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    try:
        payment = selectors.payment_for_viewer(request.user, public_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    gateway = get_provider(payment.provider)
    if not isinstance(gateway, AlipayProvider):
        raise Http404("not an Alipay payment")
    form = gateway.order_form(payment) if selectors.is_open(payment) else None
    return render(request, "payment/alipay_checkout.html", {"payment": payment, "form": form})


def wechatpay_checkout(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The payment's WeChat Pay Native checkout: its payment code as a QR code to scan with
    WeChat (and, inside WeChat, a link to it). Only whoever may see the payment reaches it."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    try:
        payment = selectors.payment_for_viewer(request.user, public_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if not isinstance(get_provider(payment.provider), WeChatPayProvider):
        raise Http404("not a WeChat Pay payment")
    code = WeChatPayProvider.code_url(payment) if selectors.is_open(payment) else ""
    context = {
        "payment": payment,
        "code": code,
        "qr": qr_svg(code, title="微信支付二维码") if code else "",
        "return_url": payment.return_url,
    }
    return render(request, "payment/wechatpay_checkout.html", context)
