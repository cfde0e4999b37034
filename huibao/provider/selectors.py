"""Reads and access checkpoints of the provider network. A provider's log-in reaches its own
provider's tasks only: another provider's task is not found (404), never forbidden (403), so a
task's existence does not leak."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count, Q, QuerySet

from huibao.core.errors import NotFound
from huibao.provider.models import ProviderUser, ServiceProvider, ServiceTask, TaskEvent
from huibao.provider.rules import Candidate
from huibao.provider.states import OPEN_STATUSES, ProviderStatus

TASK_NOT_FOUND = "服务任务不存在"


def provider_of(user: Any) -> ServiceProvider:
    """The provider `user` belongs to; NotFound for anyone else (a customer, other staff)."""
    if not getattr(user, "is_authenticated", False):
        raise NotFound("不是服务商账号", code="not_a_provider")
    link = ProviderUser.objects.select_related("provider").filter(user_id=user.pk).first()
    if link is None:
        raise NotFound("不是服务商账号", code="not_a_provider")
    return link.provider


def tasks_of(provider: ServiceProvider, *, status: str = "") -> QuerySet[ServiceTask]:
    query = ServiceTask.objects.filter(provider=provider).select_related("provider")
    if status:
        query = query.filter(status=status)
    return query.order_by("due_at", "id")


def task_for_provider_user(user: Any, public_id: uuid.UUID | str) -> ServiceTask:
    """`user`'s provider's task `public_id`; NotFound when it is another provider's or none."""
    provider = provider_of(user)
    try:
        uuid.UUID(str(public_id))
    except ValueError:
        raise NotFound(TASK_NOT_FOUND, code="task_not_found") from None
    task = tasks_of(provider).filter(public_id=public_id).first()
    if task is None:
        raise NotFound(TASK_NOT_FOUND, code="task_not_found")
    return task


def task_by_public_id(public_id: uuid.UUID | str) -> ServiceTask:
    """Any task (operators, adjusters)."""
    try:
        uuid.UUID(str(public_id))
    except ValueError:
        raise NotFound(TASK_NOT_FOUND, code="task_not_found") from None
    task = ServiceTask.objects.select_related("provider").filter(public_id=public_id).first()
    if task is None:
        raise NotFound(TASK_NOT_FOUND, code="task_not_found")
    return task


def tasks_of_subject(subject_kind: str, reference: str) -> list[ServiceTask]:
    """Every task of one subject (a claim's), re-offers included, oldest first."""
    return list(
        ServiceTask.objects.filter(subject_kind=subject_kind, subject_reference=reference)
        .select_related("provider")
        .order_by("created_at", "id")
    )


def events_of(task: ServiceTask) -> list[TaskEvent]:
    return list(task.events.select_related("actor").order_by("created_at", "id"))


def provider_by_public_id(public_id: uuid.UUID | str) -> ServiceProvider:
    try:
        uuid.UUID(str(public_id))
    except ValueError:
        raise NotFound("服务商不存在", code="provider_not_found") from None
    found = ServiceProvider.objects.filter(public_id=public_id).first()
    if found is None:
        raise NotFound("服务商不存在", code="provider_not_found")
    return found


def with_open_tasks(query: QuerySet[ServiceProvider]) -> QuerySet[ServiceProvider]:
    return query.annotate(open_tasks=Count("tasks", filter=Q(tasks__status__in=sorted(OPEN_STATUSES))))


def providers_list(*, region: str = "", kind: str = "", status: str = "") -> list[ServiceProvider]:
    """The operators' list: providers serving `region` (a prefix either way: "44" lists those
    serving 广东 or any part of it), able to take `kind`, in `status`. JSON lists are filtered
    here, not in SQL (SQLite has no JSON containment; the network is hundreds, not millions)."""
    query = with_open_tasks(ServiceProvider.objects.prefetch_related("excluded_insurers"))
    if status:
        query = query.filter(status=status)
    found = []
    for p in query.order_by("name", "id"):
        if kind and kind not in p.capabilities:
            continue
        if region and not any(r.startswith(region) or region.startswith(r) for r in p.regions):
            continue
        found.append(p)
    return found


def candidates() -> list[Candidate]:
    """Every active provider as ranking sees it, with its open workload (two queries)."""
    query = with_open_tasks(
        ServiceProvider.objects.filter(status=ProviderStatus.ACTIVE).prefetch_related("excluded_insurers")
    )
    return [
        Candidate(
            id=p.pk,
            name=p.name,
            capabilities=frozenset(p.capabilities),
            regions=tuple(p.regions),
            open_tasks=int(getattr(p, "open_tasks", 0)),
            active=True,
            excluded_by=frozenset(i.code for i in p.excluded_insurers.all()),
        )
        for p in query
    ]
