"""The bench's policy generator writes what it says: in-force policies with their parties,
monthly schedules with mandates and instalments, the chosen number expiring on the run date."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.utils import timezone

from bench import policies as gen
from huibao.billing.models import Instalment, PremiumSchedule
from huibao.billing.states import InstalmentStatus
from huibao.jobs.models import JobRun
from huibao.jobs.services import run_daily
from huibao.policy.models import Policy, PolicyParty, PolicyStatusChange
from huibao.policy.states import PolicyStatus

pytestmark = pytest.mark.django_db
DAY = datetime.date(2026, 6, 15)


@pytest.fixture(autouse=True)
def _policy_settings(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.HUIBAO_PUBLIC_URL = "https://huibao.example"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SANDBOX_MANDATE_FAILURE_RATE = 0.0


def test_generates_in_force_policies_with_schedules_and_the_chosen_expiries() -> None:
    # given
    spec = gen.Spec(
        count=400, run_date=DAY, expiring=30, starting=20, instalment_share=0.25, overdue=10, chunk=150
    )
    # when
    out = gen.generate(spec, log=lambda _: None)
    # then
    generated = Policy.objects.filter(number__startswith=gen.NUMBER_PREFIX)
    assert out.policies == 400 and generated.count() == 400
    midnight = datetime.datetime.combine(DAY, datetime.time(0), tzinfo=timezone.get_default_timezone())
    assert generated.filter(status=PolicyStatus.IN_FORCE, expires_at=midnight).count() == 30
    assert generated.filter(status=PolicyStatus.PENDING_START, effective_at=midnight).count() == 20
    assert generated.filter(status=PolicyStatus.IN_FORCE).count() == 380
    assert PolicyParty.objects.filter(policy__in=generated).count() == 800
    # the history: issued for each, started for those in force
    assert PolicyStatusChange.objects.filter(policy__in=generated, reason="issued").count() == 400
    assert PolicyStatusChange.objects.filter(policy__in=generated, reason="start").count() == 380
    schedules = PremiumSchedule.objects.filter(reference_id__startswith=gen.NUMBER_PREFIX)
    assert schedules.count() == out.monthly == 100
    assert all(s.mandate_id for s in schedules)
    instalments = Instalment.objects.filter(schedule__in=schedules)
    assert instalments.count() == 1200
    assert instalments.filter(status=InstalmentStatus.DUE, due_on__lt=DAY).count() >= 10
    # the first instalment is paid at checkout, none after the run date
    assert not instalments.filter(status=InstalmentStatus.PAID, due_on__gte=DAY, number__gt=1).exists()
    # and the ORM reads a clone like any policy (keys, encrypted parties)
    clone = generated.order_by("pk").last()
    assert clone is not None and clone.parties.get(role="insured").id_number
    assert out.last_pk == clone.pk


def test_the_daily_run_over_generated_policies_moves_what_the_spec_says() -> None:
    # given
    spec = gen.Spec(
        count=300, run_date=DAY, expiring=25, starting=15, instalment_share=0.2, overdue=6, chunk=100
    )
    gen.generate(spec, log=lambda _: None)
    generated = Policy.objects.filter(number__startswith=gen.NUMBER_PREFIX)
    due_today = Instalment.objects.filter(
        schedule__reference_id__startswith=gen.NUMBER_PREFIX, due_on=DAY, status=InstalmentStatus.DUE
    ).count()
    # when: the whole daily run for the date, at 01:00 that day
    with time_machine.travel(
        datetime.datetime(2026, 6, 15, 1, tzinfo=timezone.get_default_timezone()), tick=False
    ):
        outcomes = run_daily(DAY)
    # then
    assert {o.status for o in outcomes} == {"succeeded"}
    assert generated.filter(status=PolicyStatus.EXPIRED).count() == 25
    assert generated.filter(status=PolicyStatus.PENDING_START).count() == 0
    assert JobRun.objects.get(job="billing.mark_overdue").done >= 6
    assert JobRun.objects.get(job="billing.collect_due").done >= due_today > 0
