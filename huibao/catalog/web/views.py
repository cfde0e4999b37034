"""Catalog pages: home, search, rankings, product, documents, comparison, quotes, preferences.

Views only parse the request, call search / rating / queries and pick a template. htmx requests
(header `HX-Request`) get the partial that changed; the same URL without htmx renders the whole
page, so every state the browser's address bar shows can be reloaded or shared.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from huibao.catalog import rating_port
from huibao.catalog.models import DocumentKind, LineOfBusiness, ProductVersion
from huibao.catalog.search import SearchFilters, search_products
from huibao.catalog.web import compare as cmp
from huibao.catalog.web import queries
from huibao.catalog.web.forms import SORT_LABELS, ProfileForm, QuoteForm, SearchForm
from huibao.catalog.web.presenters import clause_kind_label, highlight_key_clauses
from huibao.catalog.web.rankings import cheapest_for_profile
from huibao.core.context_processors import ELDER_MODE_COOKIE
from huibao.core.errors import ValidationFailed

PAGE_SIZE = 10
RANKING_SIZE = 10
ELDER_COOKIE_MAX_AGE = 365 * 24 * 3600
HOT_WORDS = ("百万医疗", "意外险", "重疾险", "境外旅行", "宠物险")


def _is_htmx(request: HttpRequest) -> bool:
    # A history-restore request wants the whole page even though htmx sent it.
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.headers.get("Referer") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


# --- Home ---------------------------------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    counts = queries.line_counts()
    lines = [(code, label, counts[code]) for code, label in LineOfBusiness.choices if counts.get(code)]
    context = {
        "crowds": queries.crowds_with_counts(),
        "scenarios": queries.scenarios_with_counts(),
        "lines": lines,
        "best_selling": search_products(sort="sales", limit=3).items,
        "best_rated": search_products(sort="rating", limit=3).items,
        "hot_words": HOT_WORDS,
    }
    return render(request, "catalog/pages/home.html", context)


# --- Search -------------------------------------------------------------------------------------


def _page_links(request: HttpRequest, page: int, pages: int) -> list[tuple[int, str]]:
    params = request.GET.copy()
    links = []
    for number in range(max(1, page - 2), min(pages, page + 2) + 1):
        params["page"] = str(number)
        links.append((number, f"?{params.urlencode()}"))
    return links


FACET_LABELS = {
    "line": (gettext_lazy("Line"), gettext_lazy("All lines")),
    "crowd": (gettext_lazy("Crowd"), gettext_lazy("Everyone")),
    "scenario": (gettext_lazy("Scenario"), gettext_lazy("Any situation")),
    "insurer": (gettext_lazy("Insurer"), gettext_lazy("All insurers")),
}


def _facet_specs(
    facets: dict[str, list[tuple[str, str, int]]], filters: SearchFilters
) -> list[dict[str, Any]]:
    specs = []
    for key, (label, all_label) in FACET_LABELS.items():
        options = list(facets.get(key, []))
        selected = getattr(filters, key)
        if selected and all(code != selected for code, _label, _n in options):
            options.append((selected, selected, 0))  # keep a choice that matches nothing selectable
        specs.append(
            {"key": key, "label": label, "all_label": all_label, "selected": selected, "options": options}
        )
    return specs


def _active_chips(
    request: HttpRequest, facets: dict[str, list[tuple[str, str, int]]], filters: SearchFilters
) -> list[tuple[str, str]]:
    """(label, URL without that filter) for each filter in force."""
    chips = []
    for key in ("line", "crowd", "scenario", "insurer", "age", "max_premium", "min_rating"):
        value = getattr(filters, key)
        if value is None:
            continue
        labels = {code: name for code, name, _n in facets.get(key, [])}
        if key == "age":
            label = _("Age %(age)s") % {"age": value}
        elif key == "max_premium":
            label = _("Up to ¥%(amount)s") % {"amount": value}
        elif key == "min_rating":
            label = _("Rating %(r)s+") % {"r": value}
        else:
            label = labels.get(str(value), str(value))
        params = request.GET.copy()
        params.pop(key, None)
        params.pop("page", None)
        chips.append((label, f"{reverse('catalog:product_list')}?{params.urlencode()}"))
    return chips


@require_GET
@vary_on_headers("HX-Request")
def product_list(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    query, filters, sort, page = form.search_args()
    result = search_products(query, filters, sort, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    pages = max(1, -(-result.total // PAGE_SIZE))
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "form": form,
        "query": query,
        "filters": filters,
        "sort": sort,
        "sort_labels": SORT_LABELS,
        "result": result,
        "page": page,
        "pages": pages,
        "page_links": _page_links(request, page, pages),
        "prev_url": f"?{urlencode({**params.dict(), 'page': page - 1})}" if page > 1 else "",
        "next_url": f"?{urlencode({**params.dict(), 'page': page + 1})}" if page < pages else "",
        "line_labels": dict(LineOfBusiness.choices),
        "tray": cmp.tray_codes(request.session),
    }
    context["facet_specs"] = _facet_specs(result.facets, filters)
    context["active_chips"] = _active_chips(request, result.facets, filters)
    template = "catalog/partials/results.html" if _is_htmx(request) else "catalog/pages/product_list.html"
    return render(request, template, context)


# --- Rankings -----------------------------------------------------------------------------------


@require_GET
def rankings(request: HttpRequest) -> HttpResponse:
    profile_form = ProfileForm(request.GET if "age" in request.GET else None)
    cheapest: list[tuple[Any, Decimal]] | None = None
    if profile_form.is_bound and profile_form.is_valid():
        data = profile_form.cleaned_data
        cheapest = cheapest_for_profile(
            queries.on_sale_versions_of_line(data["line"]),
            age=data["age"],
            sex=data["sex"],
            limit=RANKING_SIZE,
        )
    context = {
        "best_selling": search_products(sort="sales", limit=RANKING_SIZE).items,
        "best_rated": search_products(sort="rating", limit=RANKING_SIZE).items,
        "profile_form": profile_form,
        "cheapest": cheapest,
        "tab": request.GET.get("tab") or ("cheapest" if cheapest is not None else "sales"),
    }
    return render(request, "catalog/pages/rankings.html", context)


# --- Product and documents ----------------------------------------------------------------------


@require_GET
def product_detail(request: HttpRequest, code: str) -> HttpResponse:
    product = queries.product_page(code)
    version = queries.current_version(product)
    context = {
        "product": product,
        "version": version,
        "plans": list(version.plans.all()),
        "documents": list(version.documents.all()),
        "age_range": cmp.age_range_text(version),
        "renewal": cmp.renewal_text(version),
        "term": cmp.term_text(version),
        "payment_modes": cmp.payment_modes_text(version),
        "form": _quote_form(version),
        "in_tray": product.code in cmp.tray_codes(request.session),
        "tray": cmp.tray_codes(request.session),
    }
    return render(request, "catalog/pages/product_detail.html", context)


@require_GET
def document_detail(request: HttpRequest, code: str, kind: str) -> HttpResponse:
    product = queries.product_page(code)
    version = queries.current_version(product)
    document = next((d for d in version.documents.all() if d.kind == kind), None)
    if document is None or kind not in DocumentKind.values:
        raise Http404("no such document")
    clauses = [
        {**c, "kind_label": clause_kind_label(str(c.get("kind") or ""))} for c in document.key_clauses or []
    ]
    context = {
        "product": product,
        "document": document,
        "body_html": highlight_key_clauses(document.body, document.key_clauses or []),
        "clauses": clauses,
        "documents": list(version.documents.all()),
    }
    return render(request, "catalog/pages/document.html", context)


# --- Quotes -------------------------------------------------------------------------------------


def _quote_form(version: ProductVersion, data: Any = None) -> QuoteForm:
    # A spec that does not compile references nothing: the form still shows, quotes say why.
    return QuoteForm(version, data, referenced=rating_port.engine().referenced_inputs(version.pk))


def _quote(request: HttpRequest, code: str, *, persist: bool) -> tuple[Any, QuoteForm, Any]:
    """(product, form, quote or None) for the posted inputs."""
    product = queries.product_page(code)
    version = queries.current_version(product)
    form = _quote_form(version, request.POST)
    quote = None
    if form.is_valid():
        try:
            quote = rating_port.engine().create_quote(
                product_code=product.code,
                plan_code=form.plan_code(),
                inputs=form.engine_inputs(),
                user=request.user if request.user.is_authenticated else None,
                channel="web",
                persist=persist,
            )
        except ValidationFailed as exc:
            form.attach_field_errors(exc.errors)
            if not exc.errors:
                form.add_error(None, exc.message)
    return product, form, quote


@require_http_methods(["GET", "POST"])
def quote_page(request: HttpRequest, code: str) -> HttpResponse:
    """GET: the quote form alone. POST ("获取报价"): a saved quote with its explanation."""
    if request.method == "GET":
        product = queries.product_page(code)
        version = queries.current_version(product)
        return render(request, "catalog/pages/quote.html", {"product": product, "form": _quote_form(version)})
    product, form, quote = _quote(request, code, persist=True)
    context = {
        "product": product,
        "form": form,
        "quote": quote,
        "saved": quote is not None,
        "explanation": rating_port.engine().explain_quote(quote) if quote is not None else [],
    }
    if _is_htmx(request):
        return render(request, "catalog/partials/quote_result.html", context)
    return render(
        request, "catalog/pages/quote.html", context, status=200 if quote or form.is_valid() else 422
    )


@require_POST
def quote_preview(request: HttpRequest, code: str) -> HttpResponse:
    """The live premium while the form changes: nothing is stored."""
    product, form, quote = _quote(request, code, persist=False)
    return render(
        request, "catalog/partials/quote_result.html", {"product": product, "form": form, "quote": quote}
    )


# --- Comparison ---------------------------------------------------------------------------------


@require_GET
def compare_page(request: HttpRequest) -> HttpResponse:
    from_url = "codes" in request.GET
    codes = cmp.parse_codes(request.GET.get("codes", "")) if from_url else cmp.tray_codes(request.session)
    status = 200
    error = ""
    if len(codes) > cmp.MAX_COMPARE:
        error = _("At most %(n)s products can be compared at once.") % {"n": cmp.MAX_COMPARE}
        codes, status = [], 400
    products = queries.products_for_compare(codes)
    rows = cmp.comparison_rows(products) if len(products) >= cmp.MIN_COMPARE else []
    context = {
        "products": products,
        "rows": rows,
        "error": error,
        "too_few": not error and len(products) < cmp.MIN_COMPARE,
        "differences": sum(1 for r in rows if r.differs),
    }
    return render(request, "catalog/pages/compare.html", context, status=status)


def _tray_response(request: HttpRequest, *, error: str = "", notice: str = "") -> HttpResponse:
    if _is_htmx(request):
        codes = cmp.tray_codes(request.session)
        context = {
            "tray": codes,
            "tray_products": queries.products_for_compare(codes),
            "tray_error": error,
            "tray_notice": notice,
            "max_compare": cmp.MAX_COMPARE,
            "oob": True,  # also refresh the count on the tab bar
        }
        return render(request, "catalog/partials/compare_tray.html", context, status=200)
    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    return HttpResponseRedirect(_safe_next(request, reverse("catalog:compare")))


@require_POST
def tray_add(request: HttpRequest) -> HttpResponse:
    """加入对比, and the same button's 已加入 tapped again (`op=remove`) takes the product out."""
    code = request.POST.get("code", "").strip()
    if request.POST.get("op") == "remove":
        cmp.tray_remove(request.session, code)
        return _tray_response(request)
    products = queries.products_for_compare([code]) if code else []
    if not products:
        return _tray_response(request, error=_("This product is not on sale."))
    try:
        cmp.tray_add(request.session, code)
    except cmp.TrayFull:
        return _tray_response(
            request,
            error=_("The compare tray holds at most %(n)s products: remove one before adding another.")
            % {"n": cmp.MAX_COMPARE},
        )
    return _tray_response(request, notice=_("Added %(name)s to compare.") % {"name": products[0].name})


