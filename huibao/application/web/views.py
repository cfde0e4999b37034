"""Customer pages of the electronic application (电子投保), mobile-first and elder-friendly.

Views are thin: they find the application through `get_for_user` (the customer's own,
or one the agent started), call one use-case, and show its `FieldError`s next to the inputs.
The server decides the order of the steps (`flow.next_url`); a page asked for out of turn
redirects there. Every page shown is recorded with its template version
(`record_page_view`), so the sale can be replayed.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.db.models.fields.json import KeyTextTransform
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huibao.application.evidence.trace import record_page_view
from huibao.application.journey import missing_before_signing
from huibao.application.models import Application
from huibao.application.premium import total_shown
from huibao.application.rules import answers_in_form_order, clause_identity, clause_min_read_seconds
from huibao.application.selectors import (
    applications_of,
    data_complete,
    disclosure_progress,
    doc_key,
    get_for_user,
    health_questions,
    identity_is_current,
    items_of,
    needs_terms_agreement,
    payment_mode_of,
    required_documents,
    subject_fields,
)
from huibao.application.services import close as close_service
from huibao.application.services import pay as pay_service
from huibao.application.services import sign as sign_service
from huibao.application.services.confirm import agree_terms, confirm
from huibao.application.services.data import save_data
from huibao.application.services.disclosure import (
    confirm_clause,
    finish_reading,
    open_document,
    show_next_clause,
)
from huibao.application.services.identity import start_face_check, verify_identity
from huibao.application.services.invitation import claim_invitation, invitation_preview
from huibao.application.services.sign import required_signatures
from huibao.application.services.start import MAX_ITEMS, start_application
from huibao.application.states import (
    OPEN_STATUSES,
    ApplicationStatus,
    Relation,
    SignatureMethod,
    SignerRole,
    UnderwritingOutcome,
)
from huibao.application.web import flow, forms
from huibao.catalog.models import Document, LineOfBusiness, Product, ProductStatus
from huibao.catalog.web.presenters import clause_kind_label, highlight_key_clauses
from huibao.core.errors import (
    DomainError,
    FieldError,
    NotFound,
    ValidationFailed,
)
from huibao.core.masking import mask_email, mask_id_number, mask_name, mask_phone
from huibao.core.models import AuditEntry
from huibao.core.premium import shown_total
from huibao.distribution import selectors as distribution_selectors
from huibao.distribution.middleware import REFERRAL_SESSION_KEY
from huibao.payment import rules as payment_rules
from huibao.payment import selectors as payments
from huibao.rating.models import Quote
from huibao.rating.selectors import may_use_quote, quote_for_user
from huibao.underwriting.rules import customer_reasons

S = ApplicationStatus
View = Callable[..., HttpResponse]
PENDING_QUOTES_KEY = "apply_pending_quotes"  # quotes chosen before logging in
BUNDLE_KEY = "apply_bundle"  # quote ids in the bundle basket (组合投保)
AUTO_LINES = (LineOfBusiness.AUTO_COMPULSORY, LineOfBusiness.AUTO_COMMERCIAL)


# --- helpers ------------------------------------------------------------------------------------


class AgentOnCustomerPage(Exception):
    """A page of the customer's own flow asked for by the agent who started the application."""

    def __init__(self, app: Application) -> None:
        super().__init__(str(app.public_id))
        self.app = app


def login_required_here(view: View) -> View:
    """Anonymous visitors go to the customer log-in and come back to this page; the agent who
    started the application, on a page only the customer may use, goes to the agent's page."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        try:
            return view(request, *args, **kwargs)
        except AgentOnCustomerPage as exc:
            return redirect("application:agent_edit", exc.app.public_id)

    return wrapped


def login_needed(request: HttpRequest, back: str, *, invited: bool = False) -> HttpResponse:
    """Log in, or sign up (new customers), and come back to `back`."""
    return render(
        request,
        "application/login_needed.html",
        {
            "login_url": f"{reverse('account:login')}?{urlencode({'next': back})}",
            "signup_url": f"{reverse('account:signup')}?{urlencode({'next': back})}",
            "invited": invited,
        },
    )


def _application(request: HttpRequest, public_id: uuid.UUID, *, agent_ok: bool = False) -> Application:
    """The requester's application: the customer's own, or (only where `agent_ok`) one the agent
    started. The agent on any other page of the customer's flow goes to the agent's page: they
    neither see the customer's pages as the customer nor act there (no signing by proxy)."""
    try:
        app = get_for_user(public_id, request.user)
    except NotFound:
        raise Http404("no such application") from None
    if not agent_ok and not is_customer_of(app, request.user):
        raise AgentOnCustomerPage(app)
    return app


def is_customer_of(app: Application, user: Any) -> bool:
    return bool(app.customer_id is not None and app.customer_id == getattr(user, "pk", None))


def errors_of(exc: DomainError) -> list[FieldError]:
    return list(exc.errors) or [FieldError("__all__", exc.code, exc.message)]


