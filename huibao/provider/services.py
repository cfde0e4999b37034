"""The provider network's use-cases: find and rank providers, assign a task, and the task's
life (accept / decline with automatic re-offer / start / progress note / complete / cancel), the
overdue flag, and the operators' provider management.

Each use-case owns its transaction, locks the task row, writes a `TaskEvent` and an audit row,
and announces `task_changed` (in the transaction: a listener's failure rolls the change back).
The claim app registers on `task_changed` to show a task in the customer's timeline; nothing here
imports it."""

from __future__ import annotations

import datetime
import hashlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from huibao.catalog.models import Insurer
from huibao.core.audit import record, snapshot
from huibao.core.errors import FieldError, InvalidTransition, ValidationFailed
from huibao.core.hooks import Hook
from huibao.core.money import MONEY_MAX_DIGITS, MoneyError, as_decimal
from huibao.core.states import check_transition
from huibao.core.validators import region_of, validate_mobile
from huibao.provider import selectors
from huibao.provider.models import ProviderUser, ServiceProvider, ServiceTask, TaskEvent, TaskFile
from huibao.provider.rules import (
    TaskSubject,
    normalise_region,
    padded,
    rank_providers,
    region_match,
    status_line,
)
from huibao.provider.states import (
    OPEN_STATUSES,
    SLA_HOURS,
    TASK_TRANSITIONS,
    ProviderKind,
    ProviderStatus,
    TaskAction,
    TaskKind,
    TaskStatus,
)

__all__ = ["TaskChanged", "TaskSubject", "assign_task", "find_providers", "task_changed"]

REPORT_MAX = 5000
NOTE_MAX = 1000
REASON_MAX = 200
FILES_MAX = 10
FILE_MAX_BYTES = 10 * 1024 * 1024
DUE_HOURS_MAX = 24 * 30
OBJ = "provider.servicetask"
# Files are accepted by what they contain, never by their name.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


@dataclass(frozen=True, slots=True)
class TaskChanged:
    """What `task_changed` announces: enough for a customer timeline without reading the task."""

    subject_kind: str
    subject_reference: str
    task_id: uuid.UUID
    kind: str
    status: str  # a TaskStatus value, or "unassigned" when a declined task found no next provider
    status_line: str  # Chinese, shown to the customer as is
    provider_name: str
    occurred_at: datetime.datetime
    overdue: bool = False


task_changed: Hook[TaskChanged, None] = Hook("provider.task_changed")


@dataclass(frozen=True, slots=True)
class ProviderInput:
    """An operator's new provider."""

    code: str
    name: str
    kind: str
    capabilities: tuple[str, ...]
    regions: tuple[str, ...]
    licence_number: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    address: str = ""
    excluded_insurers: tuple[str, ...] = field(default=())


# --- checks -------------------------------------------------------------------------------------


def _invalid(field_name: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[FieldError(field_name, code, message)])


def kind_label(kind: str) -> str:
    return str(TaskKind(kind).label) if kind in TaskKind.values else kind


def checked_kind(kind: str, *, field_name: str = "kind") -> str:
    if kind not in TaskKind.values:
        raise _invalid(field_name, "unknown_kind", f"服务类型“{kind}”不存在")
    return kind


def checked_region(code: str, *, field_name: str = "region") -> str:
    """A GB/T 2260 code (2, 4 or 6 digits) of a division that exists, as its prefix."""
    prefix = normalise_region(code)
    if prefix is None:
        raise _invalid(field_name, "region_format", "地区代码格式错误：应为2、4或6位数字（GB/T 2260）")
    if region_of(padded(prefix)) is None:
        raise _invalid(field_name, "unknown_region", f"地区代码“{code}”不存在")
    return prefix


def _checked_due_hours(due_hours: int | None, kind: str) -> int:
    hours = SLA_HOURS[kind] if due_hours is None else due_hours
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= DUE_HOURS_MAX:
        raise _invalid("due_hours", "out_of_range", f"完成时限应为1至{DUE_HOURS_MAX}小时")
    return hours


