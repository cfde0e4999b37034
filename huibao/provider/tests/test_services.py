"""Assignment, ranking against the database, the task's transitions, decline and re-offer,
completion with files, the overdue job, the hook and the audit rows."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from huibao.core.errors import InvalidTransition, ValidationFailed
from huibao.core.models import AuditEntry
from huibao.jobs import services as jobs
from huibao.provider import services
from huibao.provider.models import ServiceTask, TaskEvent, TaskFile
from huibao.provider.services import TaskChanged, assign_task, find_providers, task_changed
from huibao.provider.states import TaskStatus
from huibao.provider.tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    events: list[TaskChanged] = []
    task_changed.register(events.append)
    yield events
    task_changed.unregister(events.append)


def test_find_providers_ranks_by_region_then_workload_and_respects_insurer():
    # given
    pingan = f.insurer("pingan")
    province = f.provider("广东公估")
    city_busy = f.provider("深圳公估甲", regions=("4403",))
    city_free = f.provider("深圳公估乙", regions=("4403",))
    f.provider("深圳救援", kind="rescue", capabilities=("rescue",), regions=("4403",))
    f.provider("暂停公估", regions=("4403",), status="suspended")
    excluded = f.provider("被排除公估", regions=("440305",), excluded=(pingan,))
    f.task(city_busy)
    # when
    ranked = find_providers("survey", "440305", insurer="pingan")
    # then
    assert [p.name for p in ranked] == [city_free.name, city_busy.name, province.name]
    assert excluded in find_providers("survey", "440305", insurer="cpic")


def test_assign_task_offers_the_best_match_with_sla_and_is_idempotent(heard):
    # given
    best = f.provider("深圳公估", regions=("4403",))
    f.provider("广东公估")
    # when
    with time_machine.travel(datetime.datetime(2026, 5, 1, 9, 0, tzinfo=datetime.UTC), tick=False):
        task = assign_task(f.subject("CLM-1"), "survey")
        again = assign_task(f.subject("CLM-1"), "survey")
    # then
    assert task.provider == best and task.status == TaskStatus.OFFERED
    assert task.due_at == datetime.datetime(2026, 5, 2, 9, 0, tzinfo=datetime.UTC)  # survey: 24 h
    assert again.pk == task.pk and ServiceTask.objects.count() == 1
    assert [e.status for e in heard] == ["offered"]
    assert heard[0].subject_reference == "CLM-1" and heard[0].provider_name == "深圳公估"
    assert "等待服务商接单" in heard[0].status_line
    assert (
        AuditEntry.objects.filter(action="provider.task.offered", object_id=str(task.public_id)).count() == 1
    )
    assert list(task.events.values_list("action", flat=True)) == ["offered"]


@pytest.mark.parametrize(
    ("kwargs", "field", "code"),
    [
        ({"kind": "rescue"}, "kind", "not_capable"),
        ({"kind": "teleport"}, "kind", "unknown_kind"),
        ({"region": "999900"}, "region", "unknown_region"),
        ({"region": "44x"}, "region", "region_format"),
        ({"region": "310101"}, "region", "not_served"),
        ({"due_hours": 0}, "due_hours", "out_of_range"),
    ],
)
def test_assign_task_refuses_bad_input_naming_the_field_and_changes_nothing(heard, kwargs, field, code):
    # given: an assessor serving 广东 that does surveys and assessments only
    assessor = f.provider()
    kind = kwargs.pop("kind", "survey")
    region = kwargs.pop("region", "440305")
    # when
    with pytest.raises(ValidationFailed) as exc:
        assign_task(f.subject(region=region), kind, assessor, **kwargs)
    # then
    assert [(e.field, e.code) for e in exc.value.errors] == [(field, code)]
    assert exc.value.errors[0].message  # Chinese, for the page
    assert ServiceTask.objects.count() == 0 and TaskEvent.objects.count() == 0 and heard == []


def test_assign_task_without_any_provider_in_region_is_refused():
    f.provider(regions=("31",))
    with pytest.raises(ValidationFailed) as exc:
        assign_task(f.subject(region="440305"), "survey")
    assert exc.value.errors[0].field == "region" and exc.value.errors[0].code == "no_provider"
    assert not ServiceTask.objects.exists()


def test_assign_task_refuses_suspended_or_excluded_provider():
    pingan = f.insurer("pingan")
    with pytest.raises(ValidationFailed) as exc:
        assign_task(f.subject(), "survey", f.provider(status="suspended"))
    assert exc.value.errors[0].code == "suspended"
    with pytest.raises(ValidationFailed) as exc:
        assign_task(f.subject(insurer="pingan"), "survey", f.provider(excluded=(pingan,)))
    assert exc.value.errors[0].code == "excluded"
    assert not ServiceTask.objects.exists()


def test_decline_reoffers_to_the_next_provider_and_finally_reports_unassigned(heard):
    # given: two providers, the nearer one first
    near = f.provider("深圳公估", regions=("4403",))
    far = f.provider("广东公估")
    first = assign_task(f.subject("CLM-9"), "survey")
    assert first.provider == near
    # when: the first declines
    second = services.decline(first, "人手不足", actor=None)
    # then: the work goes to the other provider as a new task linked to the first
    first.refresh_from_db()
    assert first.status == TaskStatus.DECLINED and first.decline_reason == "人手不足"
    assert second is not None and second.provider == far and second.reoffer_of == first
    assert second.status == TaskStatus.OFFERED
    # when: the second declines too, nobody is left (the first never gets it back)
    third = services.decline(second, "不在服务范围", actor=None)
    # then
    assert third is None
    assert [e.status for e in heard] == ["offered", "declined", "offered", "declined", "unassigned"]
    assert "人工安排" in heard[-1].status_line
    assert ServiceTask.objects.filter(subject_reference="CLM-9").count() == 2


def test_decline_needs_a_reason_and_changes_nothing_without_one():
    task = f.task(f.provider())
    with pytest.raises(ValidationFailed) as exc:
        services.decline(task, "  ", actor=None)
    assert exc.value.errors[0].field == "reason"
    task.refresh_from_db()
    assert task.status == TaskStatus.OFFERED and task.events.count() == 1


def test_life_of_a_task_records_each_step(heard):
    # given
    task = f.task(f.provider(), kind="assessment")
    # when
    services.accept(task, actor=None)
    services.update(task, "已到达现场", actor=None)
    services.update(task, "正在拆检", actor=None)
    done = services.complete(
        task,
        report="前保险杠、左大灯损坏，建议更换。",
        assessed_amount="3280.50",
        files=[f.upload(), f.upload("scene.jpg", f.JPEG, "image/jpeg")],
        actor=None,
    )
    # then
    assert done.status == TaskStatus.COMPLETED and done.assessed_amount == Decimal("3280.50")
    assert done.accepted_at and done.started_at and done.completed_at
    assert list(done.events.values_list("action", flat=True)) == [
        "offered",
        "accepted",
        "started",
        "note",
        "note",
        "completed",
    ]
    files = list(TaskFile.objects.filter(task=done))
    assert [(x.name, x.content_type) for x in files] == [
        ("report.pdf", "application/pdf"),
        ("scene.jpg", "image/jpeg"),
    ]
    assert files[0].file.read().startswith(b"%PDF-")
    assert [e.status for e in heard] == [
        "offered",
        "accepted",
        "in_progress",
        "in_progress",
        "in_progress",
        "completed",
    ]
    assert "已到达现场" in heard[3].status_line
    actions = set(AuditEntry.objects.filter(object_id=str(task.public_id)).values_list("action", flat=True))
    assert actions == {
        "provider.task.offered",
        "provider.task.accepted",
        "provider.task.started",
        "provider.task.note",
        "provider.task.completed",
    }


@pytest.mark.parametrize(
    ("steps", "move"),
    [
        ([], "start"),
        ([], "complete"),
        (["accept"], "accept"),
        (["accept", "start", "complete"], "accept"),
        (["accept", "start", "complete"], "cancel"),
        (["cancel"], "accept"),
        ([], "update"),
    ],
)
def test_invalid_moves_are_refused_and_change_nothing(steps, move):
    # given
    task = f.task(f.provider())
    run = {
        "accept": lambda: services.accept(task, actor=None),
        "start": lambda: services.start(task, actor=None),
        "complete": lambda: services.complete(task, report="完成", actor=None),
        "cancel": lambda: services.cancel(task, "案件撤销", actor=None),
        "update": lambda: services.update(task, "进度", actor=None),
    }
    for step in steps:
        run[step]()
    task.refresh_from_db()
    before = (task.status, task.events.count())
    # when / then
    with pytest.raises(InvalidTransition):
        run[move]()
    task.refresh_from_db()
    assert (task.status, task.events.count()) == before


@pytest.mark.parametrize(
    ("kwargs", "field", "code"),
    [
        ({"report": ""}, "report", "required"),
        ({"assessed_amount": "-1"}, "assessed_amount", "negative"),
        ({"assessed_amount": "12.345"}, "assessed_amount", "too_precise"),
        ({"assessed_amount": "abc"}, "assessed_amount", "invalid"),
        ({"files": "exe"}, "files", "file_type"),
    ],
)
def test_complete_refuses_bad_report_and_writes_nothing(kwargs, field, code):
    # given
    task = f.task(f.provider())
    services.accept(task, actor=None)
    args = {"report": "已完成查勘", "actor": None, **kwargs}
    if args.get("files") == "exe":
        # a program named like a photo: refused by its content
        args["files"] = [f.upload(), f.upload("photo.jpg", b"MZ\x90\x00" + b"\x00" * 40, "image/jpeg")]
    # when
    with pytest.raises(ValidationFailed) as exc:
        services.complete(task, **args)
    # then
    assert (exc.value.errors[0].field, exc.value.errors[0].code) == (field, code)
    task.refresh_from_db()
    assert task.status == TaskStatus.ACCEPTED and not TaskFile.objects.exists() and task.report == ""


def test_overdue_job_flags_once():
    # given: a rescue due in 2 hours and a survey due in 24
    rescue = f.task(f.provider(kind="rescue", capabilities=("rescue",)), kind="rescue")
    survey = f.task(f.provider())
    flagged: list[TaskChanged] = []
    task_changed.register(flagged.append)
    try:
        later = timezone.now() + datetime.timedelta(hours=3)
        with time_machine.travel(later, tick=False):
            day = timezone.localdate()
            # when: the daily run, twice for the same day, and the function once more
            first = jobs.run_daily(day, only=["provider.overdue"])
            again = jobs.run_daily(day, only=["provider.overdue"])
            assert services.flag_overdue() == 0
    finally:
        task_changed.unregister(flagged.append)
    # then
    assert [o.status for o in first] == ["succeeded"]
    assert [o.status for o in again] == ["skipped"]
    rescue.refresh_from_db()
    survey.refresh_from_db()
    assert rescue.overdue_at is not None and survey.overdue_at is None
    assert rescue.events.filter(action="overdue").count() == 1
    assert [(e.task_id, e.overdue) for e in flagged] == [(rescue.public_id, True)]


def test_overdue_skips_finished_tasks():
    task = f.task(f.provider())
    services.cancel(task, "案件撤销", actor=None)
    assert services.flag_overdue(timezone.now() + datetime.timedelta(days=5)) == 0


def test_create_provider_checks_every_field_and_writes_nothing_on_error():
    # given
    op = f.staff("operator")
    bad = services.ProviderInput(
        code="new one!",
        name="",
        kind="magic",
        capabilities=("survey", "teleport"),
        regions=("999900",),
        contact_phone="123",
        excluded_insurers=("nobody",),
    )
    # when
    with pytest.raises(ValidationFailed) as exc:
        services.create_provider(bad, actor=op)
    # then
    assert {e.field for e in exc.value.errors} == {
        "code",
        "name",
        "kind",
        "capabilities",
        "regions",
        "contact_phone",
        "excluded_insurers",
    }
    from huibao.provider.models import ServiceProvider

    assert not ServiceProvider.objects.exists()


def test_create_and_suspend_provider():
    op = f.staff("operator")
    created = services.create_provider(
        services.ProviderInput(
            code="gz-rescue",
            name="广州道路救援",
            kind="rescue",
            capabilities=("rescue", "rescue"),
            regions=("440100", "440300"),
            contact_phone="13912345678",
            excluded_insurers=(f.insurer("cpic").code,),
        ),
        actor=op,
    )
    assert created.capabilities == ["rescue"] and created.regions == ["4401", "4403"]
    assert created.contact_phone == "13912345678"
    assert find_providers("rescue", "440106") == [created]
    services.set_provider_status(created, "suspended", actor=op, reason="投诉核查中")
    assert find_providers("rescue", "440106") == []
    assert AuditEntry.objects.filter(action="provider.suspended", object_id=str(created.public_id)).exists()
    with pytest.raises(ValidationFailed):
        services.set_provider_status(created, "active", actor=op, reason="x" * 201)


def test_overdue_resumes_after_its_cursor_and_commits_it_per_batch():
    # given: three overdue tasks; a run that got to the first one before it stopped
    tasks = [f.task(f.provider(kind="rescue", capabilities=("rescue",)), kind="rescue") for _ in range(3)]
    later = timezone.now() + datetime.timedelta(hours=3)
    saved: list[int] = []
    # when
    flagged = services.flag_overdue(later, cursor=tasks[0].pk, checkpoint=saved.append)
    # then
    assert flagged == 2 and saved == [tasks[2].pk]
    assert [ServiceTask.objects.get(pk=t.pk).overdue_at is not None for t in tasks] == [False, True, True]


def test_a_failing_listener_rolls_the_change_back():
    # given
    task = f.task(f.provider())

    def broken(event: TaskChanged) -> None:
        raise RuntimeError("timeline down")

    task_changed.register(broken)
    try:
        # when
        with pytest.raises(RuntimeError):
            services.accept(task, actor=None)
    finally:
        task_changed.unregister(broken)
    # then
    task.refresh_from_db()
    assert task.status == TaskStatus.OFFERED and task.events.count() == 1


def test_suspending_a_provider_reoffers_what_it_has_not_accepted():
    # given: a provider with one offered and one accepted task, and another provider nearby
    op = f.staff("operator")
    first = f.provider("深圳公估", regions=("4403",))
    other = f.provider("广东公估")
    offered = f.task(first, reference="CLM-S1")
    accepted = services.accept(f.task(first, reference="CLM-S2"), actor=None)
    # when
    services.set_provider_status(
        first, "suspended", actor=op, reason="资质" * 100
    )  # 200: the prefixed note is cut to fit
    # then
    offered.refresh_from_db()
    accepted.refresh_from_db()
    assert offered.status == TaskStatus.DECLINED and offered.decline_reason.startswith("服务商已暂停合作：")
    assert ServiceTask.objects.get(reoffer_of=offered).provider == other
    assert accepted.status == TaskStatus.ACCEPTED and accepted.provider == first