def agent_amended(app: Application) -> bool:
    """The agent changed the data since the customer last confirmed it (the customer must check
    and confirm again)."""
    if app.status != S.DRAFT or app.is_confirmed or app.started_by_id is None:
        return False
    last = (
        AuditEntry.objects.filter(
            object_type="application",
            object_id=str(app.public_id),
            action__in=["application.amended", "application.confirmed"],
        )
        .order_by("-id")
        .values_list("action", "after")
        .first()
    )
    return bool(last and last[0] == "application.amended" and (last[1] or {}).get("by_agent"))


def _page(
    request: HttpRequest,
    app: Application,
    template: str,
    step: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    errors: list[FieldError] | None = None,
    record: bool = True,
) -> HttpResponse:
    """Renders a page of the flow and records that it was shown (with its template version)."""
    if record:
        detail = {"errors": sorted({e.code for e in errors})} if errors else None
        record_page_view(app, template, request=request, detail=detail)
    full = {
        "app": app,
        "progress": flow.progress(step, app),
        "step": step,
        "is_customer": is_customer_of(app, request.user),
        "status_label": S(app.status).label,
        "agent_amended": agent_amended(app),
        "top_errors": [e.message for e in errors or []],
        **(context or {}),
    }
    return render(request, template, full, status=status)


def _to_next(app: Application) -> HttpResponseRedirect:
    return HttpResponseRedirect(flow.next_url(app))


