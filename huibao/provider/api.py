"""Provider endpoints under /api/v1/provider/.

- For providers' own systems (a staff token or a password + TOTP session of a provider log-in):
  their tasks only — list, read, accept, decline, add a progress note, complete with the report.
  Another provider's task answers 404, as does a task that does not exist.
- For operators and adjusters: the providers (list by region / capability, add, suspend), the
  ranking for a task, and assigning a task.
Errors answer in the API's one shape; a refused request changes nothing."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.security import django_auth

from huibao.account.access import is_api_staff
from huibao.core.api_schemas import errors
from huibao.core.errors import PermissionDenied
from huibao.provider import selectors, services
from huibao.provider.models import ServiceProvider, ServiceTask
from huibao.provider.rules import TaskSubject
from huibao.provider.states import ProviderStatus, TaskKind, TaskStatus

router = Router(tags=["provider"])
OPERATOR_TAGS = ["provider network (operators)"]
TASK_STATUS_TEXT = "；".join(f"{value}={label}" for value, label in TaskStatus.choices)
TASK_KIND_TEXT = "；".join(f"{value}={label}" for value, label in TaskKind.choices)


class EventOut(Schema):
    action: str
    status: str
    note: str
    at: datetime.datetime


class TaskOut(Schema):
    id: uuid.UUID = Field(description="the task's public id")
    kind: str = Field(description=f"任务类型：{TASK_KIND_TEXT}")
    kind_label: str
    status: str = Field(description=f"任务状态：{TASK_STATUS_TEXT}")
    status_label: str
    subject_kind: str
    subject_reference: str = Field(description="案件编号")
    region: str = Field(description="地区代码（GB/T 2260 前缀）")
    summary: str
    provider: str = Field(description="服务商名称")
    due_at: datetime.datetime
    overdue: bool
    report: str
    assessed_amount: str | None = Field(description="定损金额（元，字符串）")
    files: list[str] = Field(description="报告文件名")
    events: list[EventOut]
    reoffer_of: uuid.UUID | None


class DeclineIn(Schema):
    reason: str = Field(description="拒单原因（必填）")


class NoteIn(Schema):
    note: str = Field(description="进度说明")


class CompleteIn(Schema):
    report: str = Field(description="服务报告")
    assessed_amount: str | None = Field(None, description="定损金额（元，字符串，选填）")


class DeclineOut(Schema):
    task: TaskOut
    reoffered_as: uuid.UUID | None = Field(description="改派后的新任务（无可用服务商时为空）")


class TaskListQuery(Schema):
    status: TaskStatus | None = None


def task_out(task: ServiceTask) -> dict[str, Any]:
    return {
        "id": task.public_id,
        "kind": task.kind,
        "kind_label": task.get_kind_display(),
        "status": task.status,
        "status_label": task.get_status_display(),
        "subject_kind": task.subject_kind,
        "subject_reference": task.subject_reference,
        "region": task.region,
        "summary": task.summary,
        "provider": task.provider.name,
        "due_at": task.due_at,
        "overdue": task.overdue_at is not None,
        "report": task.report,
        "assessed_amount": None if task.assessed_amount is None else str(task.assessed_amount),
        "files": [f.name for f in task.files.all()],
        "events": [
            {"action": e.action, "status": e.status, "note": e.note, "at": e.created_at}
            for e in task.events.all()  # ordered by time (Meta), prefetched by the list
        ],
        "reoffer_of": task.reoffer_of.public_id if task.reoffer_of_id and task.reoffer_of else None,
    }


def _provider_staff(request: HttpRequest) -> None:
    if not is_api_staff(request):
        raise PermissionDenied("仅限已通过动态验证码验证的员工账号使用", code="staff_only")


def _own(request: HttpRequest, task_id: uuid.UUID) -> ServiceTask:
    _provider_staff(request)
    return selectors.task_for_provider_user(request.user, task_id)


@router.get(
    "/provider/tasks",
    response={200: list[TaskOut], **errors(403, 404)},
    auth=django_auth,
    url_name="provider_tasks",
    summary="本服务商的任务",
)
def list_tasks(request: HttpRequest, filters: Query[TaskListQuery]) -> list[dict[str, Any]]:
    _provider_staff(request)
    provider = selectors.provider_of(request.user)
    query = (
        selectors.tasks_of(provider, status=filters.status or "")
        .select_related("reoffer_of")
        .prefetch_related("files", "events")
    )
    return [task_out(t) for t in query[:500]]


@router.get(
    "/provider/tasks/{task_id}",
    response={200: TaskOut, **errors(403, 404)},
    auth=django_auth,
    summary="任务详情（含任务记录）",
)
def get_task(request: HttpRequest, task_id: uuid.UUID) -> dict[str, Any]:
    return task_out(_own(request, task_id))


@router.post(
    "/provider/tasks/{task_id}/accept",
    response={200: TaskOut, **errors(403, 404, 409)},
    auth=django_auth,
    summary="接单",
)
def accept_task(request: HttpRequest, task_id: uuid.UUID) -> dict[str, Any]:
    return task_out(services.accept(_own(request, task_id), actor=request.user))


@router.post(
    "/provider/tasks/{task_id}/decline",
    response={200: DeclineOut, **errors(403, 404, 409, 422)},
    auth=django_auth,
    summary="拒单（自动改派给下一家服务商）",
)
def decline_task(request: HttpRequest, task_id: uuid.UUID, payload: DeclineIn) -> dict[str, Any]:
    task = _own(request, task_id)
    nxt = services.decline(task, payload.reason, actor=request.user)
    task.refresh_from_db()
    return {"task": task_out(task), "reoffered_as": nxt.public_id if nxt else None}


@router.post(
    "/provider/tasks/{task_id}/updates",
    response={200: TaskOut, **errors(403, 404, 409, 422)},
    auth=django_auth,
    summary="进度更新（已接单的任务随之开始处理）",
)
def update_task(request: HttpRequest, task_id: uuid.UUID, payload: NoteIn) -> dict[str, Any]:
    return task_out(services.update(_own(request, task_id), payload.note, actor=request.user))


@router.post(
    "/provider/tasks/{task_id}/completion",
    response={200: TaskOut, **errors(403, 404, 409, 422)},
    auth=django_auth,
    summary="完成任务并提交服务报告（文件请在服务商页面上传）",
)
def complete_task(request: HttpRequest, task_id: uuid.UUID, payload: CompleteIn) -> dict[str, Any]:
    task = services.complete(
        _own(request, task_id),
        report=payload.report,
        assessed_amount=payload.assessed_amount,
        actor=request.user,
    )
    return task_out(task)


# --- operators and adjusters ----------------------------------------------------------------------


class ProviderOut(Schema):
    id: uuid.UUID
    code: str
    name: str
    kind: str
    capabilities: list[str]
    regions: list[str]
    licence_number: str
    status: str
    open_tasks: int
    excluded_insurers: list[str]


class ProviderIn(Schema):
    code: str
    name: str
    kind: str
    capabilities: list[str]
    regions: list[str]
    licence_number: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    address: str = ""
    excluded_insurers: list[str] = []


class ProviderQuery(Schema):
    region: str = ""
    kind: TaskKind | None = None
    status: ProviderStatus | None = None


class StatusIn(Schema):
    status: ProviderStatus
    reason: str = ""


class RankingQuery(Schema):
    kind: str
    region: str
    insurer: str = ""


class AssignIn(Schema):
    subject_kind: str = Field("claim", description="任务所属对象类型（claim）")
    reference: str = Field(description="案件编号")
    region: str = Field(description="出险地区代码（GB/T 2260）")
    summary: str = ""
    insurer: str = Field("", description="保险公司编码（排除不使用的服务商）")
    kind: str = Field(description=f"任务类型：{TASK_KIND_TEXT}")
    provider_id: uuid.UUID | None = Field(None, description="指定服务商；不填则自动选择最匹配的")
    due_hours: int | None = Field(None, description="完成时限（小时）；不填按任务类型的服务时限")


def provider_out(p: ServiceProvider) -> dict[str, Any]:
    return {
        "id": p.public_id,
        "code": p.code,
        "name": p.name,
        "kind": p.kind,
        "capabilities": list(p.capabilities),
        "regions": list(p.regions),
        "licence_number": p.licence_number,
        "status": p.status,
        "open_tasks": getattr(p, "open_tasks", 0),
        "excluded_insurers": sorted(i.code for i in p.excluded_insurers.all()),
    }


def _operator(request: HttpRequest, permission: str) -> None:
    _provider_staff(request)
    if not request.user.has_perm(permission):
        raise PermissionDenied("无服务商管理权限", code="not_allowed")


@router.get(
    "/provider/providers",
    response={200: list[ProviderOut], **errors(403, 422)},
    auth=django_auth,
    tags=OPERATOR_TAGS,
    summary="服务商列表（按地区、服务能力、状态筛选）",
)
def list_providers(request: HttpRequest, filters: Query[ProviderQuery]) -> list[dict[str, Any]]:
    _operator(request, "provider.view_serviceprovider")
    region = services.checked_region(filters.region) if filters.region else ""
    listed = selectors.providers_list(region=region, kind=filters.kind or "", status=filters.status or "")
    return [provider_out(p) for p in listed]


@router.post(
    "/provider/providers",
    response={201: ProviderOut, **errors(403, 422)},
    auth=django_auth,
    tags=OPERATOR_TAGS,
    summary="添加服务商",
)
def create_provider(request: HttpRequest, payload: ProviderIn) -> Status:
    _operator(request, "provider.add_serviceprovider")
    data = services.ProviderInput(
        **{
            **payload.dict(),
            "capabilities": tuple(payload.capabilities),
            "regions": tuple(payload.regions),
            "excluded_insurers": tuple(payload.excluded_insurers),
        }
    )
    return Status(201, provider_out(services.create_provider(data, actor=request.user)))


@router.post(
    "/provider/providers/{provider_id}/status",
    response={200: ProviderOut, **errors(403, 404, 422)},
    auth=django_auth,
    tags=OPERATOR_TAGS,
    summary="暂停或恢复服务商",
)
def provider_status(request: HttpRequest, provider_id: uuid.UUID, payload: StatusIn) -> dict[str, Any]:
    _operator(request, "provider.change_serviceprovider")
    provider = selectors.provider_by_public_id(provider_id)
    return provider_out(
        services.set_provider_status(provider, payload.status, actor=request.user, reason=payload.reason)
    )


@router.get(
    "/provider/ranking",
    response={200: list[ProviderOut], **errors(403, 422)},
    auth=django_auth,
    tags=OPERATOR_TAGS,
    summary="可承接某类任务的服务商，按匹配度排序",
)
def ranking(request: HttpRequest, filters: Query[RankingQuery]) -> list[dict[str, Any]]:
    _operator(request, "provider.view_serviceprovider")
    found = services.find_providers(filters.kind, filters.region, insurer=filters.insurer)
    return [provider_out(p) for p in found]


@router.post(
    "/provider/assignments",
    response={200: TaskOut, **errors(403, 404, 422)},
    auth=django_auth,
    tags=OPERATOR_TAGS,
    summary="派单（同一案件同类任务未完成时返回原任务，不重复派单）",
)
def assign(request: HttpRequest, payload: AssignIn) -> dict[str, Any]:
    _operator(request, "provider.add_servicetask")
    provider = selectors.provider_by_public_id(payload.provider_id) if payload.provider_id else None
    subject = TaskSubject(
        payload.subject_kind, payload.reference, payload.region, payload.summary, payload.insurer
    )
    task = services.assign_task(
        subject, payload.kind, provider, due_hours=payload.due_hours, actor=request.user
    )
    return task_out(task)
