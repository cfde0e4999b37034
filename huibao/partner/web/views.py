"""Back-office pages of the partner API: partners (list, create, activate), their API clients
(create — the HMAC secret or generated RSA private key shown once — rotate with an overlap
window, revoke, edit scopes, products and rate limit). Operators manage (`partner.manage_partner`);
auditors read (`partner.view_partner`). Every change goes through `services` (audited)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from huibao.account.access import staff_required
from huibao.catalog.models import Insurer
from huibao.core.errors import DomainError, FieldError, NotFound, ValidationFailed
from huibao.distribution.models import SalesUnit
from huibao.partner import selectors, services
from huibao.partner.models import ApiClient, Partner
from huibao.partner.states import Algorithm, ClientStatus, PartnerKind, Scope

VIEW = "partner.view_partner"
MANAGE = "partner.manage_partner"


def _errors(exc: DomainError) -> tuple[str, dict[str, str]]:
    field_errors: dict[str, str] = {}
    for e in exc.errors:
        field_errors.setdefault(e.field, e.message)
    return "；".join(field_errors.values()) or exc.message, field_errors


def _require_manage(request: HttpRequest) -> None:
    if not request.user.has_perm(MANAGE):
        raise PermissionDenied(MANAGE)


def _int(post: QueryDict, name: str, default: int, errors: list[FieldError], label: str) -> int:
    raw = post.get(name, "").strip() or str(default)
    if not raw.isdigit() or len(raw) > 7:
        errors.append(FieldError(name, "invalid", _("%(label)s须为整数") % {"label": label}))
        return default
    return int(raw)


def _partner_data(post: QueryDict) -> services.PartnerData:
    kind = post.get("kind", "")
    insurer_pk, unit_pk = post.get("insurer", ""), post.get("sales_unit", "")
    insurer = Insurer.objects.filter(pk=int(insurer_pk)).first() if insurer_pk.isdigit() else None
    unit = SalesUnit.objects.filter(pk=int(unit_pk)).first() if unit_pk.isdigit() else None
    return services.PartnerData(
        code=post.get("code", ""), name=post.get("name", ""), kind=kind, insurer=insurer, sales_unit=unit
    )


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(permission=VIEW)
def partners(request: HttpRequest) -> HttpResponse:
    error, field_errors = "", dict[str, str]()
    if request.method == "POST":
        _require_manage(request)
        try:
            created = services.create_partner(_partner_data(request.POST), actor=request.user)
        except DomainError as exc:
            error, field_errors = _errors(exc)
        else:
            messages.success(request, _("已创建合作方：%(name)s") % {"name": created.name})
            return redirect("partner:partner", created.pk)
    context = {
        "partners": selectors.partners(),
        "may_manage": request.user.has_perm(MANAGE),
        "kinds": PartnerKind.choices,
        "insurers": Insurer.objects.order_by("code"),
        "units": SalesUnit.objects.filter(kind__in=services.CHANNEL_KINDS, is_active=True).order_by("path"),
        "posted": request.POST,
        "error": error,
        "field_errors": field_errors,
    }
    return render(request, "partner/pages/partners.html", context, status=400 if error else 200)


def _partner_or_404(pk: int) -> Partner:
    try:
        return selectors.partner_by_pk(pk)
    except NotFound:
        raise Http404 from None


def _client_or_404(partner: Partner, pk: int) -> ApiClient:
    try:
        return selectors.client_of(partner, pk)
    except NotFound:
        raise Http404 from None


def _detail(
    request: HttpRequest,
    partner: Partner,
    *,
    issued: services.Issued | None = None,
    error: str = "",
    field_errors: dict[str, str] | None = None,
) -> HttpResponse:
    context: dict[str, Any] = {
        "partner": partner,
        "clients": selectors.clients_of(partner),
        "may_manage": request.user.has_perm(MANAGE),
        "algorithms": Algorithm.choices,
        "scopes": Scope.choices,
        "issued": issued,
        "error": error,
        "field_errors": field_errors or {},
        "posted": request.POST,
        "active": ClientStatus.ACTIVE,
        "revoked": ClientStatus.REVOKED,
    }
    # `never_cache` on every view: a page that shows a secret is kept by no cache (no-store).
    return render(request, "partner/pages/partner.html", context, status=400 if error else 200)


@never_cache
@require_http_methods(["GET"])
@staff_required(permission=VIEW)
def partner(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, _partner_or_404(pk))


@never_cache
@require_POST
@staff_required(permission=VIEW)
def partner_active(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manage(request)
    found = _partner_or_404(pk)
    services.set_partner_active(found, request.POST.get("active") == "1", actor=request.user)
    return redirect("partner:partner", found.pk)


def _client_data(post: QueryDict) -> services.ClientData:
    errors: list[FieldError] = []
    rate = _int(post, "rate_limit", 600, errors, _("每分钟请求上限"))
    if errors:
        raise ValidationFailed("the form is not valid", errors=errors)
    return services.ClientData(
        algorithm=post.get("algorithm", ""),
        scopes=post.getlist("scopes"),
        products=[p for p in post.get("products", "").replace("，", ",").split(",") if p.strip()],
        rate_limit=rate,
        label=post.get("label", ""),
        public_key_pem=post.get("public_key_pem", ""),
    )


@never_cache
@require_POST
@staff_required(permission=VIEW)
def client_create(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manage(request)
    found = _partner_or_404(pk)
    try:
        issued = services.create_client(found, _client_data(request.POST), actor=request.user)
    except DomainError as exc:
        error, field_errors = _errors(exc)
        return _detail(request, found, error=error, field_errors=field_errors)
    return _detail(request, found, issued=issued)


@never_cache
@require_POST
@staff_required(permission=VIEW)
def client_rotate(request: HttpRequest, pk: int, client_pk: int) -> HttpResponse:
    _require_manage(request)
    found = _partner_or_404(pk)
    client = _client_or_404(found, client_pk)
    errors: list[FieldError] = []
    hours = _int(request.POST, "retire_after_hours", 24, errors, _("过渡期（小时）"))
    try:
        if errors:
            raise ValidationFailed("the form is not valid", errors=errors)
        issued = services.rotate_client(
            client,
            retire_after_hours=hours,
            actor=request.user,
            public_key_pem=request.POST.get("public_key_pem", ""),
        )
    except DomainError as exc:
        error, field_errors = _errors(exc)
        return _detail(request, found, error=error, field_errors=field_errors)
    return _detail(request, found, issued=issued)


@never_cache
@require_POST
@staff_required(permission=VIEW)
def client_revoke(request: HttpRequest, pk: int, client_pk: int) -> HttpResponse:
    _require_manage(request)
    found = _partner_or_404(pk)
    try:
        revoked = services.revoke_client(_client_or_404(found, client_pk), actor=request.user)
    except DomainError as exc:
        error, field_errors = _errors(exc)
        return _detail(request, found, error=error, field_errors=field_errors)
    messages.success(request, _("已吊销密钥：%(key)s") % {"key": revoked.key_id})
    return redirect("partner:partner", found.pk)


@never_cache
@require_POST
@staff_required(permission=VIEW)
def client_access(request: HttpRequest, pk: int, client_pk: int) -> HttpResponse:
    _require_manage(request)
    found = _partner_or_404(pk)
    client = _client_or_404(found, client_pk)
    try:
        data = _client_data(request.POST)
        services.update_access(
            client, scopes=data.scopes, products=data.products, rate_limit=data.rate_limit, actor=request.user
        )
    except DomainError as exc:
        error, field_errors = _errors(exc)
        return _detail(request, found, error=error, field_errors=field_errors)
    messages.success(request, _("已更新权限：%(key)s") % {"key": client.key_id})
    return redirect("partner:partner", found.pk)


urlpatterns: list[URLPattern] = [
    path("", partners, name="partners"),
    path("<int:pk>/", partner, name="partner"),
    path("<int:pk>/active/", partner_active, name="partner_active"),
    path("<int:pk>/clients/", client_create, name="client_create"),
    path("<int:pk>/clients/<int:client_pk>/rotate/", client_rotate, name="client_rotate"),
    path("<int:pk>/clients/<int:client_pk>/revoke/", client_revoke, name="client_revoke"),
    path("<int:pk>/clients/<int:client_pk>/access/", client_access, name="client_access"),
]
