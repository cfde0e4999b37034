"""The fraud analysts' pages under /fraud/: the queue (filters by status, rule, insurer, route),
a case (the subject, the fired rules and their evidence, the earlier claims matched; take,
release, clear or confirm with a note — confirming offers the blacklist), the rules (parameters
changed as a new version), the route thresholds (a lead proposes a version, another approves
it), the held claims (released to review or pass) and the shared blacklist. Verified staff with
the fraud permissions."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huibao.account.access import staff_required
from huibao.core.errors import DomainError, NotFound
from huibao.fraud import holds, selectors, services, thresholds
from huibao.fraud.models import BlacklistSource
from huibao.fraud.rules import RULES
from huibao.fraud.states import CaseStatus, RouteChoice

VIEW = "fraud.view_fraudcase"
DECIDE = "fraud.change_fraudcase"
RULES_CHANGE = "fraud.change_fraudrule"
BLACKLIST_VIEW = "fraud.view_blacklistentry"
BLACKLIST_CHANGE = "fraud.change_blacklistentry"
POLICY_VIEW = "fraud.view_fraudpolicy"
HOLD_VIEW = "fraud.view_fraudhold"
HOLD_RELEASE = "fraud.change_fraudhold"


def _case_or_404(public_id: uuid.UUID) -> Any:
    try:
        return selectors.case_by_public_id(public_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@never_cache
@require_GET
@staff_required(permission=VIEW)
def queue(request: HttpRequest) -> HttpResponse:
    filters = {k: request.GET.get(k, "").strip()[:64] for k in ("status", "rule", "insurer", "route")}
    if filters["status"] not in CaseStatus.values:
        filters["status"] = ""
    cases = list(selectors.case_queue(**filters)[:200])
    context = {
        "cases": cases,
        "filters": filters,
        "statuses": CaseStatus.choices,
        "routes": RouteChoice.choices,
        "rules": sorted((code, spec.name) for code, spec in RULES.items()),
    }
    return render(request, "fraud/queue.html", context)


@never_cache
@require_GET
@staff_required(permission=VIEW)
def case(request: HttpRequest, public_id: uuid.UUID, errors: dict[str, str] | None = None) -> HttpResponse:
    found = _case_or_404(public_id)
    context = {
        "case": found,
        "claim": found.claim,
        "screening": found.screening,
        "earlier": list(selectors.earlier_claims(found)),
        "is_open": found.status in (CaseStatus.OPEN, CaseStatus.IN_REVIEW),
        "errors": errors or {},
        "can_blacklist": request.user.has_perm(BLACKLIST_CHANGE),
    }
    return render(request, "fraud/case.html", context, status=422 if errors else 200)


@never_cache
@require_POST
@staff_required(permission=DECIDE)
def case_action(request: HttpRequest, public_id: uuid.UUID, action: str) -> HttpResponse:
    found = _case_or_404(public_id)
    note = request.POST.get("note", "")
    try:
        if action == "take":
            services.take_case(found, actor=request.user, request=request)
        elif action == "release":
            services.release_case(found, actor=request.user, request=request)
        elif action == "clear":
            services.clear_case(found, actor=request.user, note=note, request=request)
        elif action == "confirm":
            reason = request.POST.get("blacklist_reason", "") if request.POST.get("blacklist") else ""
            if reason and not request.user.has_perm(BLACKLIST_CHANGE):
                raise PermissionDenied(BLACKLIST_CHANGE)
            services.confirm_case(
                found, actor=request.user, note=note, blacklist_reason=reason, request=request
            )
        else:
            raise Http404("unknown action")
    except DomainError as exc:
        if exc.errors:
            request.method = "GET"
            return case(request, public_id, errors={e.field: e.message for e in exc.errors})
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已处理。"))
    return HttpResponseRedirect(reverse("fraud:case", args=[public_id]))


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(permission=VIEW)
def rules_page(request: HttpRequest) -> HttpResponse:
    errors: dict[str, str] = {}
    editing = ""
    if request.method == "POST":
        if not request.user.has_perm(RULES_CHANGE):
            raise PermissionDenied(RULES_CHANGE)
        editing = request.POST.get("code", "")
        spec = RULES.get(editing)
        if spec is None:
            raise Http404
        parameters = {p.name: request.POST.get(f"param_{p.name}", "").strip() for p in spec.params}
        try:
            score = int(request.POST.get("score", ""))
        except ValueError:
            errors["score"] = _("分值：须为整数")
            score = None
        if not errors:
            try:
                services.update_rule(
                    editing,
                    actor=request.user,
                    parameters=parameters,
                    enabled=bool(request.POST.get("enabled")),
                    score=score,
                    route=request.POST.get("route", ""),
                    reason=request.POST.get("reason", "")[:200],
                    request=request,
                )
            except DomainError as exc:
                errors = {e.field: e.message for e in exc.errors} or {"code": exc.message}
            else:
                messages.success(request, _("规则已更新为新版本。"))
                return HttpResponseRedirect(reverse("fraud:rules"))
    rows = []
    for rule in selectors.active_rule_rows():
        spec = RULES.get(rule.code)
        params = [(p, rule.parameters.get(p.name, "")) for p in (spec.params if spec else ())]
        rows.append({"rule": rule, "params": params})
    context = {"rows": rows, "errors": errors, "editing": editing, "routes": RouteChoice.choices}
    return render(request, "fraud/rules.html", context, status=422 if errors else 200)


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(permission=BLACKLIST_VIEW)
def blacklist(request: HttpRequest) -> HttpResponse:
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    if request.method == "POST":
        if not request.user.has_perm(BLACKLIST_CHANGE):
            raise PermissionDenied(BLACKLIST_CHANGE)
        values = {
            k: request.POST.get(k, "").strip()
            for k in ("id_number", "name", "reason", "source", "insurer_code", "valid_until")
        }
        valid_until = None
        if values["valid_until"]:
            try:
                valid_until = datetime.date.fromisoformat(values["valid_until"])
            except ValueError:
                errors["valid_until"] = _("失效日：日期格式应为 YYYY-MM-DD")
        if not errors:
            try:
                services.add_to_blacklist(
                    id_number=values["id_number"],
                    name=values["name"][:64],
                    reason=values["reason"],
                    source=values["source"] or BlacklistSource.PLATFORM,
                    insurer_code=values["insurer_code"][:32],
                    valid_until=valid_until,
                    actor=request.user,
                    request=request,
                )
            except DomainError as exc:
                errors = {e.field: e.message for e in exc.errors} or {"id_number": exc.message}
            else:
                messages.success(request, _("已加入黑名单。"))
                return HttpResponseRedirect(reverse("fraud:blacklist"))
        values.pop("id_number", None)  # never echoed back
    show_removed = request.GET.get("removed") == "1"
    context = {
        "entries": list(selectors.blacklist_entries(include_removed=show_removed)[:500]),
        "errors": errors,
        "values": values,
        "show_removed": show_removed,
        "sources": BlacklistSource.choices,
        "can_change": request.user.has_perm(BLACKLIST_CHANGE),
    }
    return render(request, "fraud/blacklist.html", context, status=422 if errors else 200)


@never_cache
@require_POST
@staff_required(permission=BLACKLIST_CHANGE)
def blacklist_remove(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    try:
        entry = selectors.blacklist_entry(public_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    try:
        services.remove_from_blacklist(
            entry, reason=request.POST.get("reason", ""), actor=request.user, request=request
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已移出黑名单（记录保留）。"))
    return HttpResponseRedirect(reverse("fraud:blacklist"))


# --- the route thresholds (versions, four eyes) ------------------------------------------------


def _parse_when(raw: str) -> tuple[datetime.datetime | None, str]:
    raw = raw.strip()
    if not raw:
        return None, ""
    try:
        when = datetime.datetime.fromisoformat(raw)
    except ValueError:
        return None, _("生效时间：格式应为 YYYY-MM-DDTHH:MM")
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    return when, ""


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(permission=POLICY_VIEW)
def thresholds_page(request: HttpRequest) -> HttpResponse:
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    if request.method == "POST":
        if not request.user.has_perm(thresholds.PROPOSE):
            raise PermissionDenied(thresholds.PROPOSE)
        values = {
            k: request.POST.get(k, "").strip()[:200]
            for k in ("review_at", "block_at", "reason", "effective_from")
        }
        when, problem = _parse_when(values["effective_from"])
        if problem:
            errors["effective_from"] = problem
        else:
            try:
                thresholds.propose(
                    actor=request.user,
                    review_at=values["review_at"],
                    block_at=values["block_at"],
                    hold_enabled=bool(request.POST.get("hold_enabled")),
                    reason=values["reason"],
                    effective_from=when,
                    request=request,
                )
            except DomainError as exc:
                errors = {e.field: e.message for e in exc.errors} or {"review_at": exc.message}
            else:
                messages.success(request, _("新阈值版本已提交，等待另一位风控主管审批。"))
                return HttpResponseRedirect(reverse("fraud:thresholds"))
    current = selectors.thresholds_in_force()
    context = {
        "current": current,
        "pending": selectors.pending_policy(),
        "versions": list(selectors.policy_versions()[:100]),
        "errors": errors,
        "values": values,
        "can_propose": request.user.has_perm(thresholds.PROPOSE),
        "can_approve": request.user.has_perm(thresholds.APPROVE),
    }
    return render(request, "fraud/thresholds.html", context, status=422 if errors else 200)


@never_cache
@require_POST
@staff_required(permission=POLICY_VIEW)
def threshold_decision(request: HttpRequest, version: int, action: str) -> HttpResponse:
    try:
        found = selectors.policy_by_version(version)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    note = request.POST.get("note", "")[:200]
    try:
        if action == "approve":
            thresholds.approve(found, actor=request.user, note=note, request=request)
        elif action == "reject":
            thresholds.reject(found, actor=request.user, note=note, request=request)
        else:
            raise Http404("unknown action")
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已审批。") if action == "approve" else _("已驳回。"))
    return HttpResponseRedirect(reverse("fraud:thresholds"))


# --- held claims ------------------------------------------------------------------------------


@never_cache
@require_GET
@staff_required(permission=HOLD_VIEW)
def holds_page(request: HttpRequest, errors: dict[str, str] | None = None) -> HttpResponse:
    context = {
        "holds": list(selectors.hold_queue()[:200]),
        "released": list(selectors.hold_queue(status="released").order_by("-released_at")[:20]),
        "errors": errors or {},
        "can_release": request.user.has_perm(HOLD_RELEASE),
    }
    return render(request, "fraud/holds.html", context, status=422 if errors else 200)


@never_cache
@require_POST
@staff_required(permission=HOLD_RELEASE)
def hold_release(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    try:
        found = selectors.hold_by_public_id(public_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    try:
        holds.release_hold(
            found,
            to=request.POST.get("to", ""),
            actor=request.user,
            note=request.POST.get("note", ""),
            request=request,
        )
    except DomainError as exc:
        if exc.errors:
            request.method = "GET"
            return holds_page(request, errors={e.field: e.message for e in exc.errors})
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已放行。"))
    return HttpResponseRedirect(reverse("fraud:holds"))