def _checked_text(value: str, field_name: str, label: str, limit: int, *, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise _invalid(field_name, "required", f"请填写{label}")
    if len(text) > limit:
        raise _invalid(field_name, "too_long", f"{label}最多{limit}字")
    return text


def checked_amount(value: object, *, field_name: str = "assessed_amount") -> Decimal | None:
    """An optional amount in yuan: a number with at most two decimals, not negative."""
    if value is None or value == "":
        return None
    try:
        amount = as_decimal(value)
    except MoneyError:
        raise _invalid(field_name, "invalid", "金额格式错误：应为数字，如 1280.50") from None
    exponent = amount.as_tuple().exponent
    if amount < 0:
        raise _invalid(field_name, "negative", "金额不能为负数")
    if isinstance(exponent, int) and exponent < -2:
        raise _invalid(field_name, "too_precise", "金额最多保留两位小数")
    if amount >= Decimal(10) ** (MONEY_MAX_DIGITS - 2):
        raise _invalid(field_name, "too_large", "金额过大")
    return amount


@dataclass(frozen=True, slots=True)
class _CheckedFile:
    upload: UploadedFile
    name: str
    content_type: str
    size: int
    sha256: str


def _checked_files(files: Sequence[UploadedFile]) -> list[_CheckedFile]:
    if len(files) > FILES_MAX:
        raise _invalid("files", "too_many", f"最多上传{FILES_MAX}个文件")
    checked = []
    for upload in files:
        size = upload.size or 0
        name = (upload.name or "file")[-120:]
        if size > FILE_MAX_BYTES:
            raise _invalid("files", "too_large", f"文件“{name}”超过10MB")
        if size == 0:
            raise _invalid("files", "empty", f"文件“{name}”是空文件")
        upload.seek(0)
        head = upload.read(16)
        content_type = next((ct for sig, ct in _SIGNATURES if head.startswith(sig)), "")
        if not content_type:
            raise _invalid("files", "file_type", f"文件“{name}”不是PDF、JPG或PNG文件")
        digest = hashlib.sha256()
        upload.seek(0)
        for chunk in upload.chunks():
            digest.update(chunk)
        upload.seek(0)
        checked.append(_CheckedFile(upload, name, content_type, size, digest.hexdigest()))
    return checked


# --- ranking and assignment ---------------------------------------------------------------------


def find_providers(
    kind: str, region: str, *, insurer: str = "", skip: Iterable[int] = ()
) -> list[ServiceProvider]:
    """The providers that can take a task of `kind` in `region`, best first (see
    `rules.rank_providers`). Bad kind or region: ValidationFailed naming the field."""
    kind = checked_kind(kind)
    prefix = checked_region(region)
    ranked = rank_providers(
        selectors.candidates(), kind=kind, region=prefix, insurer=insurer, skip=frozenset(skip)
    )
    by_id = ServiceProvider.objects.in_bulk([r.candidate.id for r in ranked])
    return [by_id[r.candidate.id] for r in ranked]


def _check_provider_can(provider: ServiceProvider, kind: str, region: str, insurer: str) -> None:
    if provider.status != ProviderStatus.ACTIVE:
        raise _invalid("provider", "suspended", f"服务商“{provider.name}”已暂停合作")
    if kind not in provider.capabilities:
        raise _invalid("kind", "not_capable", f"服务商“{provider.name}”不提供{kind_label(kind)}服务")
    if not region_match(provider.regions, region):
        raise _invalid("region", "not_served", f"服务商“{provider.name}”不服务该地区")
    if insurer and provider.excluded_insurers.filter(code=insurer).exists():
        raise _invalid("provider", "excluded", f"该保险公司不使用服务商“{provider.name}”")


def _announce(task: ServiceTask, *, status: str | None = None, note: str = "", overdue: bool = False) -> None:
    shown = status or task.status
    task_changed.announce(
        TaskChanged(
            subject_kind=task.subject_kind,
            subject_reference=task.subject_reference,
            task_id=task.public_id,
            kind=task.kind,
            status=shown,
            status_line=status_line(
                shown, kind_label=kind_label(task.kind), provider_name=task.provider.name, note=note
            ),
            provider_name=task.provider.name,
            occurred_at=timezone.now(),
            overdue=overdue,
        )
    )


def _event(task: ServiceTask, action: str, *, actor: Any, note: str = "") -> None:
    TaskEvent.objects.create(
        task=task, action=action, status=task.status, note=note, actor=actor if _is_user(actor) else None
    )


def _is_user(actor: Any) -> bool:
    return actor is not None and getattr(actor, "pk", None) is not None and hasattr(actor, "is_authenticated")


def _offer(
    subject: TaskSubject,
    kind: str,
    provider: ServiceProvider,
    hours: int,
    *,
    actor: Any,
    reoffer_of: ServiceTask | None,
) -> ServiceTask:
    task = ServiceTask.objects.create(
        provider=provider,
        kind=kind,
        subject_kind=subject.kind,
        subject_reference=subject.reference,
        region=subject.region,
        summary=subject.summary,
        insurer_code=subject.insurer,
        due_at=timezone.now() + datetime.timedelta(hours=hours),
        reoffer_of=reoffer_of,
    )
    _event(task, TaskAction.OFFERED, actor=actor)
    record("provider.task.offered", OBJ, str(task.public_id), actor=actor, after=snapshot(task))
    _announce(task)
    return task


def _open_task(subject: TaskSubject, kind: str) -> ServiceTask | None:
    return (
        ServiceTask.objects.select_related("provider")
        .filter(
            subject_kind=subject.kind,
            subject_reference=subject.reference,
            kind=kind,
            status__in=OPEN_STATUSES,
        )
        .first()
    )


def assign_task(
    subject: TaskSubject,
    kind: str,
    provider: ServiceProvider | None = None,
    *,
    due_hours: int | None = None,
    actor: Any = None,
) -> ServiceTask:
    """Offers a task of `kind` about `subject` to `provider`, or to the best match when None.
    Idempotent: while the same subject has an open task of the same kind, that task is returned
    (a retry, or a concurrent call, never makes a second). Refuses, changing nothing: an unknown
    kind or region, a provider that cannot take it (kind, region, suspended, excluded by the
    insurer), no provider at all, a due time out of range."""
    kind = checked_kind(kind)
    region = checked_region(subject.region, field_name="region")
    if not subject.kind or not subject.reference:
        raise _invalid("reference", "required", "请提供任务所属的案件编号")
    if len(subject.reference) > 64 or len(subject.kind) > 32:
        raise _invalid("reference", "too_long", "案件编号过长")
    summary = _checked_text(subject.summary, "summary", "任务说明", REPORT_MAX, required=False)
    subject = TaskSubject(subject.kind, subject.reference, region, summary, subject.insurer)
    hours = _checked_due_hours(due_hours, kind)
    existing = _open_task(subject, kind)
    if existing is not None:
        return existing
    if provider is not None:
        _check_provider_can(provider, kind, region, subject.insurer)
        chosen = provider
    else:
        found = find_providers(kind, region, insurer=subject.insurer)
        if not found:
            raise _invalid("region", "no_provider", f"该地区暂无可提供{kind_label(kind)}服务的服务商")
        chosen = found[0]
    try:
        with transaction.atomic():
            return _offer(subject, kind, chosen, hours, actor=actor, reoffer_of=None)
    except IntegrityError:
        # A concurrent call made the open task first: that one is the answer.
        existing = _open_task(subject, kind)
        if existing is None:
            raise
        return existing


# --- the task's life ----------------------------------------------------------------------------


def _locked(task: ServiceTask) -> ServiceTask:
    return ServiceTask.objects.select_for_update().select_related("provider").get(pk=task.pk)


def _move(
    task: ServiceTask, target: str, action: str, *, actor: Any, note: str = "", fields: Iterable[str] = ()
) -> None:
    """The one guarded status change: checks the table, saves, writes the event and the audit
    row, announces. The caller holds the row lock."""
    before = {"status": task.status}
    check_transition(TASK_TRANSITIONS, task.status, target, what="task")
    task.status = target
    task.save(update_fields=sorted({"status", "updated_at", *fields}))
    _event(task, action, actor=actor, note=note)
    record(
        f"provider.task.{action}",
        OBJ,
        str(task.public_id),
        actor=actor,
        before=before,
        after={"status": target, **({"note": note} if note else {}), **{f: getattr(task, f) for f in fields}},
    )
    _announce(task)


def accept(task: ServiceTask, *, actor: Any) -> ServiceTask:
    with transaction.atomic():
        locked = _locked(task)
        locked.accepted_at = timezone.now()
        _move(locked, TaskStatus.ACCEPTED, TaskAction.ACCEPTED, actor=actor, fields=["accepted_at"])
    return locked


def start(task: ServiceTask, *, actor: Any) -> ServiceTask:
    with transaction.atomic():
        locked = _locked(task)
        locked.started_at = timezone.now()
        _move(locked, TaskStatus.IN_PROGRESS, TaskAction.STARTED, actor=actor, fields=["started_at"])
    return locked


def update(task: ServiceTask, note: str, *, actor: Any) -> ServiceTask:
    """A progress note (到达现场、拖车中…). On an accepted task the first note starts it."""
    text = _checked_text(note, "note", "进度说明", NOTE_MAX, required=True)
    with transaction.atomic():
        locked = _locked(task)
        if locked.status == TaskStatus.ACCEPTED:
            locked.started_at = timezone.now()
            _move(locked, TaskStatus.IN_PROGRESS, TaskAction.STARTED, actor=actor, fields=["started_at"])
        if locked.status != TaskStatus.IN_PROGRESS:
            raise InvalidTransition(f"task: cannot add a note in '{locked.status}'")
        _event(locked, TaskAction.NOTE, actor=actor, note=text)
        record("provider.task.note", OBJ, str(locked.public_id), actor=actor, after={"note": text})
        _announce(locked, note=text)
    return locked


def complete(
    task: ServiceTask,
    *,
    report: str,
    actor: Any,
    assessed_amount: object = None,
    files: Sequence[UploadedFile] = (),
) -> ServiceTask:
    """Closes the task with its report (required), an optional assessed amount (定损金额) and
    files (PDF/JPG/PNG by content, ≤10 MB each, stored through the storage API). Everything is
    checked before anything is written. An accepted task is started first."""
    text = _checked_text(report, "report", "服务报告", REPORT_MAX, required=True)
    amount = checked_amount(assessed_amount)
    checked = _checked_files(files)
    with transaction.atomic():
        locked = _locked(task)
        if locked.status == TaskStatus.ACCEPTED:
            locked.started_at = timezone.now()
            _move(locked, TaskStatus.IN_PROGRESS, TaskAction.STARTED, actor=actor, fields=["started_at"])
        check_transition(TASK_TRANSITIONS, locked.status, TaskStatus.COMPLETED, what="task")
        for f in checked:
            row = TaskFile(
                task=locked,
                name=f.name,
                content_type=f.content_type,
                size=f.size,
                sha256=f.sha256,
                uploaded_by=actor if _is_user(actor) else None,
            )
            row.file.save(f"{uuid.uuid4().hex}{_extension(f.content_type)}", f.upload, save=False)
            row.save()
        locked.report = text
        locked.assessed_amount = amount
        locked.completed_at = timezone.now()
        _move(
            locked,
            TaskStatus.COMPLETED,
            TaskAction.COMPLETED,
            actor=actor,
            fields=["report", "assessed_amount", "completed_at"],
        )
    return locked


def _extension(content_type: str) -> str:
    return {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}.get(content_type, "")


def decline(task: ServiceTask, reason: str, *, actor: Any) -> ServiceTask | None:
    """The provider refuses an offered task (a reason is required). The work is offered at once
    to the next best provider that has not declined it (the new task is returned), or, when
    none is left, announced as unassigned (None) for a person to arrange."""
    text = _checked_text(reason, "reason", "拒单原因", REASON_MAX, required=True)
    with transaction.atomic():
        return _decline_locked(_locked(task), text, actor=actor)


def _decline_locked(locked: ServiceTask, text: str, *, actor: Any) -> ServiceTask | None:
    """`decline` on a task whose row the caller holds locked, in the caller's transaction."""
    locked.decline_reason = text
    locked.closed_at = timezone.now()
    _move(
        locked,
        TaskStatus.DECLINED,
        TaskAction.DECLINED,
        actor=actor,
        note=text,
        fields=["decline_reason", "closed_at"],
    )
    declined = set(
        ServiceTask.objects.filter(
            subject_kind=locked.subject_kind,
            subject_reference=locked.subject_reference,
            kind=locked.kind,
            status=TaskStatus.DECLINED,
        ).values_list("provider_id", flat=True)
    )
    subject = TaskSubject(
        locked.subject_kind, locked.subject_reference, locked.region, locked.summary, locked.insurer_code
    )
    ranked = rank_providers(
        selectors.candidates(),
        kind=locked.kind,
        region=locked.region,
        insurer=locked.insurer_code,
        skip=frozenset(declined),
    )
    if not ranked:
        _announce(locked, status="unassigned")
        return None
    nxt = ServiceProvider.objects.get(pk=ranked[0].candidate.id)
    remaining = max(1, int((locked.due_at - locked.created_at).total_seconds() // 3600))
    return _offer(subject, locked.kind, nxt, remaining, actor=actor, reoffer_of=locked)


def cancel(task: ServiceTask, reason: str, *, actor: Any) -> ServiceTask:
    """The task's owner (an adjuster, the claim withdrawn) calls it off."""
    text = _checked_text(reason, "reason", "取消原因", REASON_MAX, required=True)
    with transaction.atomic():
        locked = _locked(task)
        locked.cancel_reason = text
        locked.closed_at = timezone.now()
        _move(
            locked,
            TaskStatus.CANCELLED,
            TaskAction.CANCELLED,
            actor=actor,
            note=text,
            fields=["cancel_reason", "closed_at"],
        )
    return locked


# --- overdue ------------------------------------------------------------------------------------

BATCH = 200


def flag_overdue(
    now: datetime.datetime | None = None,
    *,
    cursor: int = 0,
    checkpoint: Callable[[int], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Flags every open task past its due time that is not flagged yet: `overdue_at`, an event,
    an audit row, and `task_changed` with `overdue=True` (the claim side's SLA flag). Flagged
    once: running it again changes nothing. Keyset batches by id, each its own transaction, the
    cursor committed with it. Returns the tasks flagged."""
    moment = now or timezone.now()
    flagged = 0
    last = cursor
    while True:
        if stop is not None and stop():
            return flagged
        with transaction.atomic():
            rows = list(
                ServiceTask.objects.select_for_update(skip_locked=True)
                .select_related("provider")
                .filter(pk__gt=last, status__in=OPEN_STATUSES, due_at__lt=moment, overdue_at__isnull=True)
                .order_by("pk")[:BATCH]
            )
            if not rows:
                return flagged
            for task in rows:
                task.overdue_at = moment
                task.save(update_fields=["overdue_at", "updated_at"])
                _event(task, TaskAction.OVERDUE, actor=None)
                record(
                    "provider.task.overdue",
                    OBJ,
                    str(task.public_id),
                    actor=None,
                    after={"overdue_at": moment},
                )
                _announce(task, overdue=True)
                flagged += 1
            last = rows[-1].pk
            if checkpoint is not None:
                checkpoint(last)


# --- provider management (operators) -------------------------------------------------------------


def _checked_provider(data: ProviderInput) -> dict[str, Any]:
    errors: list[FieldError] = []

    def fail(name: str, code: str, message: str) -> None:
        errors.append(FieldError(name, code, message))

    code = data.code.strip()
    if not code or len(code) > 40 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in code):
        fail("code", "invalid", "编码应为1至40位字母、数字、- 或 _")
    elif ServiceProvider.objects.filter(code=code).exists():
        fail("code", "taken", f"编码“{code}”已被使用")
    name = data.name.strip()
    if not name or len(name) > 80:
        fail("name", "required", "请填写服务商名称（最多80字）")
    if data.kind not in ProviderKind.values:
        fail("kind", "invalid", "请选择服务商类型")
    capabilities = sorted(set(data.capabilities))
    unknown = [c for c in capabilities if c not in TaskKind.values]
    if not capabilities:
        fail("capabilities", "required", "请至少选择一项服务能力")
    elif unknown:
        fail("capabilities", "unknown_kind", f"服务类型“{'、'.join(unknown)}”不存在")
    regions: list[str] = []
    if not [r for r in data.regions if r.strip()]:
        fail("regions", "required", "请至少填写一个服务地区代码")
    for raw in data.regions:
        if not raw.strip():
            continue
        try:
            regions.append(checked_region(raw, field_name="regions"))
        except ValidationFailed as exc:
            errors.extend(exc.errors)
            break
    phone = data.contact_phone.strip()
    if phone:
        try:
            phone = validate_mobile(phone, field="contact_phone")
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    email = data.contact_email.strip()
    if email and ("@" not in email or len(email) > 120):
        fail("contact_email", "invalid", "电子邮箱格式错误")
    if len(data.licence_number) > 64:
        fail("licence_number", "too_long", "许可证号最多64位")
    insurers = list(Insurer.objects.filter(code__in=set(data.excluded_insurers)))
    missing = sorted(set(data.excluded_insurers) - {i.code for i in insurers})
    if missing:
        fail("excluded_insurers", "unknown_insurer", f"保险公司“{'、'.join(missing)}”不存在")
    if errors:
        raise ValidationFailed(errors[0].message, errors=errors)
    return {
        "code": code,
        "name": name,
        "kind": data.kind,
        "capabilities": capabilities,
        "regions": sorted(set(regions)),
        "licence_number": data.licence_number.strip(),
        "contact_name": data.contact_name.strip()[:40],
        "contact_phone": phone,
        "contact_email": email,
        "address": data.address.strip()[:200],
        "insurers": insurers,
    }


def create_provider(data: ProviderInput, *, actor: Any) -> ServiceProvider:
    values = _checked_provider(data)
    insurers = values.pop("insurers")
    with transaction.atomic():
        provider = ServiceProvider.objects.create(**values)
        provider.excluded_insurers.set(insurers)
        record(
            "provider.created",
            "provider.serviceprovider",
            str(provider.public_id),
            actor=actor,
            after=snapshot(provider),
        )
    return provider


def set_provider_status(
    provider: ServiceProvider, status: str, *, actor: Any, reason: str = ""
) -> ServiceProvider:
    """Suspends (no new tasks are offered to it; its offered tasks are re-offered to the next
    provider; accepted and in-progress ones stay) or reactivates a provider."""
    if status not in ProviderStatus.values:
        raise _invalid("status", "invalid", "状态无效")
    text = _checked_text(reason, "reason", "原因", REASON_MAX, required=status == ProviderStatus.SUSPENDED)
    with transaction.atomic():
        locked = ServiceProvider.objects.select_for_update().get(pk=provider.pk)
        if locked.status == status:
            return locked
        before = {"status": locked.status}
        locked.status = status
        locked.save(update_fields=["status", "updated_at"])
        if status == ProviderStatus.SUSPENDED:
            # Work it has not accepted yet goes to the next provider at once; accepted work
            # stays with it (a rescue under way is not taken off the road).
            offered = ServiceTask.objects.select_for_update().select_related("provider")
            for task in offered.filter(provider=locked, status=TaskStatus.OFFERED).order_by("pk"):
                _decline_locked(task, f"服务商已暂停合作：{text}"[:REASON_MAX], actor=actor)
        record(
            f"provider.{'suspended' if status == ProviderStatus.SUSPENDED else 'reactivated'}",
            "provider.serviceprovider",
            str(locked.public_id),
            actor=actor,
            before=before,
            after={"status": status, "reason": text},
        )
    return locked


def link_user(user: Any, provider: ServiceProvider, *, actor: Any) -> ProviderUser:
    """Makes `user` (a staff log-in with the "provider" role) one of `provider`'s."""
    with transaction.atomic():
        link, _created = ProviderUser.objects.update_or_create(user=user, defaults={"provider": provider})
        record(
            "provider.user_linked",
            "provider.provideruser",
            str(link.pk),
            actor=actor,
            after={"user": user.pk, "provider": provider.pk},
        )
    return link
