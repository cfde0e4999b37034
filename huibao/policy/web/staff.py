"""The staff servicing queue: sections of what needs a person (policy/queue.py), with the
operators' re-send of a failed message and immediate retry of a failed insurer delivery, and the
underwriters' decision on a referred reinstatement.
Verified staff only (password + TOTP); each section and each button has its permission."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from huibao.account.access import staff_required
from huibao.core.errors import DomainError
from huibao.notification import services as notification_services
from huibao.notification.models import OutboxMessage
from huibao.policy import delivery, queue, reinstatement
from huibao.policy.models import InsurerDelivery
from huibao.policy.states import DeliveryStatus

QUEUE_PERMISSION = "policy.view_policy"


def _back() -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("policy:staff_servicing"))


@never_cache
@require_GET
@staff_required(permission=QUEUE_PERMISSION)
def servicing(request: HttpRequest) -> HttpResponse:
    sections = queue.sections_for(request.user)
    return render(request, "policy/staff/servicing.html", {"sections": sections})


@never_cache
@require_POST
@staff_required(permission="notification.change_outboxmessage")
def resend(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    message = OutboxMessage.objects.filter(public_id=public_id).first()
    if message is None:
        raise Http404("消息不存在")
    try:
        notification_services.resend(message, actor=request.user, request=request)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已重新排队发送。"))
    return _back()


@never_cache
@require_POST
@staff_required(permission="policy.change_insurerdelivery")
def retry_delivery(request: HttpRequest, pk: int) -> HttpResponse:
    found: Any = InsurerDelivery.objects.select_related("policy", "endorsement").filter(pk=pk).first()
    if found is None:
        raise Http404("回传记录不存在")
    if found.status == DeliveryStatus.ACKNOWLEDGED:
        messages.info(request, _("保险公司已确认，无需重试。"))
        return _back()
    try:
        status = delivery.retry_now(found, actor=request.user, request=request)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _back()
    label = str(DeliveryStatus(status).label)
    messages.success(request, _("已立即重试：%(status)s") % {"status": label})
    return _back()


@never_cache
@require_POST
@staff_required(permission=reinstatement.DECIDE_PERMISSION)
def decide_reinstatement(request: HttpRequest, public_id: uuid.UUID, action: str) -> HttpResponse:
    """核保通过 / 不通过 (with a reason) of a referred reinstatement; the customer is told."""
    if action not in ("approve", "decline"):
        raise Http404("未知操作")
    try:
        referral = reinstatement.by_public_id(public_id)
        if action == "approve":
            reinstatement.approve_referral(referral, actor=request.user)
            messages.success(request, _("复效申请已核保通过，已通知客户补缴保费。"))
        else:
            reinstatement.decline_referral(
                referral, actor=request.user, reason=request.POST.get("reason", "")
            )
            messages.success(request, _("复效申请已处理为不通过，已通知客户。"))
    except DomainError as exc:
        if exc.code == "referral_not_found":
            raise Http404(exc.message) from exc
        messages.error(request, exc.errors[0].message if exc.errors else exc.message)
    return _back()
