"""Provider pages. /provider/: a provider's staff (role "provider", password + TOTP) see their own
provider's tasks only (another provider's task is 404, never 403), accept / decline / note
progress / complete with a report and files from a phone. /provider/staff/providers/: operators
list providers by region and capability, add one, suspend or reactivate it."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from huibao.account.access import staff_required
from huibao.core.errors import DomainError, FieldError, NotFound, ValidationFailed
from huibao.provider import selectors, services
from huibao.provider.models import ServiceProvider, ServiceTask
from huibao.provider.states import (
    OPEN_STATUSES,
    ProviderKind,
    ProviderStatus,
    TaskKind,
    TaskStatus,
)

MANAGE_PERMISSION = "provider.change_serviceprovider"
# The list's tabs: what to do now, then what is done.
TABS: tuple[tuple[str, Any], ...] = (
    ("open", gettext_lazy("待处理")),
    (TaskStatus.OFFERED, TaskStatus.OFFERED.label),
    (TaskStatus.IN_PROGRESS, TaskStatus.IN_PROGRESS.label),
    (TaskStatus.COMPLETED, TaskStatus.COMPLETED.label),
    ("closed", gettext_lazy("已关闭")),
)


def _provider(request: HttpRequest) -> ServiceProvider:
    try:
        return selectors.provider_of(request.user)
    except NotFound:
        raise Http404("不是服务商账号") from None


def _errors(exc: DomainError) -> tuple[str, dict[str, str]]:
    field_errors = {e.field: e.message for e in exc.errors}
    return "；".join(field_errors.values()) or exc.message, field_errors


@never_cache
@require_GET
@staff_required()
def task_list(request: HttpRequest) -> HttpResponse:
    provider = _provider(request)
    tab = request.GET.get("status", "open")
    if tab not in {t for t, _label in TABS}:
        tab = "open"
    query = selectors.tasks_of(provider)
    if tab == "open":
        query = query.filter(status__in=OPEN_STATUSES)
    elif tab == "closed":
        query = query.filter(status__in=[TaskStatus.DECLINED, TaskStatus.CANCELLED])
    elif tab == TaskStatus.IN_PROGRESS:
        query = query.filter(status__in=[TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS])
    else:
        query = query.filter(status=tab)
    tabs = [{"key": key, "label": label, "current": key == tab} for key, label in TABS]
    return render(
        request,
        "provider/tasks.html",
        {"provider": provider, "tasks": list(query[:200]), "tabs": tabs, "tab": tab},
    )


def _task_context(task: ServiceTask) -> dict[str, Any]:
    return {
        "task": task,
        "events": selectors.events_of(task),
        "files": list(task.files.all()),
        "can_accept": task.status == TaskStatus.OFFERED,
        "can_work": task.status in (TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS),
    }


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required()
def task_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    try:
        task = selectors.task_for_provider_user(request.user, public_id)
    except NotFound:
        raise Http404("服务任务不存在") from None
    error = ""
    field_errors: dict[str, str] = {}
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "accept":
                services.accept(task, actor=request.user)
            elif action == "decline":
                nxt = services.decline(task, request.POST.get("reason", ""), actor=request.user)
                # Which provider took it over is not shown: only that the work is taken care of.
                done = _("已拒单，任务已改派其他服务商。") if nxt else _("已拒单，平台将人工安排该任务。")
                messages.success(request, done)
                return redirect("provider:tasks")
            elif action == "start":
                services.start(task, actor=request.user)
            elif action == "update":
                services.update(task, request.POST.get("note", ""), actor=request.user)
            elif action == "complete":
                services.complete(
                    task,
                    report=request.POST.get("report", ""),
                    assessed_amount=request.POST.get("assessed_amount", ""),
                    files=request.FILES.getlist("files"),
                    actor=request.user,
                )
            else:
                raise ValidationFailed(
                    "unknown action", errors=[FieldError("action", "invalid", _("请选择要办理的操作"))]
                )
        except DomainError as exc:
            error, field_errors = _errors(exc)
        else:
            return redirect("provider:task", public_id=task.public_id)
        task = selectors.task_for_provider_user(request.user, public_id)
    context = {**_task_context(task), "error": error, "field_errors": field_errors, "posted": request.POST}
    return render(request, "provider/task.html", context, status=400 if error else 200)


@never_cache
@require_GET
@staff_required()
def task_file(request: HttpRequest, public_id: uuid.UUID, file_id: int) -> Any:
    try:
        task = selectors.task_for_provider_user(request.user, public_id)
    except NotFound:
        raise Http404("服务任务不存在") from None
    row = task.files.filter(pk=file_id).first()
    if row is None:
        raise Http404("文件不存在")
    return FileResponse(row.file.open("rb"), content_type=row.content_type, filename=row.name)


# --- operators -----------------------------------------------------------------------------------


def _provider_input(post: Any) -> services.ProviderInput:
    regions = tuple(r for r in post.get("regions", "").replace("，", ",").replace(" ", ",").split(",") if r)
    excluded = tuple(c for c in post.get("excluded_insurers", "").replace("，", ",").split(",") if c.strip())
    return services.ProviderInput(
        code=post.get("code", ""),
        name=post.get("name", ""),
        kind=post.get("kind", ""),
        capabilities=tuple(post.getlist("capabilities")),
        regions=regions,
        licence_number=post.get("licence_number", ""),
        contact_name=post.get("contact_name", ""),
        contact_phone=post.get("contact_phone", ""),
        contact_email=post.get("contact_email", ""),
        address=post.get("address", ""),
        excluded_insurers=tuple(c.strip() for c in excluded),
    )


@never_cache
@require_http_methods(["GET", "POST"])
@staff_required(permission=MANAGE_PERMISSION)
def providers(request: HttpRequest) -> HttpResponse:
    error = ""
    field_errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            created = services.create_provider(_provider_input(request.POST), actor=request.user)
        except DomainError as exc:
            error, field_errors = _errors(exc)
        else:
            messages.success(request, _("已添加服务商：%(name)s") % {"name": created.name})
            return redirect("provider:providers")
    region = request.GET.get("region", "").strip()
    kind = request.GET.get("kind", "")
    status = request.GET.get("status", "")
    region_error = ""
    if region:
        try:
            region = services.checked_region(region)
        except ValidationFailed as exc:
            region_error = exc.message
            region = ""
    listed = selectors.providers_list(
        region=region,
        kind=kind if kind in TaskKind.values else "",
        status=status if status in ProviderStatus.values else "",
    )
    context = {
        "providers": listed,
        "filters": {"region": request.GET.get("region", ""), "kind": kind, "status": status},
        "region_error": region_error,
        "task_kinds": TaskKind.choices,
        "provider_kinds": ProviderKind.choices,
        "statuses": ProviderStatus.choices,
        "error": error,
        "field_errors": field_errors,
        "posted": request.POST,
        "posted_capabilities": request.POST.getlist("capabilities"),
    }
    return render(request, "provider/providers.html", context, status=400 if error else 200)


@never_cache
@require_POST
@staff_required(permission=MANAGE_PERMISSION)
def provider_status(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    try:
        provider = selectors.provider_by_public_id(public_id)
    except NotFound:
        raise Http404("服务商不存在") from None
    try:
        services.set_provider_status(
            provider,
            request.POST.get("status", ""),
            actor=request.user,
            reason=request.POST.get("reason", ""),
        )
    except DomainError as exc:
        messages.error(request, _errors(exc)[0])
    else:
        messages.success(request, _("服务商状态已更新。"))
    return redirect("provider:providers")
