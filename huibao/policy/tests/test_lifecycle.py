"""The policy lifecycle: the transition table, the one guarded transition, the history
(`PolicyStatusChange`, `policy_state_at`), and billing moving a monthly policy across its year."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from huibao.application.states import ApplicationStatus
from huibao.billing import services as billing
from huibao.billing.models import PremiumSchedule
from huibao.billing.states import ScheduleStatus
from huibao.billing.tests.factories import deliver_owed, mandate
from huibao.core.errors import InvalidTransition
from huibao.core.models import AuditEntry
from huibao.policy import lifecycle, services
from huibao.policy.models import Policy, PolicyStatusChange
from huibao.policy.states import (
    COVERED_STATUSES,
    LIVE_POLICY_STATUSES,
    POLICY_TRANSITIONS,
    PolicyStatus,
)
from huibao.policy.tests import factories as f

pytestmark = pytest.mark.django_db
P = PolicyStatus
TZ = timezone.get_default_timezone()

# The lifecycle as the issue states it (a change to the table must be a change here too).
EXPECTED = {
    P.PENDING_START: {P.IN_FORCE, P.CANCELLED_COOLING_OFF, P.SURRENDERED, P.TERMINATED},
    P.IN_FORCE: {P.IN_GRACE, P.EXPIRED, P.CANCELLED_COOLING_OFF, P.SURRENDERED, P.TERMINATED},
    P.IN_GRACE: {P.IN_FORCE, P.LAPSED, P.SURRENDERED, P.TERMINATED, P.EXPIRED},
    P.LAPSED: {P.REINSTATED, P.TERMINATED, P.SURRENDERED, P.EXPIRED},
    P.REINSTATED: {P.IN_GRACE, P.EXPIRED, P.SURRENDERED, P.TERMINATED},
    P.EXPIRED: set(),
    P.CANCELLED_COOLING_OFF: set(),
    P.SURRENDERED: set(),
    P.TERMINATED: set(),
}
ALLOWED = sorted((a, b) for a, targets in EXPECTED.items() for b in targets)
FORBIDDEN = sorted((a, b) for a in EXPECTED for b in P.values if b not in EXPECTED[a])


class Heard:
    def __init__(self) -> None:
        self.events: list[lifecycle.PolicyStatusChanged] = []

    def __call__(self, event: lifecycle.PolicyStatusChanged) -> None:
        self.events.append(event)


@pytest.fixture
def heard():
    listener = Heard()
    lifecycle.policy_status_changed.register(listener)
    yield listener
    lifecycle.policy_status_changed.unregister(listener)


def _policy_in(status: str) -> Policy:
    policy = f.simple_issued()
    Policy.objects.filter(pk=policy.pk).update(status=status)
    return Policy.objects.get(pk=policy.pk)


def test_the_table_is_the_lifecycle_of_the_issue() -> None:
    assert set(POLICY_TRANSITIONS) == set(P.values)
    assert {k: set(v) for k, v in POLICY_TRANSITIONS.items()} == EXPECTED
    assert {P.IN_FORCE, P.IN_GRACE, P.REINSTATED} == COVERED_STATUSES
    assert {P.PENDING_START, P.IN_FORCE, P.IN_GRACE, P.REINSTATED} == LIVE_POLICY_STATUSES


@pytest.mark.parametrize(("source", "target"), ALLOWED)
def test_an_allowed_transition_is_saved_recorded_and_announced(source: str, target: str, heard) -> None:
    # given: a policy in `source`
    policy = _policy_in(source)
    at = timezone.now() + datetime.timedelta(minutes=5)
    # when
    with transaction.atomic():
        locked = lifecycle.lock_policy(policy.public_id)
        change = lifecycle.transition(
            locked, target, reason="test_reason", actor="staff:7", at=at, detail={"note": "柜面办理"}
        )
    # then: saved, one history row, one audit entry, one event
    assert Policy.objects.get(pk=policy.pk).status == target
    row = PolicyStatusChange.objects.filter(policy=policy).last()
    assert row is not None and row.pk == change.pk
    assert (row.from_status, row.to_status, row.reason, row.actor, row.note) == (
        source,
        target,
        "test_reason",
        "staff:7",
        "柜面办理",
    )
    assert row.at == at
    entry = AuditEntry.objects.get(action="policy.status_changed", object_id=policy.number)
    assert entry.before == {"status": source}
    assert entry.after["status"] == target and entry.after["reason"] == "test_reason"
    assert entry.actor_label == "staff:7"
    assert [(e.number, e.from_status, e.to_status, e.reason) for e in heard.events] == [
        (policy.number, source, target, "test_reason")
    ]


@pytest.mark.parametrize(("source", "target"), FORBIDDEN)
def test_a_forbidden_transition_changes_nothing(source: str, target: str, heard) -> None:
    policy = _policy_in(source)
    rows = PolicyStatusChange.objects.filter(policy=policy).count()
    with pytest.raises(InvalidTransition), transaction.atomic():
        lifecycle.transition(lifecycle.lock_policy(policy.pk), target, reason="test", actor="system")
    assert Policy.objects.get(pk=policy.pk).status == source
    assert PolicyStatusChange.objects.filter(policy=policy).count() == rows
    assert not AuditEntry.objects.filter(action="policy.status_changed", object_id=policy.number).exists()
    assert heard.events == []


def test_lock_policy_of_an_unknown_policy_is_not_found() -> None:
    from huibao.core.errors import NotFound

    with pytest.raises(NotFound), transaction.atomic():
        lifecycle.lock_policy("00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFound), transaction.atomic():
        lifecycle.lock_policy("not-a-uuid")


def test_issuance_writes_the_first_history_row_and_the_state_at_each_date() -> None:
    # given: a policy issued now, starting later (pending_start)
    policy = f.simple_issued()
    assert policy.status == P.PENDING_START
    first = PolicyStatusChange.objects.get(policy=policy)
    assert (first.from_status, first.to_status, first.reason) == ("", P.PENDING_START, "issued")
    issued = first.at
    assert policy.expires_at is not None
    # when: the sweep starts it at its effective time and ends it at its end
    services.update_policy_statuses(policy.effective_at)
    services.update_policy_statuses(policy.expires_at)
    second = datetime.timedelta(seconds=1)
    # then: the history answers the status at any moment
    assert lifecycle.policy_state_at(policy, issued - second) == ""
    assert lifecycle.policy_state_at(policy, issued) == P.PENDING_START
    assert lifecycle.policy_state_at(policy, policy.effective_at - second) == P.PENDING_START
    assert lifecycle.policy_state_at(policy, policy.effective_at) == P.IN_FORCE
    assert lifecycle.policy_state_at(policy, policy.expires_at - second) == P.IN_FORCE
    assert lifecycle.policy_state_at(policy, policy.expires_at) == P.EXPIRED
    reasons = list(PolicyStatusChange.objects.filter(policy=policy).values_list("reason", flat=True))
    assert reasons == ["issued", "start", "expiry"]
    # a second sweep moves nothing
    assert services.update_policy_statuses(policy.expires_at) == {"in_force": 0, "expired": 0}


@pytest.mark.parametrize("status", [P.IN_GRACE, P.REINSTATED, P.LAPSED])
def test_a_policy_in_grace_reinstated_or_lapsed_also_expires_at_its_end(status: str) -> None:
    policy = _policy_in(status)
    assert policy.expires_at is not None
    assert services.update_policy_statuses(policy.expires_at)["expired"] == 1
    assert Policy.objects.get(pk=policy.pk).status == P.EXPIRED


# --- a monthly policy across its year (billing → lifecycle) ------------------------------------------


@pytest.fixture
def gateway(settings, monkeypatch):
    """The sandbox gateway's notifications delivered through the test client; no injected
    failures unless the test asks."""
    from django.test import Client

    from huibao.payment.tests.factories import client_transport
    from huibao.sandbox import notifications
    from huibao.sandbox import payment as sandbox_payment

    settings.SANDBOX_MANDATE_FAILURE_RATE = 0.0
    monkeypatch.setattr(notifications, "http_post", client_transport(Client()))
    sandbox_payment.MANDATE_FAULTS.force(0)
    yield settings
    sandbox_payment.MANDATE_FAULTS.force(0)


def _at(d: datetime.date, hour: int = 9) -> time_machine.travel:
    return time_machine.travel(datetime.datetime(d.year, d.month, d.day, hour, tzinfo=TZ), tick=False)


def _day(d: datetime.date) -> None:
    """The platform's day: billing's run (overdue, lapse, charges), the gateway's notifications,
    then the policy status sweep."""
    with _at(d):
        billing.run_daily(d)
        deliver_owed()
        services.update_policy_statuses()


def test_a_monthly_policy_year_grace_paid_back_lapse_reinstatement_expiry(gateway) -> None:
    settings = gateway
    # given: a monthly policy whose product states a 30-day grace period, with a mandate
    issued_on = datetime.date(2026, 1, 10)
    with _at(issued_on):
        user = f.customer()
        version = f.product_version()
        version.servicing = {"grace_days": 30}
        version.save(update_fields=["servicing"])
        app = f.application(
            [(version, f.Person(), 500_000, "1200.00", {"term": "1y", "payment_mode": "monthly"})],
            customer=user,
            status=ApplicationStatus.AWAITING_PAYMENT,
        )
        policy = f.issue(app)[0]
        schedule = PremiumSchedule.objects.get(reference_kind="policy", reference_id=policy.number)
        billing.attach_mandate(schedule, mandate(user.pk))
    assert schedule.grace_days == 30  # the product's servicing rules, not the line's 60 days
    due = dict(schedule.instalments.values_list("number", "due_on"))
    start = timezone.localtime(policy.effective_at).date()

    def status() -> str:
        return Policy.objects.get(pk=policy.pk).status

    _day(start)
    assert status() == P.IN_FORCE
    # when: the charge of instalment 2 fails on its due date and the next day
    settings.SANDBOX_MANDATE_FAILURE_RATE = 1.0
    _day(due[2])
    assert status() == P.IN_FORCE  # due today, not overdue yet
    _day(due[2] + datetime.timedelta(days=1))
    # then: in grace from the day after the due date
    assert status() == P.IN_GRACE
    # when: the card has funds again: the next day's charge pays it
    settings.SANDBOX_MANDATE_FAILURE_RATE = 0.0
    _day(due[2] + datetime.timedelta(days=2))
    assert status() == P.IN_FORCE
    # when: instalment 3 stays unpaid past its 30 days of grace
    settings.SANDBOX_MANDATE_FAILURE_RATE = 1.0
    _day(due[3])
    _day(due[3] + datetime.timedelta(days=1))
    assert status() == P.IN_GRACE
    _day(due[3] + datetime.timedelta(days=30))
    assert status() == P.IN_GRACE  # the last day of grace
    lapse_day = due[3] + datetime.timedelta(days=31)
    _day(lapse_day)
    # then: lapsed (效力中止)
    assert status() == P.LAPSED
    schedule.refresh_from_db()
    assert schedule.status == ScheduleStatus.LAPSED
    # when: the customer reinstates 40 days later, paying every premium owed
    settings.SANDBOX_MANDATE_FAILURE_RATE = 0.0
    back = lapse_day + datetime.timedelta(days=40)
    with _at(back):
        quote = billing.reinstate(schedule, back)
        deliver_owed()
    # then: reinstated, the premiums owed paid
    assert quote.numbers == tuple(n for n, d in sorted(due.items()) if n >= 3 and d <= back)
    assert quote.amount == Decimal("100.00") * len(quote.numbers)
    assert status() == P.REINSTATED
    # when: the remaining instalments are collected on their due dates, then the year ends
    for number in sorted(n for n, d in due.items() if d > back):
        _day(due[number])
    assert status() == P.REINSTATED
    assert policy.expires_at is not None
    end = timezone.localtime(policy.expires_at).date()
    _day(end + datetime.timedelta(days=1))
    # then: expired; the history tells the whole year, in order
    assert status() == P.EXPIRED
    history = list(PolicyStatusChange.objects.filter(policy=policy).values_list("to_status", "reason"))
    assert history == [
        (P.PENDING_START, "issued"),
        (P.IN_FORCE, "start"),
        (P.IN_GRACE, "instalment_overdue"),
        (P.IN_FORCE, "overdue_paid"),
        (P.IN_GRACE, "instalment_overdue"),
        (P.LAPSED, "grace_over"),
        (P.REINSTATED, "reinstated"),
        (P.EXPIRED, "expiry"),
    ]

    def on(d: datetime.date, hour: int = 12) -> datetime.datetime:
        return datetime.datetime(d.year, d.month, d.day, hour, tzinfo=TZ)

    assert lifecycle.policy_state_at(policy, on(due[2])) == P.IN_FORCE
    assert lifecycle.policy_state_at(policy, on(due[2] + datetime.timedelta(days=1))) == P.IN_GRACE
    assert lifecycle.policy_state_at(policy, on(due[3] + datetime.timedelta(days=20))) == P.IN_GRACE
    assert lifecycle.policy_state_at(policy, on(lapse_day)) == P.LAPSED
    assert lifecycle.policy_state_at(policy, on(back + datetime.timedelta(days=1))) == P.REINSTATED
    assert lifecycle.policy_state_at(policy, on(end + datetime.timedelta(days=2))) == P.EXPIRED


def test_without_a_servicing_grace_period_the_lines_default_applies() -> None:
    # critical illness: 60 days (the catalog's defaults say long-term health states its own)
    user = f.customer()
    app = f.application(
        [(f.product_version(), f.Person(), 500_000, "1200.00", {"term": "1y", "payment_mode": "monthly"})],
        customer=user,
    )
    policy = f.issue(app)[0]
    assert PremiumSchedule.objects.get(reference_id=policy.number).grace_days == 60


def test_billing_events_that_do_not_apply_change_nothing() -> None:
    # given: a policy lapsed already, and one expired
    lapsed = _policy_in(P.LAPSED)
    expired = _policy_in(P.EXPIRED)
    event = billing.ScheduleEvent(
        reference_kind="policy",
        reference_id=lapsed.number,
        schedule="x",
        status="lapsed",
        on=datetime.date.today(),
    )
    # when: billing announces the lapse again, and a reinstatement of the expired policy
    with transaction.atomic():
        services.on_schedule_lapsed(event)
        services.on_schedule_reinstated(
            billing.ScheduleEvent(
                reference_kind="policy",
                reference_id=expired.number,
                schedule="y",
                status="active",
                on=datetime.date.today(),
            )
        )
    # then: nothing moved
    assert Policy.objects.get(pk=lapsed.pk).status == P.LAPSED
    assert Policy.objects.get(pk=expired.pk).status == P.EXPIRED
    assert not AuditEntry.objects.filter(action="policy.status_changed").exists()


def _monthly_in_force(on: datetime.date) -> Policy:
    """A monthly policy of 1,200.00 a year (no mandate: its instalments stay unpaid), in force."""
    with _at(on):
        app = f.application(
            [
                (
                    f.product_version(),
                    f.Person(),
                    500_000,
                    "1200.00",
                    {"term": "1y", "payment_mode": "monthly"},
                )
            ],
            customer=f.customer(),
            status=ApplicationStatus.AWAITING_PAYMENT,
        )
        policy = f.issue(app)[0]
    with _at(timezone.localtime(policy.effective_at).date()):
        services.update_policy_statuses()
    assert Policy.objects.get(pk=policy.pk).status == P.IN_FORCE
    return Policy.objects.get(pk=policy.pk)


def test_overdue_marks_lock_their_batchs_policies_in_one_read_with_the_same_outcome(heard) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # given: three policies in force and one already in grace, each owing instalments 2 and 3
    # (two marks of each policy in the batch)
    issued_on = datetime.date(2026, 1, 10)
    owes_two = _monthly_in_force(issued_on)
    others = [_monthly_in_force(issued_on) for _ in range(2)]
    in_grace = _monthly_in_force(issued_on)
    with transaction.atomic():
        lifecycle.transition(
            lifecycle.lock_policy(in_grace.pk), P.IN_GRACE, reason="instalment_overdue", actor="test"
        )
    due = dict(
        PremiumSchedule.objects.get(reference_id=owes_two.number).instalments.values_list("number", "due_on")
    )
    day = due[3] + datetime.timedelta(days=1)
    heard.events.clear()
    # when: billing's overdue run marks the eight instalments in one batch
    with _at(day), CaptureQueriesContext(connection) as queries:
        assert billing.mark_overdue(day) == 8
    # then: the outcome one call per mark had: the three in force in grace from the day after
    # instalment 2 fell due, once each; the one in grace already unchanged
    statuses = dict(
        Policy.objects.filter(pk__in=[owes_two.pk, in_grace.pk, *[p.pk for p in others]]).values_list(
            "pk", "status"
        )
    )
    assert set(statuses.values()) == {P.IN_GRACE}
    moved = [owes_two, *others]
    assert [e.number for e in heard.events] == [p.number for p in moved]
    since = datetime.datetime.combine(due[2] + datetime.timedelta(days=1), datetime.time.min, tzinfo=TZ)
    for policy in moved:
        [change] = PolicyStatusChange.objects.filter(policy=policy, to_status=P.IN_GRACE)
        assert change.reason == "instalment_overdue" and change.at == since and change.actor == "billing"
        [entry] = [
            e
            for e in AuditEntry.objects.filter(action="policy.status_changed", object_id=policy.number)
            if e.after.get("status") == P.IN_GRACE
        ]
        assert entry.after["instalment"] == 2 and entry.after["due_on"] == due[2].isoformat()
        assert entry.after["amount"] == "100.00"
    assert PolicyStatusChange.objects.filter(policy=in_grace).count() == 3  # issued, start, grace (by hand)
    # and the batch's policies were read (locked) once, moved by one UPDATE, their history by
    # one read of the latest times and one insert — not one of each per mark
    sql = [q["sql"] for q in queries.captured_queries]
    policy_reads = [
        s
        for s in sql
        if s.startswith("SELECT") and 'FROM "policy_policy"' in s and '"policy_policy"."number" IN' in s
    ]
    assert len(policy_reads) == 1, policy_reads
    if connection.vendor == "postgresql":
        assert sum(1 for s in sql if 'FROM "policy_policy"' in s and "FOR UPDATE" in s) == 1
    assert sum(1 for s in sql if s.startswith('UPDATE "policy_policy" ')) == 1
    assert sum(1 for s in sql if s.startswith('INSERT INTO "policy_policystatuschange"')) == 1
