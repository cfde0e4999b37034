"""The adjuster's review: assignment (region, type, workload; by hand), the queue with the SLA
flag (time-machine), insurer isolation, more information asked for, investigation by a provider
whose task changes come back on the timeline."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from huibao.claim import insurer, selectors
from huibao.claim.models import ClaimStatusChange, InsurerClaimSettings
from huibao.claim.selectors import QueueFilters
from huibao.claim.services import submit_claim, upload_material
from huibao.claim.services.review import assign, request_info, send_to_investigation, start_review
from huibao.claim.states import ClaimStatus
from huibao.claim.tests.adjud_factories import adjuster, at, complete_claim, under_review
from huibao.claim.tests.factories import jpeg
from huibao.core.errors import Conflict, NotFound, ValidationFailed
from huibao.provider import services as provider_services
from huibao.provider.models import ServiceTask
from huibao.provider.tests.factories import provider

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _other_insurer():
    from huibao.catalog.models import Insurer

    return Insurer.objects.get_or_create(
        code="other-ins", defaults={"name": "另一家保险公司", "short_name": "另一家", "kind": "property"}
    )[0]


def test_complete_materials_go_to_the_matching_desk_with_the_least_work():
    # given: shanghai medical adjusters, one busy; a beijing one; an agency generalist
    busy = adjuster("busy", regions=["31"], claim_types=["medical"])
    free = adjuster("free", regions=["31"], claim_types=["medical"])
    adjuster("beijing", regions=["11"])
    first = complete_claim()
    assert first.assigned_to_id == busy.pk  # nobody had work: the first desk
    # when
    second = complete_claim(first.policy, incident_date=first.incident_date + datetime.timedelta(days=1))
    # then: the one without open claims gets the next
    assert second.assigned_to_id == free.pk and second.assigned_at is not None


def test_an_insurers_own_adjusters_are_preferred_and_others_insurers_never_assigned():
    # given
    agency = adjuster("agency")
    outsider = adjuster("outsider", insurer=_other_insurer())
    claim = complete_claim()
    assert claim.assigned_to_id == agency.pk
    own = adjuster("own", insurer=claim.insurer)
    # when
    later = complete_claim(claim.policy, incident_date=claim.incident_date + datetime.timedelta(days=1))
    # then
    assert later.insurer_id == claim.insurer_id and later.assigned_to_id == own.pk
    with pytest.raises(ValidationFailed) as exc:
        assign(claim, to=outsider, actor=agency)
    assert exc.value.errors[0].field == "assignee"
    assert assign(claim, to=own, actor=agency).assigned_to_id == own.pk


def test_an_insurers_adjuster_sees_only_that_insurers_claims():
    # given
    claim = complete_claim()
    agency = adjuster("agency")
    outsider = adjuster("outsider", insurer=_other_insurer())
    own = adjuster("own", insurer=claim.insurer)
    # then
    assert selectors.claim_for_desk(agency, claim.public_id) == claim
    assert selectors.claim_for_desk(own, claim.public_id) == claim
    with pytest.raises(NotFound):
        selectors.claim_for_desk(outsider, claim.public_id)
    assert [r.claim for r in selectors.queue(outsider, QueueFilters())] == []
    assert [r.claim for r in selectors.queue(own, QueueFilters())] == [claim]
    with pytest.raises(NotFound):
        start_review(claim, actor=outsider)


def test_the_queue_flags_claims_past_the_insurers_promised_time():
    # given: materials complete on day 130 of the policy
    claim = complete_claim()
    alice = adjuster("alice")
    completed = claim.materials_complete_at
    assert completed is not None
    # when / then: day 29 is in time, day 31 is late (30 days by default)
    with time_machine.travel(completed + datetime.timedelta(days=29), tick=False):
        row = selectors.queue(alice, QueueFilters())[0]
        assert not row.overdue and row.due == completed + datetime.timedelta(days=30)
        assert row.waiting == datetime.timedelta(days=29)
        assert selectors.queue(alice, QueueFilters(overdue=True)) == []
    with time_machine.travel(completed + datetime.timedelta(days=31), tick=False):
        assert selectors.queue(alice, QueueFilters(overdue=True))[0].overdue
    # an insurer promising 10 days is late on day 11
    InsurerClaimSettings.objects.create(insurer=claim.insurer, decision_days=10)
    with time_machine.travel(completed + datetime.timedelta(days=11), tick=False):
        assert selectors.queue(alice, QueueFilters())[0].overdue


def test_the_decision_clock_stops_while_more_information_is_asked_of_the_customer():
    # given: materials complete (30 days promised), more information asked on day 10
    claim = under_review(complete_claim())
    alice = adjuster("alice")
    completed = claim.materials_complete_at
    assert completed is not None
    with time_machine.travel(completed + datetime.timedelta(days=10), tick=False):
        request_info(claim, kinds=["diagnosis"], note="", actor=alice)
    # when: still not supplied on day 40 — the clock is stopped, nothing is late
    with time_machine.travel(completed + datetime.timedelta(days=40), tick=False):
        claim.refresh_from_db()
        assert not selectors.is_overdue(claim)
        assert selectors.queue(alice, QueueFilters(overdue=True)) == []
        assert selectors.decision_due(claim) == completed + datetime.timedelta(days=60)
    # when: the customer supplies it on day 45 (35 days paused)
    with time_machine.travel(completed + datetime.timedelta(days=45), tick=False):
        upload_material(claim.claimant, claim.public_id, kind="diagnosis", file=io.BytesIO(jpeg("green")))
        submit_claim(claim.claimant, claim.public_id)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW
    assert claim.sla_paused == datetime.timedelta(days=35) and claim.sla_paused_since is None
    # then: due 30 + 35 days after completion — in time on day 64, late on day 66
    assert selectors.decision_due(claim) == completed + datetime.timedelta(days=65)
    with time_machine.travel(completed + datetime.timedelta(days=64), tick=False):
        assert not selectors.queue(alice, QueueFilters())[0].overdue
        assert insurer.flag_overdue() == []
    with time_machine.travel(completed + datetime.timedelta(days=66), tick=False):
        assert selectors.queue(alice, QueueFilters(overdue=True))[0].overdue
        assert [row.claim_id for row in insurer.flag_overdue()] == [claim.pk]


def test_queue_filters_by_type_region_status_and_assignment():
    # given
    alice = adjuster("alice")
    claim = complete_claim()
    # then
    assert len(selectors.queue(alice, QueueFilters(claim_type="medical"))) == 1
    assert selectors.queue(alice, QueueFilters(claim_type="auto")) == []
    assert len(selectors.queue(alice, QueueFilters(region="31"))) == 1
    assert selectors.queue(alice, QueueFilters(region="44")) == []
    assert len(selectors.queue(alice, QueueFilters(status="under_review"))) == 1  # triaged
    assert selectors.queue(alice, QueueFilters(status="materials_complete")) == []
    assert len(selectors.queue(alice, QueueFilters(assigned="me"))) == 1  # auto-assigned to alice
    assert selectors.queue(alice, QueueFilters(assigned="none")) == []
    assert selectors.queue(alice, QueueFilters(insurer="nope")) == []
    assert claim.assigned_to_id == alice.pk


def test_more_information_is_asked_for_and_the_customer_must_upload_it_before_resubmitting():
    # given
    alice = adjuster("alice")
    claim = under_review(complete_claim())
    owner = claim.claimant
    # bad input changes nothing
    with pytest.raises(ValidationFailed) as exc:
        request_info(claim, kinds=["nonsense"], note="", actor=alice)
    assert exc.value.errors[0].field == "kinds"
    with pytest.raises(ValidationFailed):
        request_info(claim, kinds=[], note="  ", actor=alice)
    # when
    asked = request_info(claim, kinds=["diagnosis"], note="请上传出院小结", actor=alice)
    # then
    assert asked.status == ClaimStatus.INFO_REQUESTED
    step = ClaimStatusChange.objects.filter(claim=claim).order_by("-id").first()
    assert step is not None and step.note == "请补充：诊断证明；请上传出院小结"
    with pytest.raises(ValidationFailed) as exc:
        submit_claim(owner, claim.public_id)
    assert "诊断证明" in exc.value.message
    upload_material(owner, claim.public_id, kind="diagnosis", file=io.BytesIO(jpeg("green")))
    assert submit_claim(owner, claim.public_id).status == ClaimStatus.UNDER_REVIEW


def test_investigation_by_a_provider_comes_back_on_the_timeline_and_returns_to_review():
    # given
    alice = adjuster("alice")
    claim = under_review(complete_claim())
    assessor = provider("上海公估", regions=("31",), capabilities=("survey", "medical_review"))
    # refused by the provider app (nobody does rescue in Shanghai): nothing changes
    with pytest.raises(ValidationFailed):
        send_to_investigation(claim, task_kind="rescue", summary="现场救援", actor=alice)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW
    # when
    task = send_to_investigation(claim, task_kind="medical_review", summary="核实住院病历", actor=alice)
    # then
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.INVESTIGATING and task.provider == assessor
    assert task.subject_reference == claim.number
    # when: the provider accepts and completes
    worker = provider_services.accept(task, actor="provider")
    provider_services.complete(ServiceTask.objects.get(pk=worker.pk), report="病历真实", actor="provider")
    # then
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.UNDER_REVIEW
    lines = list(
        ClaimStatusChange.objects.filter(claim=claim).order_by("id").values_list("to_status", "actor")
    )
    provider_lines = [a for _s, a in lines if a.startswith("provider:")]
    assert len(provider_lines) >= 2
    assert lines[-1] == ("under_review", "system")


def test_withdrawing_a_claim_under_investigation_calls_off_the_providers_task():
    # given
    from huibao.claim.services import withdraw_claim

    alice = adjuster("alice")
    claim = under_review(complete_claim())
    provider("上海公估", regions=("31",), capabilities=("survey",))
    task = send_to_investigation(claim, task_kind="survey", summary="现场查勘", actor=alice)
    # when
    withdraw_claim(claim.claimant, claim.public_id, reason="已私下解决")
    # then
    task.refresh_from_db()
    claim.refresh_from_db()
    assert task.status == "cancelled" and task.cancel_reason == "客户已撤销报案"
    assert claim.status == ClaimStatus.WITHDRAWN


def test_review_starts_only_from_complete_materials():
    # given: a claim at complete materials that the triage has not queued yet
    from django.db import transaction

    from huibao.claim.lifecycle import lock_claim, transition

    alice = adjuster("alice")
    claim = complete_claim()
    with transaction.atomic():
        locked = lock_claim(claim.public_id)
        transition(locked, ClaimStatus.INFO_REQUESTED, actor=alice)
    with pytest.raises(Conflict):  # asking for information is not complete materials
        start_review(claim, actor=alice)
    claim.refresh_from_db()
    claim.status = ClaimStatus.MATERIALS_COMPLETE  # as the submit leaves it before the triage
    claim.save(update_fields=["status"])
    # when
    started = start_review(claim, actor=alice)
    # then
    assert started.status == ClaimStatus.UNDER_REVIEW
    with pytest.raises(Conflict):
        start_review(claim, actor=alice)


def test_desk_stats_count_automatic_decisions_and_report_to_payment():
    # given
    from huibao.claim.decisions import Decision, decide
    from huibao.claim.states import DecisionKind
    from huibao.claim.tests.adjud_factories import bank_result

    alice = adjuster("alice")
    small = complete_claim(amount_claimed=Decimal("500.00"))
    assert small.auto_decided  # the fast track decided it at the submit
    with at(small.policy, 130):
        bank_result(small)
    other = under_review(complete_claim())
    decide(other, Decision(DecisionKind.DENY, reason_code="other"), actor=alice)
    # when
    stats = selectors.desk_stats(alice)
    # then
    assert (stats.decided, stats.automatic, stats.paid) == (2, 1, 1)
    assert stats.automatic_share == 0.5 and stats.report_to_paid_hours is not None
    assert timezone.now()  # the clock is real here


def test_demo_desks_are_created_once_and_printed():
    # given
    from django.core.management import call_command

    from huibao.claim.models import ClaimsDesk

    insurer = _other_insurer()
    out = io.StringIO()
    # when
    call_command("load_demo_desks", stdout=out)
    call_command("load_demo_desks", stdout=io.StringIO())
    # then
    desks = {d.user.username: d for d in ClaimsDesk.objects.select_related("user")}
    assert {"adjuster_agency", "adjuster_insurer", "adjuster_senior"} <= set(desks)
    assert desks["adjuster_senior"].senior and desks["adjuster_agency"].insurer is None
    assert desks["adjuster_insurer"].insurer is not None
    assert "adjuster_insurer" in out.getvalue() and "TOTP secret" in out.getvalue()
    assert InsurerClaimSettings.objects.filter(decision_days=15).count() == 1
    assert insurer.pk
