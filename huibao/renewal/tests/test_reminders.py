"""Reminders at 30, 7 and 1 days before expiry, once each, also when the job runs twice, is
killed half-way or catches up a past date; the daily jobs registered and idempotent."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from huibao.jobs import services as jobs
from huibao.notification.models import OutboxMessage
from huibao.renewal import services
from huibao.renewal.models import RenewalOffer, RenewalReminder
from huibao.renewal.tests.factories import expiry_date, renewable_policy, renewable_version

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def _at(day: datetime.date):
    return time_machine.travel(
        timezone.make_aware(datetime.datetime.combine(day, datetime.time(7))), tick=False
    )


def _reminders():
    return list(
        OutboxMessage.objects.filter(template="renewal.reminder", channel="inbox")
        .order_by("id")
        .values_list("user_id", "body")
    )


def test_reminders_go_at_30_7_and_1_days_once_each_across_the_days():
    policy = renewable_policy()
    expires_on = expiry_date(policy)
    day = expires_on - datetime.timedelta(days=31)
    sent_on: dict[int, datetime.date] = {}
    while day < expires_on:
        with _at(day):
            services.make_offers(day)
            for _ in range(2):  # the job runs twice the same day
                services.send_reminders(day)
        for r in RenewalReminder.objects.all():
            sent_on.setdefault(r.days_before, r.sent_on)
        day += DAY
    assert sent_on == {d: expires_on - datetime.timedelta(days=d) for d in (30, 7, 1)}
    bodies = [b for _, b in _reminders()]
    assert len(bodies) == 3
    assert "30天后" in bodies[0] and "7天后" in bodies[1] and "1天后" in bodies[2]


class Killed(Exception):
    pass


def test_a_reminder_run_killed_half_way_sends_no_duplicate_and_misses_none():
    version = renewable_version()
    policies = [renewable_policy(version) for _ in range(5)]
    expires_on = expiry_date(policies[0])
    offer_day = expires_on - datetime.timedelta(days=30)
    with _at(offer_day):
        services.make_offers(offer_day)
        batches: list = []

        def crash_on_third(cursor):
            batches.append(cursor)
            if len(batches) == 3:
                raise Killed

        with pytest.raises(Killed):
            services.send_reminders(offer_day, batch=2, checkpoint=crash_on_third)
        # two batches committed; the third rolled back with its checkpoint
        assert len(_reminders()) == 4
        assert RenewalReminder.objects.count() == 4
        services.send_reminders(offer_day, batch=2)
        services.send_reminders(offer_day, batch=2)
    users = sorted(u for u, _ in _reminders())
    assert users == sorted(p.customer_id for p in policies)
    assert RenewalReminder.objects.filter(days_before=30).count() == 5


def test_closed_offers_get_no_reminder():
    policy = renewable_policy()
    offer_day = expiry_date(policy) - datetime.timedelta(days=30)
    with _at(offer_day):
        services.make_offers(offer_day)
        offer = RenewalOffer.objects.get(policy=policy)
        services.decline(offer, user=policy.customer)
        assert services.send_reminders(offer_day) == 0
    assert _reminders() == []


def test_the_daily_jobs_make_offers_notices_and_reminders_and_a_rerun_changes_nothing():
    policy = renewable_policy()
    offer_day = expiry_date(policy) - datetime.timedelta(days=30)
    with _at(offer_day):
        outcomes = jobs.run_daily(
            offer_day, only=["renewal.offers", "renewal.offer_notices", "renewal.reminders"]
        )
        assert {o.job: o.status for o in outcomes} == {
            "renewal.offers": "succeeded",
            "renewal.offer_notices": "succeeded",
            "renewal.reminders": "succeeded",
        }
        before = OutboxMessage.objects.count()
        jobs.run_daily(offer_day, only=["renewal.offers", "renewal.offer_notices", "renewal.reminders"])
    assert RenewalOffer.objects.filter(policy=policy).count() == 1
    assert OutboxMessage.objects.count() == before
    templates = set(OutboxMessage.objects.filter(channel="inbox").values_list("template", flat=True))
    assert {"renewal.offered", "renewal.reminder"} <= templates


def test_notices_and_reminders_cost_a_few_statements_per_batch_not_per_offer(django_assert_max_num_queries):
    # given eight offers made on the same day (one batch each for notices and for the 30-day reminder)
    version = renewable_version()
    policies = [renewable_policy(version) for _ in range(8)]
    offer_day = expiry_date(policies[0]) - datetime.timedelta(days=30)
    with _at(offer_day):
        services.make_offers(offer_day)
        # when the notices and the reminders go out (the statements do not grow with the offers:
        # per batch one read, the messages in three, the mark; the reminders' empty 7 and 1 days;
        # SQLite counts its BEGIN and savepoints) — three statements per offer before
        with django_assert_max_num_queries(12):
            notified = services.notify_offers(offer_day)
        with django_assert_max_num_queries(18):
            reminded = services.send_reminders(offer_day)
    # then every customer was told and reminded once
    assert notified == 8 and reminded == 8
    assert OutboxMessage.objects.filter(template="renewal.offered", channel="inbox").count() == 8
    assert len(_reminders()) == 8
