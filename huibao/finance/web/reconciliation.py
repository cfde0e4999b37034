"""Reconciliation pages (/finance/reconciliation/…), finance staff only: the list of months and
the party to import for, the upload with its column mapping (remembered per party), the results
in four categories with totals, each difference resolved in place (htmx), the month closed, and
the disputes exported to Excel."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import IO, Any, cast

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huibao.account.access import staff_required
from huibao.catalog.models import Insurer
from huibao.core.errors import DomainError, FieldError, NotFound, ValidationFailed
from huibao.distribution.models import SalesUnit, SalesUnitKind
from huibao.finance import reconciliation as recon
from huibao.finance import reconciliation_rules as rules
from huibao.finance import reconciliation_selectors as selectors
from huibao.finance.reconciliation_models import ReconciliationStatus, StatementEncoding

PAGE_ITEMS = 200
SHOW_CHOICES = ("differences", "open", "matched", "amount_differs", "ours_only", "theirs_only", "all")


def _parties() -> list[tuple[str, str]]:
    insurers = [
        (f"insurer:{i.pk}", i.short_name) for i in Insurer.objects.filter(is_active=True).order_by("code")
    ]
    channels = [
        (f"channel:{u.pk}", f"{_('渠道')}·{u.name}")
        for u in SalesUnit.objects.filter(
            kind__in=[SalesUnitKind.CHANNEL, SalesUnitKind.SUBCHANNEL]
        ).order_by("path")
    ]
    return insurers + channels


def _party(value: str) -> recon.Party | None:
    kind, _sep, raw_id = (value or "").partition(":")
    if not raw_id.isdigit():
        return None
    if kind == "insurer":
        insurer = Insurer.objects.filter(pk=int(raw_id)).first()
        return recon.Party.of_insurer(insurer) if insurer else None
    if kind == "channel":
        unit = SalesUnit.objects.filter(pk=int(raw_id)).first()
        return recon.Party.of_channel(unit) if unit else None
    return None


@never_cache
@require_GET
@staff_required(permission=selectors.VIEW)
def index(request: HttpRequest) -> HttpResponse:
    months = selectors.reconciliations_for(request.user)[:100]
    return render(
        request,
        "finance/reconciliation/index.html",
        {"months": months, "parties": _parties(), "can_import": request.user.has_perm(selectors.IMPORT)},
    )


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(permission=selectors.IMPORT)
def new(request: HttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else request.GET
    party_value = data.get("party", "")
    party = _party(party_value)
    if party is None:
        return redirect("finance:reconciliation")
    saved = recon.mapping_for(party)
    errors: list[Any] = []
    message = ""
    form: dict[str, Any] = {
        "month": data.get("month", ""),
        "tolerance": data.get("tolerance", "0.00"),
        "header_row": data.get("header_row", saved.header_row),
        "encoding": data.get("encoding", saved.encoding),
        "date_format": data.get("date_format", saved.date_format),
        **{f"col_{f}": data.get(f"col_{f}", saved.columns.get(f, "")) for f, _r in rules.FIELDS},
    }
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            period = _month(form["month"])
            tolerance = _tolerance(form["tolerance"])
            spec = recon.MappingSpec(
                columns={f: str(form[f"col_{f}"]) for f, _r in rules.FIELDS},
                header_row=_int(form["header_row"], "header_row"),
                encoding=str(form["encoding"]),
                date_format=str(form["date_format"]).strip(),
            )
            if upload is None:
                raise ValidationFailed(
                    _("请选择对账单文件"), errors=[FieldError("file", "required", _("请选择对账单文件"))]
                )
            rec = recon.import_statement(
                party,
                period,
                upload.name or "",
                cast("IO[bytes]", upload.open("rb")),
                spec=spec,
                tolerance=tolerance,
                actor=request.user,
            )
            return redirect("finance:reconciliation_detail", public_id=rec.public_id)
        except DomainError as exc:
            message, errors = exc.message, exc.errors
    return render(
        request,
        "finance/reconciliation/new.html",
        {
            "party": party,
            "party_value": party_value,
            "form": form,
            "fields": [
                (f, rules.FIELD_LABELS[f], required, form[f"col_{f}"]) for f, required in rules.FIELDS
            ],
            "encodings": StatementEncoding.choices,
            "errors": errors,
            "message": message,
        },
        status=422 if message else 200,
    )


def _month(value: str) -> tuple[Any, Any]:
    try:
        return rules.parse_month(value)
    except ValueError:
        raise ValidationFailed(
            _("请选择对账月份"), errors=[FieldError("month", "invalid", _("对账月份格式为 YYYY-MM"))]
        ) from None


def _tolerance(value: str) -> Decimal:
    try:
        return Decimal((value or "0").strip())
    except InvalidOperation:
        raise ValidationFailed(
            _("容差须为金额"), errors=[FieldError("tolerance", "invalid", _("容差须为金额，如 0.01"))]
        ) from None


def _int(value: Any, field: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValidationFailed(
            _("须为整数"), errors=[FieldError(field, "invalid", _("表头行号须为整数"))]
        ) from None


def _detail_context(request: HttpRequest, rec: Any) -> dict[str, Any]:
    show = request.GET.get("show", "differences")
    if show not in SHOW_CHOICES:
        show = "differences"
    items = list(selectors.items_of(rec, show=show)[:PAGE_ITEMS])
    totals = recon.totals(rec)
    return {
        "rec": rec,
        "totals": totals,
        "items": items,
        "show": show,
        "shown_all": len(items) < PAGE_ITEMS,
        "open_count": sum(t.open for t in totals),
        "is_open": rec.status == ReconciliationStatus.OPEN,
        "can_resolve": request.user.has_perm(selectors.RESOLVE),
        "actions": ACTIONS,
    }


ACTIONS = (
    (recon.Action.ADJUST, gettext_lazy("调账（按对方金额记账）")),
    (recon.Action.DISPUTE, gettext_lazy("提出异议")),
    (recon.Action.ACCEPT_THEIRS, gettext_lazy("以对方为准（不记账）")),
    (recon.Action.OURS_RIGHT, gettext_lazy("以我方为准")),
)


@never_cache
@require_GET
@staff_required(permission=selectors.VIEW)
def detail(request: HttpRequest, public_id: Any) -> HttpResponse:
    try:
        rec = selectors.reconciliation_for(request.user, public_id)
    except NotFound:
        return render(request, "finance/reconciliation/missing.html", status=404)
    return render(request, "finance/reconciliation/detail.html", _detail_context(request, rec))


@require_POST
@staff_required(permission=selectors.RESOLVE)
def resolve(request: HttpRequest, public_id: Any, item_id: int) -> HttpResponse:
    try:
        rec = selectors.reconciliation_for(request.user, public_id)
        item = selectors.item_of(rec, item_id)
    except NotFound:
        return render(request, "finance/reconciliation/missing.html", status=404)
    error = ""
    try:
        item = recon.resolve(
            item.pk,
            request.POST.get("action", ""),
            request.POST.get("reason", ""),
            actor=request.user,
            request=request,
        )
    except DomainError as exc:
        error = "；".join(e.message for e in exc.errors) or exc.message
    if request.headers.get("HX-Request") == "true":
        rec.refresh_from_db()
        context = {
            "rec": rec,
            "i": item,
            "error": error,
            "is_open": rec.status == ReconciliationStatus.OPEN,
            "can_resolve": True,
            "actions": ACTIONS,
        }
        return render(
            request, "finance/reconciliation/partials/item.html", context, status=422 if error else 200
        )
    if error:
        context = _detail_context(request, rec)
        context["error"] = error
        return render(request, "finance/reconciliation/detail.html", context, status=422)
    return redirect("finance:reconciliation_detail", public_id=rec.public_id)


def _month_action(request: HttpRequest, public_id: Any, act: Any) -> HttpResponse:
    """A POST acting on the whole month (`act(rec)`): back to its page, or the page with why not."""
    try:
        rec = selectors.reconciliation_for(request.user, public_id)
    except NotFound:
        return render(request, "finance/reconciliation/missing.html", status=404)
    try:
        act(rec)
    except DomainError as exc:
        context = _detail_context(request, selectors.reconciliation_for(request.user, public_id))
        context["error"] = exc.message
        context["field_errors"] = exc.errors if isinstance(exc, ValidationFailed) else []
        status = 422 if isinstance(exc, ValidationFailed) else 409
        return render(request, "finance/reconciliation/detail.html", context, status=status)
    return redirect("finance:reconciliation_detail", public_id=rec.public_id)


@require_POST
@staff_required(permission=selectors.RESOLVE)
def close(request: HttpRequest, public_id: Any) -> HttpResponse:
    return _month_action(
        request, public_id, lambda rec: recon.close(rec.pk, actor=request.user, request=request)
    )


@require_POST
@staff_required(permission=selectors.RESOLVE)
def rematch(request: HttpRequest, public_id: Any) -> HttpResponse:
    return _month_action(
        request, public_id, lambda rec: recon.rematch(rec.pk, actor=request.user, request=request)
    )


@require_POST
@staff_required(permission=selectors.RESOLVE)
def replace(request: HttpRequest, public_id: Any) -> HttpResponse:
    def act(rec: Any) -> None:
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationFailed(
                _("请选择更正后的对账单文件"),
                errors=[FieldError("file", "required", _("请选择更正后的对账单文件"))],
            )
        recon.replace_statement(
            rec.pk, upload.name or "", cast(IO[bytes], upload.file), actor=request.user, request=request
        )

    return _month_action(request, public_id, act)


@require_GET
@staff_required(permission=selectors.VIEW)
def disputes(request: HttpRequest, public_id: Any) -> HttpResponse:
    try:
        rec = selectors.reconciliation_for(request.user, public_id)
    except NotFound:
        return render(request, "finance/reconciliation/missing.html", status=404)
    response = HttpResponse(
        recon.disputes_workbook(rec),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="disputes-{rec.month}.xlsx"'
    return response


urlpatterns = [
    path("reconciliation/", index, name="reconciliation"),
    path("reconciliation/new/", new, name="reconciliation_new"),
    path("reconciliation/<uuid:public_id>/", detail, name="reconciliation_detail"),
    path(
        "reconciliation/<uuid:public_id>/items/<int:item_id>/resolve/", resolve, name="reconciliation_resolve"
    ),
    path("reconciliation/<uuid:public_id>/close/", close, name="reconciliation_close"),
    path("reconciliation/<uuid:public_id>/rematch/", rematch, name="reconciliation_rematch"),
    path("reconciliation/<uuid:public_id>/replace/", replace, name="reconciliation_replace"),
    path("reconciliation/<uuid:public_id>/disputes.xlsx", disputes, name="reconciliation_disputes"),
]