@require_POST
def tray_remove(request: HttpRequest) -> HttpResponse:
    cmp.tray_remove(request.session, request.POST.get("code", "").strip())
    return _tray_response(request)


@require_POST
def tray_clear(request: HttpRequest) -> HttpResponse:
    cmp.tray_clear(request.session)
    return _tray_response(request)


@require_GET
def tray(request: HttpRequest) -> HttpResponse:
    codes = cmp.tray_codes(request.session)
    context = {
        "tray": codes,
        "tray_products": queries.products_for_compare(codes),
        "max_compare": cmp.MAX_COMPARE,
    }
    return render(request, "catalog/partials/compare_tray.html", context)


# --- Preferences --------------------------------------------------------------------------------


@require_POST
def elder_mode(request: HttpRequest) -> HttpResponse:
    """Switches elder mode (适老模式) on or off; `enabled` = 1/0, or a toggle when absent."""
    current = request.COOKIES.get(ELDER_MODE_COOKIE) == "1"
    wanted = request.POST.get("enabled")
    enable = (wanted == "1") if wanted in ("0", "1") else not current
    response = HttpResponseRedirect(_safe_next(request, reverse("catalog:home")))
    if enable:
        response.set_cookie(
            ELDER_MODE_COOKIE,
            "1",
            max_age=ELDER_COOKIE_MAX_AGE,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )
    else:
        response.delete_cookie(ELDER_MODE_COOKIE, samesite="Lax")
    return response
