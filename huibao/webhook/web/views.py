"""Back-office pages of webhooks: the endpoints per subscriber (add, edit, deactivate, rotate the
secret — shown once —, a test ping), the delivery log with its filters, one delivery's attempts
and the re-sends ("重新发送": one, or every dead delivery of a subscriber).

Operators manage (`webhook.change_webhookendpoint`, `webhook.change_webhookdelivery`); anyone
with `webhook.view_webhookdelivery` (auditors) reads. A page that shows a fresh secret is never
cached and the secret is in no URL, message or log.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from huibao.core.errors import DomainError, NotFound
from huibao.webhook import selectors, services
from huibao.webhook.models import WebhookEndpoint
from huibao.webhook.states import DeliveryStatus, EventType
from huibao.webhook.web.access import staff_required

VIEW = "webhook.view_webhookdelivery"
MANAGE_ENDPOINTS = "webhook.change_webhookendpoint"
ADD_ENDPOINT = "webhook.add_webhookendpoint"
RESEND = "webhook.change_webhookdelivery"
PAGE_SIZE = 50


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied(perm)


def _errors(exc: DomainError) -> tuple[str, dict[str, str]]:
    field_errors: dict[str, str] = {}
    for e in exc.errors:
        field_errors.setdefault(e.field, e.message)
    return "；".join(field_errors.values()) or exc.message, field_errors


def _subscribable() -> list[tuple[str, str]]:
    return [(t.value, t.label) for t in EventType if t != EventType.PING]


def _form_context(posted: QueryDict) -> dict[str, Any]:
    return {"posted": posted, "posted_types": posted.getlist("event_types"), "event_types": _subscribable()}


def _endpoint_or_404(public_id: Any) -> WebhookEndpoint:
    try:
        return selectors.endpoint_by_id(public_id)
    except NotFound:
        raise Http404 from None


def _secret_page(request: HttpRequest, endpoint: WebhookEndpoint, secret: str) -> HttpResponse:
    response = render(request, "webhook/pages/secret.html", {"endpoint": endpoint, "secret": secret})
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@staff_required(VIEW)
@require_http_methods(["GET", "POST"])
def endpoints(request: HttpRequest) -> HttpResponse:
    error, field_errors = "", dict[str, str]()
    if request.method == "POST":
        _require(request, ADD_ENDPOINT)
        try:
            endpoint, secret = services.create_endpoint(
                request.POST.get("subscriber", ""),
                request.POST.get("url", ""),
                request.POST.getlist("event_types"),
                description=request.POST.get("description", ""),
                actor=request.user,
                request=request,
            )
        except DomainError as exc:
            error, field_errors = _errors(exc)
        else:
            return _secret_page(request, endpoint, secret)
    subscriber = request.GET.get("subscriber", "").strip()
    listed = WebhookEndpoint.objects.order_by("subscriber", "-is_active", "id")
    if subscriber:
        listed = listed.filter(subscriber=subscriber)
    context = {
        "endpoints": listed,
        "subscribers": selectors.subscribers(),
        "subscriber": subscriber,
        "may_add": request.user.has_perm(ADD_ENDPOINT),
        "error": error,
        "field_errors": field_errors,
        **_form_context(request.POST if request.method == "POST" else QueryDict()),
    }
    return render(request, "webhook/pages/endpoints.html", context, status=400 if error else 200)


def _initial(endpoint: WebhookEndpoint) -> QueryDict:
    initial = QueryDict(mutable=True)
    initial["url"] = endpoint.url
    initial["description"] = endpoint.description
    if endpoint.is_active:
        initial["is_active"] = "on"
    initial.setlist("event_types", list(endpoint.event_types))
    return initial


@never_cache
@staff_required(VIEW)
@require_http_methods(["GET", "POST"])
def endpoint(request: HttpRequest, public_id: str) -> HttpResponse:
    row = _endpoint_or_404(public_id)
    error, field_errors = "", dict[str, str]()
    posted = _initial(row)
    if request.method == "POST":
        _require(request, MANAGE_ENDPOINTS)
        posted = request.POST
        try:
            services.update_endpoint(
                row.public_id,
                url=request.POST.get("url", ""),
                event_types=request.POST.getlist("event_types"),
                description=request.POST.get("description", ""),
                is_active=request.POST.get("is_active") == "on",
                actor=request.user,
                request=request,
            )
        except DomainError as exc:
            error, field_errors = _errors(exc)
        else:
            messages.success(request, _("已保存回调地址"))
            return redirect("webhook:endpoint", row.public_id)
    context = {
        "endpoint": row,
        "may_manage": request.user.has_perm(MANAGE_ENDPOINTS),
        "recent": selectors.delivery_log(subscriber=row.subscriber).filter(endpoint=row)[:20],
        "error": error,
        "field_errors": field_errors,
        **_form_context(posted),
    }
    return render(request, "webhook/pages/endpoint.html", context, status=400 if error else 200)


@staff_required(MANAGE_ENDPOINTS)
@require_POST
def rotate_secret(request: HttpRequest, public_id: str) -> HttpResponse:
    row = _endpoint_or_404(public_id)
    endpoint, secret = services.rotate_secret(row.public_id, actor=request.user, request=request)
    return _secret_page(request, endpoint, secret)


@staff_required(MANAGE_ENDPOINTS)
@require_POST
def deactivate(request: HttpRequest, public_id: str) -> HttpResponse:
    row = _endpoint_or_404(public_id)
    services.deactivate_endpoint(row.public_id, actor=request.user, request=request)
    messages.success(request, _("已停用回调地址"))
    return redirect("webhook:endpoint", row.public_id)


@staff_required(MANAGE_ENDPOINTS)
@require_POST
def ping(request: HttpRequest, public_id: str) -> HttpResponse:
    row = _endpoint_or_404(public_id)
    try:
        delivery = services.send_ping(row.public_id, actor=request.user, request=request)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("webhook:endpoint", row.public_id)
    messages.success(request, _("已发送测试推送"))
    return redirect("webhook:delivery", delivery.public_id)


@never_cache
@staff_required(VIEW)
def deliveries(request: HttpRequest) -> HttpResponse:
    subscriber = request.GET.get("subscriber", "").strip()
    status = request.GET.get("status", "")
    event_type = request.GET.get("event_type", "")
    if status not in DeliveryStatus.values:
        status = ""
    if event_type not in EventType.values:
        event_type = ""
    rows = selectors.delivery_log(subscriber=subscriber, status=status, event_type=event_type)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = QueryDict(mutable=True)
    for name, value in (("subscriber", subscriber), ("status", status), ("event_type", event_type)):
        if value:
            query[name] = value
    context = {
        "page": page,
        "subscribers": selectors.subscribers(),
        "subscriber": subscriber,
        "status": status,
        "event_type": event_type,
        "statuses": DeliveryStatus.choices,
        "event_types": EventType.choices,
        "query": query.urlencode(),
        "may_resend": request.user.has_perm(RESEND),
    }
    return render(request, "webhook/pages/deliveries.html", context)


@never_cache
@staff_required(VIEW)
def delivery(request: HttpRequest, public_id: str) -> HttpResponse:
    try:
        row = selectors.delivery_by_id(public_id)
    except NotFound:
        raise Http404 from None
    context = {
        "delivery": row,
        "attempts": selectors.attempts_of(row),
        "may_resend": request.user.has_perm(RESEND),
    }
    return render(request, "webhook/pages/delivery.html", context)


@staff_required(RESEND)
@require_POST
def resend(request: HttpRequest, public_id: str) -> HttpResponse:
    try:
        row = services.resend(public_id, actor=request.user, request=request)
    except NotFound:
        raise Http404 from None
    messages.success(request, _("已重新发送"))
    return redirect("webhook:delivery", row.public_id)


@staff_required(RESEND)
@require_POST
def resend_dead(request: HttpRequest) -> HttpResponse:
    subscriber = request.POST.get("subscriber", "").strip()
    if not subscriber:
        messages.error(request, _("请先选择订阅方"))
        return redirect("webhook:deliveries")
    count = services.resend_dead(subscriber, actor=request.user, request=request)
    messages.success(request, _("已重新发送 %(count)d 条已放弃的推送") % {"count": count})
    return redirect(f"{reverse('webhook:deliveries')}?{urlencode({'subscriber': subscriber})}")