def _safe_referer(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.headers.get("Referer") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _is_verified_staff(user: Any) -> bool:
    from huibao.account.access import is_verified_staff

    return is_verified_staff(user)


# --- 1. start, bundle, my applications ---------------------------------------------------------------


def _start_referred(request: HttpRequest, quote_ids: list[str], user: Any) -> Any:
    """A customer's application, attributed to the channel or agent of the referral code kept in
    the session (`?ref=`). An unknown or inactive code, or a seller who may not sell one of the
    products, is ignored: the customer is never refused for whoever sent them."""
    seller = distribution_selectors.seller_by_code(str(request.session.get(REFERRAL_SESSION_KEY, "")))
    if seller is not None:
        try:
            return start_application(quote_ids=quote_ids, user=user, request=request, seller=seller)
        except ValidationFailed as exc:
            if not any(e.field == "seller_code" for e in exc.errors):
                raise
    return start_application(quote_ids=quote_ids, user=user, request=request)


def _start(request: HttpRequest, quote_ids: list[str]) -> HttpResponse:
    user = request.user
    if _is_verified_staff(user):
        try:
            app = start_application(quote_ids=quote_ids, started_by=user, request=request)
        except DomainError as exc:
            for e in errors_of(exc):
                messages.error(request, e.message)
            return redirect(_safe_referer(request, reverse("application:agent_home")))
        return redirect("application:agent_edit", app.public_id)
    if not getattr(user, "is_customer", False):
        messages.error(request, "请使用客户账号登录后投保")
        return redirect_to_login(reverse("application:start_resume"), settings.LOGIN_URL)
    try:
        app = _start_referred(request, quote_ids, user)
    except DomainError as exc:
        for e in errors_of(exc):
            messages.error(request, e.message)
        return redirect(_safe_referer(request, reverse("application:bundle")))
    bundle = [q for q in request.session.get(BUNDLE_KEY, []) if q not in quote_ids]
    request.session[BUNDLE_KEY] = bundle
    return _to_next(app)


def _posted_quote_ids(request: HttpRequest) -> list[str]:
    ids = []
    for raw in request.POST.getlist("quote_id"):
        for part in raw.replace(",", " ").split():
            try:
                ids.append(str(uuid.UUID(part)))
            except ValueError:
                continue
    return list(dict.fromkeys(ids))


@require_POST
def start(request: HttpRequest) -> HttpResponse:
    """From a quote ("立即投保") or the bundle basket ("一起投保"): a new application. Visitors
    log in (or sign up) first and come back to it."""
    quote_ids = _posted_quote_ids(request)
    if not quote_ids:
        messages.error(request, "请先获取报价，再点“立即投保”")
        return redirect(_safe_referer(request, reverse("catalog:home")))
    if not request.user.is_authenticated:
        request.session[PENDING_QUOTES_KEY] = quote_ids
        return redirect("application:start_resume")
    return _start(request, quote_ids)


@require_GET
def start_resume(request: HttpRequest) -> HttpResponse:
    """The application from the quotes chosen before (once). A visitor is asked to log in or sign
    up first; both bring them back here."""
    if not request.user.is_authenticated:
        if not request.session.get(PENDING_QUOTES_KEY):
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return login_needed(request, reverse("application:start_resume"))
    quote_ids = [str(q) for q in request.session.pop(PENDING_QUOTES_KEY, [])]
    if not quote_ids:
        return redirect("application:mine")
    return _start(request, quote_ids)


def _bundle_quotes(request: HttpRequest) -> list[Quote]:
    ids = [str(q) for q in request.session.get(BUNDLE_KEY, [])]
    quotes = {
        str(q.pk): q
        for q in Quote.objects.filter(pk__in=ids).select_related("product_version__product__insurer", "plan")
    }
    return [quotes[i] for i in ids if i in quotes and may_use_quote(request.user, quotes[i])]


def bundle_suggestions(quotes: list[Quote]) -> list[Product]:
    """Products that go with an auto policy of the same insurer (交强险 + 商业险 + 驾乘意外)."""
    products = [q.product_version.product for q in quotes]
    autos = [p for p in products if p.line in AUTO_LINES]
    if not autos:
        return []
    from huibao.catalog.demo import demo_auto_bundle_codes

    codes = demo_auto_bundle_codes()
    have = {p.pk for p in products}
    insurers = {p.insurer_id for p in autos}
    candidates = Product.objects.filter(status=ProductStatus.ON_SALE, insurer_id__in=insurers).exclude(
        pk__in=have
    )
    same_insurer = list(
        candidates.filter(line__in=[*AUTO_LINES, LineOfBusiness.ACCIDENT])
        .select_related("insurer")
        .order_by("line", "name")
    )
    # A vehicle has one 交强险 and one 商业车险: an auto line already in the basket is not offered
    # again (another insurer's or plan's second compulsory policy would be a duplicate cover).
    lines_held = {p.line for p in autos}
    chosen = [
        p
        for p in same_insurer
        if p.line not in lines_held and (p.line in AUTO_LINES or p.code in codes or "驾乘" in p.name)
    ]
    return chosen[:4]


@require_GET
def bundle(request: HttpRequest) -> HttpResponse:
    """The bundle basket: several products (one application, one signature, one payment)."""
    quotes = _bundle_quotes(request)
    context = {
        "quotes": quotes,
        "total": sum((q.premium for q in quotes), Decimal(0)),
        "total_shown": shown_total([(q.premium, q.inputs.get("payment_mode")) for q in quotes]),
        "suggestions": bundle_suggestions(quotes),
        "max_items": MAX_ITEMS,
    }
    return render(request, "application/bundle.html", context)


@require_POST
def bundle_add(request: HttpRequest) -> HttpResponse:
    ids = _posted_quote_ids(request)
    quote = quote_for_user(request.user, ids[0]) if ids else None  # someone else's: as unknown
    if quote is None:
        messages.error(request, "报价不存在，请重新报价")
        return redirect(_safe_referer(request, reverse("application:bundle")))
    basket = [str(q) for q in request.session.get(BUNDLE_KEY, [])]
    same_product = {
        str(q.pk)
        for q in Quote.objects.filter(pk__in=basket, product_version__product=quote.product_version.product)
    }
    basket = [q for q in basket if q not in same_product]  # a new quote replaces the product's old one
    if len(basket) >= MAX_ITEMS:
        messages.error(request, f"一次最多组合投保{MAX_ITEMS}个产品")
    else:
        basket.append(str(quote.pk))
        messages.success(request, f"已将“{quote.product_version.product.name}”加入组合投保")
    request.session[BUNDLE_KEY] = basket
    return redirect("application:bundle")


@require_POST
def bundle_remove(request: HttpRequest) -> HttpResponse:
    ids = set(_posted_quote_ids(request))
    request.session[BUNDLE_KEY] = [q for q in request.session.get(BUNDLE_KEY, []) if str(q) not in ids]
    return redirect("application:bundle")


@require_GET
@login_required_here
def mine(request: HttpRequest) -> HttpResponse:
    """我的投保单: the customer's applications, each with where to continue."""
    if _is_verified_staff(request.user):
        return redirect("application:agent_home")
    rows = []
    for app in applications_of(request.user):
        items = items_of(app)
        rows.append(
            {
                "app": app,
                "products": list(dict.fromkeys(i.product_version.product.name for i in items)),
                "premium": _total_shown(items),
                "status_label": S(app.status).label,
                "open": app.status in OPEN_STATUSES,
                "issued": app.status == S.ISSUED,
                "declined": app.status == S.DECLINED,
            }
        )
    return render(request, "application/mine.html", {"rows": rows})


@require_GET
@login_required_here
def detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    app = _application(request, public_id, agent_ok=True)
    if not is_customer_of(app, request.user) and app.started_by_id == request.user.pk:
        return redirect("application:agent_edit", app.public_id)
    return _to_next(app)


CANCEL_CONFIRM_FIELD = "confirm"  # a cancel POST without it is refused (the confirm step)


@require_http_methods(["GET", "POST"])
@login_required_here
def cancel(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """撤销: GET asks for confirmation; only a POST carrying the explicit confirmation cancels.
    A POST without it (a first tap from an older page) changes nothing and asks again."""
    app = _application(request, public_id, agent_ok=True)
    if app.status not in OPEN_STATUSES:
        return redirect("application:detail", app.public_id)
    confirmed = request.method == "POST" and request.POST.get(CANCEL_CONFIRM_FIELD) == "yes"
    if not confirmed:
        template = "application/cancel_confirm.html"
        record_page_view(app, template, request=request)
        context = {
            "app": app,
            "products": list(dict.fromkeys(i.product_version.product.name for i in items_of(app))),
            "confirm_field": CANCEL_CONFIRM_FIELD,
        }
        return render(request, template, context, status=400 if request.method == "POST" else 200)
    try:
        close_service.cancel(app, user=request.user, request=request)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _to_next(app)
    messages.success(request, f"投保单 {app.number} 已撤销")
    return redirect("application:agent_home" if _is_verified_staff(request.user) else "application:mine")


# --- 2. data -------------------------------------------------------------------------------------


def _total_shown(items: list[Any]) -> Any:
    """The application's premium as paid: per month and per year when an item is paid monthly."""
    return total_shown((i.premium, i.underwriting_outcome, payment_mode_of(i)) for i in items)


def _items_context(app: Application) -> dict[str, Any]:
    items = items_of(app)
    return {"items": items, "total": app.total_premium, "total_shown": _total_shown(items)}


@require_http_methods(["GET", "POST"])
@login_required_here
def data(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    app = _application(request, public_id)
    if app.status not in OPEN_STATUSES or app.status == S.AWAITING_PAYMENT:
        return _to_next(app)
    template = "application/data.html"
    locked = app.status != S.DRAFT or app.is_confirmed
    context: dict[str, Any] = {"locked": locked, **_items_context(app)}
    if request.method == "GET":
        values = forms.values_from_app(app, default_phone=getattr(request.user, "phone", "") or "")
        return _page(request, app, template, "data", {**context, "form": forms.build(app, values)})
    values = forms.values_from_post(request.POST)
    action = request.POST.get("action", "save")
    if action != "save":
        values = forms.apply_edit(values, action)
        return _page(
            request, app, template, "data", {**context, "form": forms.build(app, values)}, record=False
        )
    try:
        app = save_data(app, forms.parse(request.POST, app), actor=request.user, request=request)
    except DomainError as exc:
        errors = errors_of(exc)
        return _page(
            request,
            app,
            template,
            "data",
            {**context, "form": forms.build(app, values, errors)},
            status=exc.http_status,
            errors=errors,
        )
    if locked:
        messages.warning(request, "投保信息已修改，请重新实名认证、确认信息并签名")
    return _to_next(app)


# --- 3. identity, review, underwriting outcome, terms ----------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required_here
def identity(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    app = _application(request, public_id)
    if app.status != S.DRAFT or not data_complete(app):
        return _to_next(app)
    template = "application/identity.html"
    context = {
        "name": app.applicant_name,
        "masked_id": mask_id_number(app.applicant_id_number),
        "verified": identity_is_current(app),
    }
    if request.method == "GET":
        return _page(request, app, template, "identity", context)
    if request.POST.get("consent") != "1":
        errors = [FieldError("consent", "required", "请勾选同意进行身份核验")]
        context["consent_error"] = errors[0].message
        return _page(request, app, template, "identity", context, status=422, errors=errors)
    try:
        # The applicant's own name and ID as entered on the data page (shown masked here).
        app = verify_identity(
            app,
            name=app.applicant_name,
            id_number=app.applicant_id_number,
            user=request.user,
            request=request,
        )
    except DomainError as exc:
        return _page(
            request, app, template, "identity", context, status=exc.http_status, errors=errors_of(exc)
        )
    messages.success(request, "实名认证通过")
    return _to_next(app)


def _people_summary(app: Application) -> dict[str, Any]:
    """The application data as shown for checking: ID numbers and phones masked."""
    questions = health_questions(app)
    insured = []
    for person in app.insured_persons.order_by("position"):
        answers = json.loads(person.health_answers or "{}")
        insured.append(
            {
                "position": person.position,
                "relation": Relation(person.relation).label,
                "is_self": person.relation == Relation.SELF,
                "name": person.name,
                "id_number": mask_id_number(person.id_number),
                "phone": mask_phone(person.phone) if person.phone else "",
                "birth_date": person.birth_date,
                "sex": "男" if person.sex == "M" else "女",
                "occupation": person.occupation,
                "occupation_class": person.occupation_class,
                # In the order the form asked them (they are stored by code).
                "answers": [
                    (text, "是" if value else "否", value)
                    for _code, text, value in answers_in_form_order(questions, answers)
                ],
                "beneficiaries": [
                    {
                        "name": b.name,
                        "id_number": mask_id_number(b.id_number),
                        "relation": Relation(b.relation).label,
                        "order": b.order,
                        "share": b.share_percent,
                    }
                    for b in person.beneficiaries.all()
                ],
            }
        )
    labels = {f.code: f.label for f in subject_fields(app)}
    return {
        "applicant": {
            "name": app.applicant_name,
            "id_number": mask_id_number(app.applicant_id_number),
            "phone": mask_phone(app.applicant_phone),
            "email": mask_email(app.applicant_email),
            "address": app.applicant_address,
            "occupation": app.applicant_occupation,
        },
        "insured": insured,
        "named_beneficiaries": app.beneficiary_mode == "named",
        "subject": [(labels.get(k, k), v) for k, v in (app.subject or {}).items()],
        **_items_context(app),
    }


@require_http_methods(["GET", "POST"])
@login_required_here
def review(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    app = _application(request, public_id)
    if app.status != S.DRAFT or not data_complete(app):
        return _to_next(app)
    template = "application/review.html"
    context = {**_people_summary(app), "identity_ok": identity_is_current(app)}
    if request.method == "GET":
        return _page(request, app, template, "review", context)
    shown = request.POST.get("revision", "")
    changed = [FieldError("revision", "data_changed", "投保信息刚刚有修改，请重新核对以下信息后再确认")]
    if shown and shown != str(app.data_revision):
        # The data changed (e.g. the agent amended it) after this page was shown: confirming now
        # would confirm what the customer has not seen.
        return _page(request, app, template, "review", context, status=409, errors=changed)
    try:
        # checked again under the application's lock
        expected = int(shown) if shown.isdigit() else None
        app = confirm(app, user=request.user, request=request, expected_revision=expected)
    except DomainError as exc:
        return _page(request, app, template, "review", context, status=exc.http_status, errors=errors_of(exc))
    return _to_next(app)


@require_GET
@login_required_here
def outcome(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Referred (waiting for an underwriter; polls), declined (reasons), expired or cancelled."""
    app = _application(request, public_id)
    if app.status not in (S.REFERRED, S.DECLINED, S.EXPIRED, S.CANCELLED):
        return _to_next(app)
    items = items_of(app)
    reasons = [
        (
            item.product_version.product.name,
            reason.get("message", "") if isinstance(reason, dict) else str(reason),
        )
        for item in items
        if app.status == S.DECLINED and item.underwriting_outcome == UnderwritingOutcome.DECLINE
        for reason in (item.underwriting_reasons or [])
    ]
    # Why it went to an underwriter: the rules that fired, in the customer's words.
    referred = [
        (item.product_version.product.name, customer_reasons(item.underwriting_reasons or []))
        for item in items
        if app.status == S.REFERRED and item.underwriting_outcome == UnderwritingOutcome.REFER
    ]
    context = {
        "items": items,
        "reasons": reasons,
        "referred": [(name, why) for name, why in referred if why],
        "key": flow.state_key(app),
    }
    return _page(request, app, "application/outcome.html", "outcome", context)


@require_http_methods(["GET", "POST"])
@login_required_here
def terms(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Accepted with a loading and/or exclusions: the customer agrees before going on."""
    app = _application(request, public_id)
    if not needs_terms_agreement(app):
        return _to_next(app)
    template = "application/terms.html"
    items = items_of(app)
    for item in items:  # why these terms: the rules that fired and the underwriter's note
        item.customer_reasons = customer_reasons(item.underwriting_reasons or [])  # type: ignore[attr-defined]
    context = {
        "items": items,
        "total": app.total_premium,
        "total_shown": _total_shown(items),
        "base_total": sum((i.base_premium for i in items), Decimal(0)),
    }
    if request.method == "GET":
        return _page(request, app, template, "terms", context)
    try:
        app = agree_terms(app, user=request.user, request=request)
    except DomainError as exc:
        return _page(request, app, template, "terms", context, status=exc.http_status, errors=errors_of(exc))
    return _to_next(app)


# --- 4. documents and key clauses ----------------------------------------------------------------


def _reading_context(app: Application, current_id: int) -> dict[str, Any]:
    progress = disclosure_progress(app)
    docs = progress["documents"]
    unread = {d.pk for d in progress["unread"]}
    return {
        "documents": [
            {
                "doc": d,
                "read": d.pk not in unread,
                "current": d.pk == current_id,
                "number": n,
                "body_html": highlight_key_clauses(d.body, d.key_clauses or []) if d.pk not in unread else "",
            }
            for n, d in enumerate(docs, start=1)
        ],
        "doc_count": len(docs),
        "read_count": len(docs) - len(unread),
        "clause_count": len(progress["clauses"]),
        "clauses_left": len(progress["unconfirmed"]),
    }


def _product_names(app: Application) -> dict[str, list[str]]:
    """Document text (content hash, `doc_key`) → the names of the application's products that
    hold it: in a bundle, a text several products share is read once, for all of them."""
    items = items_of(app)
    names = {i.product_version_id: i.product_version.product.name for i in items}
    held: dict[str, list[str]] = {}
    rows = Document.objects.filter(version_id__in=names).values_list("pk", "version_id", "content_sha256")
    for pk, version_id, sha in rows:
        key = sha or f"doc:{pk}"
        if names[version_id] not in held.setdefault(key, []):
            held[key].append(names[version_id])
    return held


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _htmx_next(
    request: HttpRequest, app: Application, same_page: Callable[[str], HttpResponse | None]
) -> HttpResponse:
    """After a step done in place (htmx): the next part of the same page (`same_page(url)` renders
    it, or None when the next step is another page), its address pushed; else the browser goes
    to the next page."""
    target = flow.next_url(app)
    response = same_page(target)
    if response is not None:
        response["HX-Push-Url"] = target
        return response
    response = HttpResponse(status=204)
    response["HX-Redirect"] = target
    return response


def _document_page(
    request: HttpRequest,
    app: Application,
    doc: Document,
    *,
    errors: list[FieldError] | None = None,
    status: int = 200,
) -> HttpResponse:
    """Every document of the application on one page: those read (collapsed, to look at again),
    the one being read (its server clock started here) and those still to read."""
    errors = list(errors or [])
    reading = None
    if is_customer_of(app, request.user):
        try:
            reading = open_document(app, doc.pk, user=request.user, request=request)
        except DomainError as exc:
            errors, status = errors + errors_of(exc), exc.http_status
    now = timezone.now()
    remaining = 0
    if reading is not None and reading.completed_at is None:
        remaining = max(0, int(doc.min_read_seconds - (now - reading.opened_at).total_seconds() + 0.999))
    products = _product_names(app)
    context = {
        "doc": doc,
        "body_html": highlight_key_clauses(doc.body, doc.key_clauses or []),
        "reading": reading,
        "completed": reading is not None and reading.completed_at is not None,
        "remaining": remaining,
        "product_names": products.get(doc_key(doc), []),
        "inline_errors": [e.message for e in errors] if _is_htmx(request) else [],
        **_reading_context(app, doc.pk),
    }
    if _is_htmx(request):
        status = 200  # htmx swaps only a 2xx answer: the refusal is shown in the part swapped
    return _page(request, app, "application/document.html", "document", context, status=status, errors=errors)


@require_http_methods(["GET", "POST"])
@login_required_here
def document(request: HttpRequest, public_id: uuid.UUID, document_id: int) -> HttpResponse:
    """The documents to read, on one page; the one named is open in a scroll box and "我已阅读"
    unlocks when it was scrolled to its end and its minimum reading time passed (measured by the
    server from when it was opened). With htmx the next document opens in place."""
    app = _application(request, public_id)
    if app.status != S.ACCEPTED:
        return _to_next(app)
    documents = required_documents(app)
    doc = next((d for d in documents if d.pk == document_id), None)
    if doc is None:
        raise Http404("not a document of this application")
    if request.method == "POST":
        try:
            finish_reading(
                app,
                doc.pk,
                scrolled_to_end=request.POST.get("scrolled_to_end") == "1",
                user=request.user,
                request=request,
            )
        except DomainError as exc:
            return _document_page(request, app, doc, errors=errors_of(exc), status=exc.http_status)
        if not _is_htmx(request):
            return _to_next(app)

        def next_document(target: str) -> HttpResponse | None:
            following = next((d for d in documents if flow.url("document", app, d.pk) == target), None)
            return _document_page(request, app, following) if following is not None else None

        return _htmx_next(request, app, next_document)
    return _document_page(request, app, doc)


def _clause_groups(app: Application, progress: dict[str, Any], current: Any) -> list[dict[str, Any]]:
    """The key clauses by document, for one page: each clause once (the same clause of several
    products under the first document holding it, with the products it applies to), its state
    and, for the one being read, the seconds its server clock still counts."""
    products = _product_names(app)
    holders: dict[str, list[str]] = {}
    for doc, clause in progress["clauses"]:
        names = holders.setdefault(clause_identity(clause), [])
        names += [n for n in products.get(doc_key(doc), []) if n not in names]
    now = timezone.now()
    seen: set[str] = set()
    groups: dict[str, dict[str, Any]] = {}
    for doc, clause in progress["clauses"]:
        identity = clause_identity(clause)
        if identity in seen:
            continue
        seen.add(identity)
        row = progress["confirmations"].get((doc_key(doc), clause.get("code")))
        is_current = (
            current is not None and current.document_id == doc.pk and current.clause_code == clause["code"]
        )
        remaining = 0
        if is_current:
            minimum = clause_min_read_seconds(clause)
            remaining = max(0, int(minimum - (now - current.shown_at).total_seconds() + 0.999))
        group = groups.setdefault(
            doc_key(doc), {"doc": doc, "products": products.get(doc_key(doc), []), "entries": []}
        )
        group["entries"].append(
            {
                "doc": doc,
                "clause": clause,
                "kind_label": clause_kind_label(str(clause.get("kind") or "")),
                "row": row,
                "confirmed": row is not None and row.confirmed_at is not None,
                "current": is_current,
                "remaining": remaining,
                "applies_to": holders[identity] if len(holders[identity]) > 1 else [],
                "url": flow.url("clause", app, doc.pk, clause["code"]),
            }
        )
    return list(groups.values())


def _clause_page(
    request: HttpRequest, app: Application, *, errors: list[FieldError] | None = None, status: int = 200
) -> HttpResponse:
    """Every key clause on one page, each confirmed on its own, in order: the first not yet
    confirmed is shown (its server clock starts) and its button unlocks after its reading time."""
    errors = list(errors or [])
    current = None
    if is_customer_of(app, request.user):
        try:
            current = show_next_clause(app, user=request.user, request=request)
        except DomainError as exc:
            errors, status = errors + errors_of(exc), exc.http_status
    progress = disclosure_progress(app)
    groups = _clause_groups(app, progress, current)
    entries = [e for g in groups for e in g["entries"]]
    context = {
        "groups": groups,
        "total": len(entries),
        "confirmed_count": sum(1 for e in entries if e["confirmed"]),
        "inline_errors": [e.message for e in errors] if _is_htmx(request) else [],
    }
    if _is_htmx(request):
        status = 200
    return _page(request, app, "application/clause.html", "clause", context, status=status, errors=errors)


@require_http_methods(["GET", "POST"])
@login_required_here
def clause(request: HttpRequest, public_id: uuid.UUID, document_id: int, code: str) -> HttpResponse:
    """The key clauses (exclusions, waiting period, cooling-off…) on one page of their own, each
    confirmed separately (a POST here confirms the one named); with htmx the next opens in place."""
    app = _application(request, public_id)
    if app.status != S.ACCEPTED:
        return _to_next(app)
    progress = disclosure_progress(app)
    found = any(d.pk == document_id and c.get("code") == code for d, c in progress["clauses"])
    if not found:
        raise Http404("not a clause of this application")
    if progress["unread"]:
        # The key clauses come after every document was read in full (not by a direct link).
        return _to_next(app)
    if request.method == "POST":
        try:
            confirm_clause(app, document_id, code, user=request.user, request=request)
        except DomainError as exc:
            return _clause_page(request, app, errors=errors_of(exc), status=exc.http_status)
        if not _is_htmx(request):
            return _to_next(app)
        return _htmx_next(
            request, app, lambda target: _clause_page(request, app) if "/clauses/" in target else None
        )
    return _clause_page(request, app)


# --- 5. face check ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required_here
def face(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Face recognition when the rules ask for it: to the provider's page and back here, which
    waits for the provider's signed result."""
    from huibao.identity.models import FaceCheck

    app = _application(request, public_id)
    if app.status != S.ACCEPTED or not app.face_required or app.face_passed_at is not None:
        return _to_next(app)
    template = "application/face.html"
    if request.method == "POST":
        try:
            session_url = start_face_check(
                app, user=request.user, return_url=flow.url("face", app), request=request
            )
        except DomainError as exc:
            return _page(
                request, app, template, "face", {"check": None}, status=exc.http_status, errors=errors_of(exc)
            )
        return HttpResponseRedirect(session_url)
    check = FaceCheck.objects.filter(pk=app.face_check_id).first() if app.face_check_id else None
    if check is not None and check.status == "pending" and check.expires_at <= timezone.now():
        from huibao.identity.services import face_check_status

        face_check_status(check.public_id)  # expires it now, rather than waiting for the sweeper
        check.refresh_from_db()
    # The applicant's own name in full, as the review and signature pages show it to them (the
    # page is theirs alone); the provider's page shows it masked, as real services do.
    context = {"check": check, "key": flow.state_key(app), "name": app.applicant_name}
    return _page(request, app, template, "face", context)


# --- 6. signatures ---------------------------------------------------------------------------------


def _signers(app: Application) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    have = {
        (s.role, s.insured.position if s.insured else None) for s in app.signatures.select_related("insured")
    }
    rows = []
    for n in required_signatures(app):
        done = (n.role, n.insured_position) in have
        rows.append(
            {
                "role": n.role,
                "role_label": SignerRole(n.role).label,
                "position": n.insured_position,
                "name": n.name,
                "method": n.method,
                "handwritten": n.method == SignatureMethod.HANDWRITTEN,
                "done": done,
                "key": f"{n.role}:{n.insured_position or ''}",
            }
        )
    current = next((r for r in rows if not r["done"]), None)
    return rows, current


@require_http_methods(["GET", "POST"])
@login_required_here
def sign(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Each required signer signs in turn: by hand on the pad (checked) or by ticking a box."""
    app = _application(request, public_id)
    if app.status != S.ACCEPTED:
        return _to_next(app)
    template = "application/sign.html"
    errors: list[FieldError] = []
    status = 200
    if request.method == "POST":
        role = request.POST.get("role", SignerRole.APPLICANT)
        position = request.POST.get("insured_position", "")
        try:
            app = sign_service.sign(
                app,
                user=request.user,
                role=role,
                insured_position=int(position) if position.isdigit() else None,
                ink=request.POST.get("signature", ""),
                confirmed=request.POST.get("confirmed") == "1",
                request=request,
            )
        except DomainError as exc:
            errors, status = errors_of(exc), exc.http_status
        else:
            if app.status == S.SIGNED:
                messages.success(request, "签名完成")
                return _to_next(app)
            messages.success(request, "签名已保存，请下一位签名")
            return redirect("application:sign", app.public_id)
    rows, current = _signers(app)
    missing = missing_before_signing(app)
    context = {
        "signers": rows,
        "current": current,
        "missing": missing,
        # The face check's result is said where it leads: here, before anyone signed.
        "face_passed": app.face_required
        and app.face_passed_at is not None
        and not any(r["done"] for r in rows),
        "signature_error": next((e.message for e in errors if e.field in ("signature", "confirmed")), ""),
        **_items_context(app),
    }
    return _page(request, app, template, "sign", context, status=status, errors=errors)


# --- 7. payment and the result ---------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required_here
def pay(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The real-name payment of the applicant at the payment provider's page; back here, the page
    waits until the policies are issued (the provider's notification arrives on its own)."""
    from huibao.payment.models import Payment

    app = _application(request, public_id)
    if app.status not in (S.SIGNED, S.AWAITING_PAYMENT):
        return _to_next(app)
    template = "application/pay.html"
    if request.method == "POST":
        try:
            payment = pay_service.pay(app, user=request.user, request=request)
        except DomainError as exc:
            return _page(
                request,
                app,
                template,
                "pay",
                _pay_context(app),
                status=exc.http_status,
                errors=errors_of(exc),
            )
        return HttpResponseRedirect(payment.checkout_url)
    payment = Payment.objects.filter(pk=app.payment_id).first() if app.payment_id else None
    context = _pay_context(app)
    # Signed again after a payment that failed (the failed hook moved it back): say why.
    if payment is not None and app.status in (S.AWAITING_PAYMENT, S.SIGNED):
        still_open = payments.is_open(payment)
        context.update(
            payment=payment,
            payment_open=still_open,
            payment_succeeded=payment.status == "succeeded",
            payment_failed=not still_open and payment.status != "succeeded",
            payment_reason=_(payment_rules.failure_text(payment.failure_reason)),
            # Money arrived but was refused (someone else's card): why, the refund and when.
            payment_refusal=payments.refusal_text(payment),
        )
    return _page(request, app, template, "pay", context)


def _pay_context(app: Application) -> dict[str, Any]:
    return {
        **_items_context(app),
        "payer": app.applicant_name,
        "key": flow.state_key(app),
        "expires_at": app.expires_at,
    }


def _policy_links(policy: Any) -> dict[str, str]:
    """Links the policy app offers for one policy (each only if that page exists)."""
    from django.urls import NoReverseMatch

    links: dict[str, str] = {}
    for key, name, arg in (
        ("download", "policy:epolicy", policy.public_id),
        ("verify", "policy:verify", policy.verification_code),
    ):
        try:
            links[key] = reverse(name, args=[arg])
        except NoReverseMatch:
            continue
    return links


@require_GET
@login_required_here
def done(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Issued: the policy numbers, e-policy downloads, the NPS survey and "我的保单"."""
    from django.urls import NoReverseMatch

    app = _application(request, public_id)
    if app.status != S.ISSUED:
        return _to_next(app)
    policies = [
        {"policy": p, "links": _policy_links(p)}
        for p in app.policies.select_related("product_version__product", "insurer")
        .annotate(payment_mode=KeyTextTransform("payment_mode", "item__quote__inputs"))
        .order_by("item__position")
    ]
    extra: dict[str, str] = {}
    for key, name, args in (("nps", "policy:nps", [app.public_id]), ("mine", "policy:mine", [])):
        try:
            extra[key] = reverse(name, args=args)
        except NoReverseMatch:
            continue
    extra["form"] = reverse("application:form_pdf", args=[app.public_id])
    return _page(request, app, "application/done.html", "done", {"policies": policies, "links": extra})


# Statuses of an application the customer has signed (the form can be made from them).
SIGNED_STATUSES = frozenset({S.SIGNED, S.AWAITING_PAYMENT, S.ISSUED})


@require_GET
@login_required_here
def application_form(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The customer's own signed application form (PAdES PDF), rendered now if the background
    task has not yet; 404 for anyone else (the agent included) and before signing."""
    from huibao.application.documents import render_application_form

    app = _application(request, public_id, agent_ok=True)
    if not is_customer_of(app, request.user):
        raise Http404("no such application")
    if app.application_form_id is not None:
        document = app.application_form
    elif app.status in SIGNED_STATUSES:
        document = render_application_form(app)
    else:
        raise Http404("not signed yet")
    assert document is not None
    response = HttpResponse(document.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@never_cache
@require_GET
@login_required_here
def poll(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """htmx polling of a waiting page: 204 while nothing changed, else HX-Redirect to the page the
    application is at now (not recorded as a page view)."""
    app = _application(request, public_id, agent_ok=True)
    if request.GET.get("key", "") == flow.state_key(app):
        return HttpResponse(status=204)
    response = HttpResponse("")
    response["HX-Redirect"] = flow.next_url(app)
    return response


# --- the agent's invitation, opened by the customer ------------------------------------------------


@require_http_methods(["GET", "POST"])
@never_cache
def invite(request: HttpRequest, token: str) -> HttpResponse:
    """The link (or QR code) an agent sent. A GET only shows what the invitation is (products,
    premium, the agent, the masked applicant name) with a button; the logged-in customer takes
    the application over on the POST and then does every step themself (a new customer signs up
    first)."""
    if not request.user.is_authenticated:
        return login_needed(request, request.get_full_path(), invited=True)
    try:
        if request.method == "POST":
            app = claim_invitation(token, user=request.user, request=request)
        else:
            app = invitation_preview(token, user=request.user)
    except DomainError as exc:
        return render(
            request, "application/invite_error.html", {"message": exc.message}, status=exc.http_status
        )
    if request.method == "GET":
        if app.customer_id == request.user.pk:  # taken over already: nothing left to accept
            return _to_next(app)
        items = items_of(app)
        agent = app.started_by
        context = {
            "app": app,
            "items": items,
            "total": app.total_premium,
            "total_shown": _total_shown(items),
            "agent_name": (agent.display_name or agent.username) if agent else "",
            "applicant_name": mask_name(app.applicant_name) if app.applicant_name else "",
        }
        return render(request, "application/invite.html", context)
    messages.info(request, "代理人已为您填写投保信息，请逐项核对；确认、签名和支付须由您本人完成")
    return _to_next(app)
