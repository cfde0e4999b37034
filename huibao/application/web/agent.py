"""The agent's pages: start an application from quotes for a customer, fill in the data, send
the customer a link and QR code. The customer then checks, confirms, reads, signs and pays
themself (no signing by proxy); after the customer confirmed, the agent sees the data locked,
and a change the agent still makes sends the application back to draft for the customer.

Only verified staff (password + TOTP) reach these pages.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from huibao.account.access import staff_required
from huibao.account.models import UserKind
from huibao.application.evidence.trace import record_page_view
from huibao.application.models import Application
from huibao.application.premium import total_shown
from huibao.application.qr import qr_svg
from huibao.application.selectors import (
    applications_started_by,
    data_complete,
    get_for_agent,
    items_of,
    payment_mode_of,
)
from huibao.application.services.data import save_data
from huibao.application.services.invitation import invite_customer
from huibao.application.services.start import quote_ttl, start_application
from huibao.application.states import OPEN_STATUSES, ApplicationStatus
from huibao.application.web import forms
from huibao.application.web.views import _people_summary, agent_amended, errors_of
from huibao.core.errors import DomainError, FieldError, NotFound, ValidationFailed
from huibao.core.masking import mask_id_number, mask_phone
from huibao.distribution.selectors import seller_for_user
from huibao.rating.selectors import quote_id_by_number, recent_quotes_of

S = ApplicationStatus
AGENT_ROLE = "agent"  # the role group of sales agents (account.roles)
INVITES_KEY = "agent_invites"  # {application public id: invitation token} of this agent's session


def is_agent(user: Any) -> bool:
    """Who the back office offers the agent tool to (and lands on it after logging in): verified
    staff in the agent role or with an active agent unit. Any verified staff may open the tool
    itself (`staff_required`); this only decides what is offered, so it is asked right after the
    password and TOTP checks too, before the session is marked verified."""
    if not (getattr(user, "is_authenticated", False) and getattr(user, "kind", None) == UserKind.STAFF):
        return False
    if not (user.is_staff and user.is_active):
        return False
    cached = getattr(user, "_is_agent", None)
    if cached is None:
        cached = user.groups.filter(name=AGENT_ROLE).exists() or seller_for_user(user) is not None
        user._is_agent = cached  # one request's user: the nav and the page ask again
    return bool(cached)


def _agent_application(request: HttpRequest, public_id: uuid.UUID) -> Application:
    try:
        return get_for_agent(public_id, request.user)
    except NotFound:
        raise Http404("no such application") from None


def _posted_quotes(request: HttpRequest) -> list[str]:
    """The quotes the agent picked from the list and typed (short numbers as customers see them,
    or full ids), in order; an unknown number is an error naming the field."""
    ids: list[str] = []
    unknown: list[str] = []
    for raw in request.POST.getlist("quote_id"):
        for part in raw.replace(",", " ").replace("，", " ").split():
            try:
                ids.append(str(uuid.UUID(part)))
            except ValueError:
                found = quote_id_by_number(request.user, part)
                if found is None:
                    unknown.append(part[:40])
                else:
                    ids.append(found)
    if unknown:
        errors = [FieldError("quote_id", "unknown_quote", f"报价编号“{n}”不存在") for n in unknown]
        raise ValidationFailed(errors[0].message, code="unknown_quote", errors=errors)
    return list(dict.fromkeys(ids))


@staff_required()
@require_http_methods(["GET", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    """The agent's applications and a form to start one: pick from the agent's own recent quotes
    (searchable by number or product) or type the short quote number a customer reads out."""
    errors: list[FieldError] = []
    picked: list[str] = []
    if request.method == "POST":
        try:
            picked = _posted_quotes(request)
            app = start_application(quote_ids=picked, started_by=request.user, request=request)
        except DomainError as exc:
            errors = errors_of(exc)
        else:
            return redirect("application:agent_edit", app.public_id)
    search = request.GET.get("q", "").strip()[:40]
    rows = [
        {
            "app": app,
            "products": list(dict.fromkeys(i.product_version.product.name for i in app.items.all())),
            "status_label": S(app.status).label,
            "customer": mask_phone(app.customer.phone) if app.customer else "",
        }
        for app in applications_started_by(request.user)[:50]
    ]
    quotes = recent_quotes_of(request.user, since=timezone.now() - quote_ttl(), search=search)
    return render(
        request,
        "application/agent_home.html",
        {
            "rows": rows,
            "quotes": quotes,
            "picked": set(picked),
            "search": search,
            "errors": [e.message for e in errors],
            "quote_value": " ".join(v for v in request.POST.getlist("quote_id") if v and not _is_uuid(v)),
        },
        status=422 if errors else 200,
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _edit_context(request: HttpRequest, app: Application) -> dict[str, Any]:
    token = (request.session.get(INVITES_KEY) or {}).get(str(app.public_id))
    link = request.build_absolute_uri(reverse("application:invite", args=[token])) if token else ""
    items = items_of(app)
    return {
        "app": app,
        "status_label": S(app.status).label,
        "items": items,
        "total": app.total_premium,
        "total_shown": total_shown((i.premium, i.underwriting_outcome, payment_mode_of(i)) for i in items),
        "data_complete": data_complete(app),
        "locked": app.status != S.DRAFT or app.is_confirmed,
        "open": app.status in OPEN_STATUSES,
        "editable": app.status in OPEN_STATUSES and app.status != S.AWAITING_PAYMENT,
        "customer": mask_phone(app.customer.phone) if app.customer else "",
        "invite_link": link,
        "invite_qr": qr_svg(link, title="投保邀请二维码") if link else "",
        "agent_amended": agent_amended(app),
    }


def _masked_ids(values: dict[str, str]) -> dict[str, str]:
    """The form's values with every stored ID number masked: the agent typed them once and does
    not see them again in full (the customer, their owner, does on their own pages)."""
    return {k: mask_id_number(v) if k.endswith(".id_number") and v else v for k, v in values.items()}


def _unmasked_post(post: QueryDict, app: Application) -> QueryDict:
    """The posted form with each ID number left as shown (masked) replaced by the stored number of
    the same field; a number the agent typed again, or a field whose person moved, is kept as
    posted (a masked number there fails the ID check and is typed again)."""
    data = post.copy()
    for key, stored in forms.values_from_app(app).items():
        if key.endswith(".id_number") and stored and data.get(key) == mask_id_number(stored):
            data[key] = stored
    return data


@staff_required()
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The data form (agent as actor). Once the customer confirmed, the data shows locked; the
    agent may still change it (`?edit=1`), which sends the application back to draft."""
    app = _agent_application(request, public_id)
    template = "application/agent_edit.html"
    context = _edit_context(request, app)
    editing = context["editable"] and (not context["locked"] or request.GET.get("edit") == "1")
    if request.method == "GET":
        record_page_view(app, template, request=request)
        if editing:
            context["form"] = forms.build(app, _masked_ids(forms.values_from_app(app)))
        else:
            context["summary"] = _people_summary(app) if data_complete(app) else None
        return render(request, template, {**context, "editing": editing})
    if not context["editable"]:
        messages.error(request, f"投保单当前状态为“{context['status_label']}”，不能修改")
        return redirect("application:agent_edit", app.public_id)
    values = forms.values_from_post(request.POST)
    action = request.POST.get("action", "save")
    if action != "save":
        form = forms.build(app, forms.apply_edit(values, action))
        return render(request, template, {**context, "form": form, "editing": True})
    was_locked = context["locked"]
    posted = _unmasked_post(request.POST, app)
    try:
        app = save_data(app, forms.parse(posted, app), actor=request.user, request=request)
    except DomainError as exc:
        errors = errors_of(exc)
        record_page_view(app, template, request=request, detail={"errors": sorted({e.code for e in errors})})
        form = forms.build(app, values, errors)
        return render(
            request,
            template,
            {**context, "form": form, "editing": True, "top_errors": [e.message for e in errors]},
            status=exc.http_status,
        )
    if was_locked:
        messages.warning(request, "已修改投保信息：投保单已退回草稿，需客户本人重新核对、确认并签名")
    else:
        messages.success(request, "投保信息已保存，请将邀请链接或二维码发给客户")
    return redirect("application:agent_edit", app.public_id)


@staff_required()
@require_POST
def send_invitation(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """A new link and QR code for the customer (the previous link stops working)."""
    app = _agent_application(request, public_id)
    try:
        invitation = invite_customer(app, agent=request.user, request=request)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("application:agent_edit", app.public_id)
    invites = dict(request.session.get(INVITES_KEY) or {})
    invites[str(app.public_id)] = invitation.token
    request.session[INVITES_KEY] = invites
    if invitation.replaced:
        messages.success(request, _("已生成新的邀请链接，之前的链接已失效"))
    else:
        messages.success(request, _("邀请链接已生成"))
    return redirect("application:agent_edit", app.public_id)
