"""Billing across a policy year (time-machine): monthly collection, retries, overdue, lapse,
reinstatement; idempotency."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from huibao.billing import services
from huibao.billing.errors import NotReinstatable
from huibao.billing.models import Collection, Instalment, PremiumSchedule
from huibao.billing.states import CollectionStatus, InstalmentStatus, ScheduleStatus
from huibao.billing.tests import factories as f
from huibao.core.models import AuditEntry
from huibao.payment.models import Payment
from huibao.sandbox import payment as sandbox_payment

pytestmark = pytest.mark.django_db
D = Decimal
TZ = timezone.get_default_timezone()


def at(d: datetime.date, hour: int = 9) -> time_machine.travel:
    return time_machine.travel(datetime.datetime(d.year, d.month, d.day, hour, tzinfo=TZ), tick=False)


def run(d: datetime.date) -> services.DailyRun:
    with at(d):
        result = services.run_daily(d)
        f.deliver_owed()
    return result


def statuses(schedule: PremiumSchedule) -> list[str]:
    return list(schedule.instalments.order_by("number").values_list("status", flat=True))


def test_schedule_at_issuance_records_the_first_instalment_paid() -> None:
    # given / when
    with at(datetime.date(2026, 1, 31)):
        schedule = f.schedule(start=datetime.date(2026, 1, 31), premium="1000.00")
    # then
    rows = list(schedule.instalments.order_by("number"))
    assert len(rows) == 12 and sum(r.amount for r in rows) == D("1000.00") == schedule.total
    assert rows[0].status == InstalmentStatus.PAID and rows[0].payment_reference == "HBCHECKOUT1"
    assert rows[0].amount == D("83.33") and rows[-1].amount == D("83.37")
    assert rows[1].due_on == datetime.date(2026, 2, 28) and rows[2].due_on == datetime.date(2026, 3, 31)
    assert AuditEntry.objects.filter(
        action="billing.schedule_created", object_id=str(schedule.public_id)
    ).exists()


def test_annual_schedule_is_paid_in_full_at_checkout() -> None:
    with at(datetime.date(2026, 3, 1)):
        schedule = f.schedule(start=datetime.date(2026, 3, 1), mode="annual")
    assert schedule.status == ScheduleStatus.COMPLETED and statuses(schedule) == ["paid"]


def test_monthly_collection_on_due_dates_across_a_year(heard) -> None:
    # given: a monthly schedule from 31 Jan with a mandate
    start = datetime.date(2026, 1, 31)
    with at(start):
        schedule = f.schedule(start=start)
    due_dates = list(schedule.instalments.order_by("number").values_list("due_on", flat=True))
    # when: the daily run on every day of the year (the day before each due date charges nothing)
    charged_before_due = run(due_dates[1] - datetime.timedelta(days=1)).charged
    for d in due_dates[1:]:
        assert run(d).charged == 1
    # then: every instalment paid on its due date, each by its own mandate charge
    schedule.refresh_from_db()
    assert charged_before_due == 0
    assert statuses(schedule) == ["paid"] * 12 and schedule.status == ScheduleStatus.COMPLETED
    charges = Payment.objects.filter(reference_kind=services.COLLECTION_KIND, status="succeeded")
    assert charges.count() == 11 and sum(p.amount for p in charges) == D("1100.00")
    paid_days = [timezone.localdate(i.paid_at) for i in schedule.instalments.order_by("number")[1:]]
    assert paid_days == due_dates[1:]
    assert [e.number for e in heard["paid"].events] == list(range(2, 13))
    assert heard["overdue"].events == [] and heard["lapsed"].events == []


def test_a_run_repeated_the_same_day_charges_once() -> None:
    start = datetime.date(2026, 1, 10)
    with at(start):
        schedule = f.schedule(start=start)
    day = datetime.date(2026, 2, 10)
    with at(day):
        first = services.collect_due(day)
        again = services.collect_due(day)  # the notification has not arrived yet
        f.deliver_owed()
        after = services.collect_due(day)  # paid: nothing left to charge
    assert (first, again, after) == (1, 0, 0)
    assert Payment.objects.filter(reference_kind=services.COLLECTION_KIND).count() == 1
    assert statuses(schedule)[1] == "paid"


def test_a_failed_charge_is_retried_the_next_day(heard) -> None:
    # given: the first charge of instalment 2 fails for insufficient funds
    start = datetime.date(2026, 1, 10)
    with at(start):
        schedule = f.schedule(start=start)
    sandbox_payment.MANDATE_FAULTS.force(1)
    # when
    first = run(datetime.date(2026, 2, 10))
    same_day = run(datetime.date(2026, 2, 10))
    # then: failed, instalment still due, not charged twice that day
    assert first.charged == 1 and same_day.charged == 0
    failed = Collection.objects.get()
    assert failed.status == CollectionStatus.FAILED and failed.reason == "insufficient_funds"
    assert statuses(schedule)[1] == InstalmentStatus.DUE
    assert [(e.number, e.reason) for e in heard["failed"].events] == [(2, "insufficient_funds")]
    # when: the next day
    next_day = run(datetime.date(2026, 2, 11))
    # then: overdue since yesterday, charged again and paid
    assert (next_day.overdue, next_day.charged) == (1, 1)
    assert statuses(schedule)[1] == InstalmentStatus.PAID
    assert [e.number for e in heard["overdue"].events] == [2]
    assert Collection.objects.filter(status=CollectionStatus.SUCCEEDED).count() == 1


def test_a_mandate_revoked_at_the_bank_fails_the_charge() -> None:
    start = datetime.date(2026, 1, 10)
    with at(start):
        schedule = f.schedule(start=start)
    sandbox_payment.revoke_mandate(schedule.mandate.agreement_id)
    run(datetime.date(2026, 2, 10))
    assert Collection.objects.get().reason == "mandate_revoked"
    assert statuses(schedule)[1] == InstalmentStatus.DUE


def test_lapse_after_60_day_grace_then_reinstatement_within_two_years(settings, heard) -> None:
    # given: a term-life monthly schedule whose charges all fail from instalment 2 (due 1 Mar)
    start = datetime.date(2026, 2, 1)
    with at(start):
        schedule = f.schedule(start=start, line="term_life")
    assert schedule.grace_days == 60
    settings.SANDBOX_MANDATE_FAILURE_RATE = 1.0
    day = datetime.date(2026, 3, 1)
    last_grace_day = day + datetime.timedelta(days=60)
    # when: the daily run every day up to the last day of grace
    while day <= last_grace_day:
        run(day)
        day += datetime.timedelta(days=1)
    schedule.refresh_from_db()
    # then: still active on the 60th day; one failed attempt a day
    assert schedule.status == ScheduleStatus.ACTIVE
    assert Collection.objects.filter(instalment__number=2).count() == 61
    # when: the day after
    lapsed = run(last_grace_day + datetime.timedelta(days=1))
    schedule.refresh_from_db()
    # then: lapsed, announced once; no more charges while lapsed
    assert lapsed.lapsed == 1 and schedule.status == ScheduleStatus.LAPSED
    assert schedule.lapsed_on == datetime.date(2026, 5, 1)
    assert [e.status for e in heard["lapsed"].events] == ["lapsed"]
    before = Collection.objects.count()
    assert run(datetime.date(2026, 6, 1)).charged == 0 and Collection.objects.count() == before
    # when: the customer reinstates on 15 Sep 2027 (within two years), the card has funds again
    settings.SANDBOX_MANDATE_FAILURE_RATE = 0.0
    day = datetime.date(2027, 9, 15)
    with at(day):
        quote = services.reinstatement_quote(schedule, day)
        services.reinstate(schedule, day)
        f.deliver_owed()
    schedule.refresh_from_db()
    # then: the premiums owed (instalments 2–12 of the year) were collected, the schedule is back
    assert quote.numbers == tuple(range(2, 13)) and quote.amount == D("1100.00")
    assert quote.until == datetime.date(2028, 5, 1)
    assert statuses(schedule) == ["paid"] * 12
    assert [e.status for e in heard["reinstated"].events] == ["active"]
    assert schedule.status == ScheduleStatus.COMPLETED
    assert (
        AuditEntry.objects.filter(action="billing.schedule_lapsed", object_id=str(schedule.public_id)).count()
        == 1
    )


def test_reinstatement_quote_counts_only_what_fell_due() -> None:
    start = datetime.date(2026, 1, 15)
    with at(start):
        schedule = f.schedule(start=start, line="medical")
    PremiumSchedule.objects.filter(pk=schedule.pk).update(
        status=ScheduleStatus.LAPSED, lapsed_on="2026-04-15"
    )
    schedule.refresh_from_db()
    quote = services.reinstatement_quote(schedule, datetime.date(2026, 6, 20))
    assert quote.numbers == (2, 3, 4, 5, 6) and quote.amount == D("500.00")


def test_medical_lapses_after_30_days(heard) -> None:
    start = datetime.date(2026, 1, 15)
    with at(start):
        f.schedule(start=start, line="medical", with_mandate=False)
    assert run(datetime.date(2026, 3, 17)).lapsed == 0  # due 15 Feb + 30 = 17 Mar: last grace day
    assert run(datetime.date(2026, 3, 18)).lapsed == 1
    assert run(datetime.date(2026, 3, 18)).lapsed == 0  # idempotent
    assert len(heard["lapsed"].events) == 1


def test_reinstatement_after_two_years_is_refused() -> None:
    start = datetime.date(2026, 1, 15)
    with at(start):
        schedule = f.schedule(start=start)
    PremiumSchedule.objects.filter(pk=schedule.pk).update(
        status=ScheduleStatus.LAPSED, lapsed_on="2026-04-15"
    )
    schedule.refresh_from_db()
    with pytest.raises(NotReinstatable):
        services.reinstate(schedule, datetime.date(2028, 4, 16))
    assert not Collection.objects.exists()


def test_a_charge_confirmed_twice_pays_once() -> None:
    from huibao.payment.tests import factories as pf

    start = datetime.date(2026, 1, 10)
    with at(start):
        schedule = f.schedule(start=start)
    day = datetime.date(2026, 2, 10)
    with at(day):
        services.collect_due(day)
        charge = Payment.objects.get(reference_kind=services.COLLECTION_KIND)
        from huibao.payment import services as payments

        outcomes = [payments.handle_notification("sandbox", *pf.notification(charge)).code for _ in range(2)]
    assert outcomes == ["succeeded", "already_succeeded"]
    assert Instalment.objects.filter(schedule=schedule, status="paid").count() == 2


def test_the_daily_command_runs_a_past_date() -> None:
    import io
    import json

    from django.core.management import call_command

    # given: an instalment due on 10 Feb
    with at(datetime.date(2026, 1, 10)):
        schedule = f.schedule(start=datetime.date(2026, 1, 10))
    out = io.StringIO()
    # when: the run for 11 Feb is made by hand (catch-up)
    with at(datetime.date(2026, 2, 12)):
        call_command("billing_daily", "--date", "2026-02-11", stdout=out)
        f.deliver_owed()
    # then
    assert json.loads(out.getvalue()) == {
        "day": "2026-02-11",
        "overdue": 1,
        "lapsed": 0,
        "charged": 1,
        "planned": 0,
    }
    assert statuses(schedule)[1] == InstalmentStatus.PAID


def _charge_statements(count: int, day: datetime.date) -> tuple[int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    start = day - datetime.timedelta(days=31)
    with at(start):
        for _ in range(count):
            f.schedule(start=start)
    with at(day), CaptureQueriesContext(connection) as queries:
        charged = services.collect_due(day)
    return charged, len(queries)


def test_a_batch_of_charges_takes_the_same_statements_whatever_its_size() -> None:
    # given two days, one with six charges due, the next with twelve (and the first six pending)
    # — both past `core.bulkcopy.COPY_MIN_ROWS` audit entries, where PostgreSQL's batch writer
    # switches from one INSERT to reserving ids and one COPY
    # when each day's charges run in one batch
    six = _charge_statements(6, datetime.date(2026, 2, 10))
    twelve = _charge_statements(12, datetime.date(2026, 2, 15))
    # then every one is charged, and twelve cost the statements six cost
    assert (six[0], twelve[0]) == (6, 12)
    assert twelve[1] == six[1]
    # each once, its attempt linked to its payment, and the sandbox owes each its notification
    collections = Collection.objects.all()
    assert collections.count() == 18 and not collections.filter(payment_id__isnull=True).exists()
    assert Payment.objects.filter(reference_kind=services.COLLECTION_KIND, status="pending").count() == 18
    assert (
        AuditEntry.objects.filter(action="billing.collection_started").count()
        == AuditEntry.objects.filter(action="payment.created").count()
        == 18
    )
    with at(datetime.date(2026, 2, 15)):
        assert f.deliver_owed() == 18
    assert Instalment.objects.filter(status=InstalmentStatus.PAID, collections__isnull=False).count() == 18


class OneByOneGateway:
    """A real mandate gateway's shape without the batch call (`BatchMandateProvider`): one
    network call per charge. It notes, at each call, what the calling transaction holds."""

    name = "one_by_one"

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def create_mandate(self, *, payer_name: str, payer_id_number: str, account_number: str) -> Any:
        from huibao.payment.provider import Mandate

        return Mandate(agreement_id=f"OBO{account_number[-4:]}{len(self.calls)}", masked_account="****0000")

    def revoke_mandate(self, agreement_id: str) -> None:
        return None

    def charge_mandate(self, agreement_id: str, amount: Decimal, out_trade_no: str) -> Any:
        from huibao.payment.provider import ChargeAccepted

        # the attempts written so far in this run: in a 200-instalment transaction, every one of
        # the batch's is written (and its instalment locked) before the first call
        started = Collection.objects.filter(mandate__provider=self.name).count()
        self.calls.append((out_trade_no, started))
        return ChargeAccepted(provider_txn_id=f"OBOTX{out_trade_no}")


def test_a_gateway_without_a_batch_call_is_charged_one_instalment_per_transaction(monkeypatch) -> None:
    from huibao.payment import provider as payment_provider

    # given: three schedules whose mandates are at a gateway without a batch call, two at the
    # sandbox (which takes batches), all due on the same day
    gateway = OneByOneGateway()
    monkeypatch.setitem(payment_provider._MANDATE_PROVIDERS, gateway.name, gateway)
    assert not payment_provider.takes_mandate_batches(gateway.name)
    assert payment_provider.takes_mandate_batches("sandbox")
    start = datetime.date(2026, 1, 10)
    with at(start):
        for n in range(3):
            schedule = f.schedule(start=start, with_mandate=False)
            mandate = services.sign_mandate(
                customer_id=schedule.customer_id,
                payer_name=f.APPLICANT_NAME,
                payer_id_number=f.APPLICANT_ID,
                account_number=f"622202000000000{n}",
                provider=gateway.name,
            )
            services.attach_mandate(schedule, mandate)
        sandboxed = [f.schedule(start=start) for _ in range(2)]
    day = datetime.date(2026, 2, 10)
    sandbox_calls: list[int] = []
    real_batch = sandbox_payment.charge_mandates

    def counted(charges: Any, **kwargs: Any) -> Any:
        sandbox_calls.append(len(charges))
        return real_batch(charges, **kwargs)

    monkeypatch.setattr(sandbox_payment, "charge_mandates", counted)
    # when: the day's collection runs in one batch
    with at(day):
        charged = services.collect_due(day)
    # then: all five charged; the gateway's three each in a transaction of its own (at each call
    # only its own attempt was written), the sandbox's two in one call
    assert charged == 5
    assert [started for _, started in gateway.calls] == [1, 2, 3]
    assert sandbox_calls == [2]
    collections = Collection.objects.filter(mandate__provider=gateway.name)
    assert collections.count() == 3 and not collections.filter(payment_id__isnull=True).exists()
    assert Payment.objects.filter(provider=gateway.name, status="pending").count() == 3
    # and the next run of the day charges none of them again
    with at(day):
        assert services.collect_due(day) == 0
    assert len(gateway.calls) == 3
    assert Collection.objects.filter(instalment__schedule__in=sandboxed).count() == 2
