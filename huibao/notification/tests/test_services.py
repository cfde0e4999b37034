from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from huibao.core.models import AuditEntry
from huibao.notification import catalogue, sending, services
from huibao.notification.errors import SmsDeliveryFailed, TemplateContextMissing, UnknownTemplate
from huibao.notification.models import OutboxMessage
from huibao.notification.rules import SENDING_TIMEOUT
from huibao.notification.sms import ConsoleSmsBackend, reset_sms_backends
from huibao.notification.states import OutboxStatus
from huibao.notification.tests.conftest import ISSUED, make_customer

pytestmark = pytest.mark.django_db


class FlakySms(ConsoleSmsBackend):
    """Fails the first `failures` sends, then behaves like the console backend."""

    failures = 1
    calls = 0

    def send(self, phone, text, **kwargs):
        type(self).calls += 1
        if type(self).calls <= type(self).failures:
            raise SmsDeliveryFailed("gateway down")
        return super().send(phone, text, **kwargs)


@pytest.fixture
def flaky_sms(settings):
    FlakySms.calls = 0
    settings.SMS_BACKEND = f"{__name__}.FlakySms"
    reset_sms_backends()
    return FlakySms


def issued(user, key="policy-issued:P2026000001"):
    return services.notify(user=user, template="policy.issued", context=ISSUED, dedup_key=key, reference="P1")


def test_notify_writes_one_row_per_channel_and_enqueues_sends_on_commit(
    customer, django_capture_on_commit_callbacks
):
    # given a customer with an e-mail address and a mobile number, default preferences
    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        rows = issued(customer)
    # then inbox, e-mail and SMS, the inbox delivered by being stored, the others pending
    assert [(r.channel, r.status) for r in rows] == [
        ("inbox", "sent"),
        ("email", "pending"),
        ("sms", "pending"),
    ]
    # one callback queues the e-mail's and the SMS's sends together (what it queues: below)
    assert len(callbacks) == 1
    inbox = rows[0]
    assert inbox.subject == "保单已生效：百万医疗险"
    assert "P2026000001" in inbox.body and "2026年12月3日" in inbox.body
    assert rows[1].subject == "【汇保】您的保单P2026000001已生效"


def test_the_same_call_twice_sends_nothing_twice(customer, django_capture_on_commit_callbacks):
    # given
    issued(customer)
    # when the daily job runs again
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        again = issued(customer)
    # then
    assert again == []
    assert callbacks == []
    assert OutboxMessage.objects.filter(dedup_key="policy-issued:P2026000001").count() == 3


def test_a_rolled_back_business_transaction_leaves_no_outbox_row(customer):
    # given / when the business change fails after notify
    with pytest.raises(RuntimeError), transaction.atomic():
        issued(customer)
        raise RuntimeError("the business change failed")
    # then
    assert not OutboxMessage.objects.exists()


def test_marketing_reaches_only_those_who_opted_in(customer):
    # given one customer who opted in and one with the defaults
    fan = make_customer(email="fan@example.com")
    services.set_preferences(fan, email=True, sms=False, marketing=True)
    context = {"title": "双十二特惠", "text": "意外险限时八折"}
    # when
    to_default = services.notify(
        user=customer, template="marketing.notice", context=context, category="marketing", dedup_key="m:1:a"
    )
    to_fan = services.notify(
        user=fan, template="marketing.notice", context=context, category="marketing", dedup_key="m:1:b"
    )
    # then
    assert to_default == []
    assert [r.channel for r in to_fan] == ["inbox", "email"]


def test_a_marketing_template_is_marketing_whatever_the_caller_says(customer):
    # when
    rows = services.notify(
        user=customer, template="marketing.notice", context={"title": "t", "text": "x"}, dedup_key="m:2"
    )
    # then
    assert rows == []


def test_channels_follow_the_preferences_but_service_messages_keep_the_inbox(customer):
    # given
    services.set_preferences(customer, email=False, sms=False, marketing=False)
    # when
    rows = issued(customer)
    # then
    assert [r.channel for r in rows] == ["inbox"]
    assert AuditEntry.objects.filter(action="notification.preferences_changed").count() == 1


def test_unknown_templates_and_missing_variables_fail_the_caller(customer):
    with pytest.raises(UnknownTemplate):
        services.notify(user=customer, template="no.such", context={}, dedup_key="k")
    with pytest.raises(TemplateContextMissing):
        services.notify(
            user=customer, template="policy.issued", context={"policy_number": "P"}, dedup_key="k"
        )
    assert not OutboxMessage.objects.exists()


def test_the_outbox_keeps_no_address_and_encrypts_what_was_said(customer):
    # given
    issued(customer)
    # then the raw columns hold no clear text and no address
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT subject, body, params FROM notification_outboxmessage")
        raw = " ".join(str(v) for row in cursor.fetchall() for v in row)
    assert "P2026000001" not in raw and "百万医疗" not in raw
    assert customer.phone not in raw and customer.email not in raw


def test_an_email_is_sent_with_a_stable_message_id(customer):
    # given
    email = issued(customer)[1]
    # when
    status = sending.send(email.pk)
    # then
    assert status == OutboxStatus.SENT
    (message,) = mail.outbox
    assert message.to == [customer.email]
    assert message.extra_headers["Message-ID"] == f"<{email.public_id}@huibao.local>"
    email.refresh_from_db()
    assert email.sent_at is not None and email.provider_ref == message.extra_headers["Message-ID"]


def test_a_failing_provider_then_success(customer, flaky_sms, sms_outbox_factory=None):
    # given an SMS whose gateway fails once
    sms = issued(customer)[2]
    now = timezone.now()
    # when the first attempt fails
    assert sending.send(sms.pk, now=now) == OutboxStatus.FAILED
    sms.refresh_from_db()
    # then it waits the first back-off step, and is not due before
    assert sms.attempts == 1 and sms.next_attempt_at == now + timedelta(minutes=1)
    assert "gateway down" in sms.last_error
    assert sending.send(sms.pk, now=now + timedelta(seconds=30)) == OutboxStatus.FAILED
    assert FlakySms.calls == 1
    # when it is due again
    assert sending.send(sms.pk, now=now + timedelta(minutes=1)) == OutboxStatus.SENT
    sms.refresh_from_db()
    assert sms.attempts == 2 and sms.provider_ref.startswith("console-") and sms.last_error == ""


def test_it_gives_up_after_the_maximum_attempts_and_is_audited(customer, flaky_sms, settings):
    # given a gateway that never works
    settings.HUIBAO_NOTIFICATION_MAX_ATTEMPTS = 3
    FlakySms.failures = 99
    sms = issued(customer)[2]
    when = timezone.now()
    statuses = []
    # when the sweep tries whenever it is due
    for _ in range(5):
        statuses.append(sending.send(sms.pk, now=when, force=False))
        sms.refresh_from_db()
        when = sms.next_attempt_at or when
    FlakySms.failures = 1
    # then
    assert statuses[:3] == ["failed", "failed", "gave_up"]
    assert statuses[3:] == ["gave_up", "gave_up"]
    assert FlakySms.calls == 3
    assert sms.next_attempt_at is None
    assert AuditEntry.objects.filter(action="notification.gave_up", object_id=str(sms.public_id)).exists()


def test_a_permanent_refusal_gives_up_at_once(customer):
    # given a customer who removed their e-mail address after the message was written
    email = issued(customer)[1]
    customer.email = ""
    customer.save()
    # when / then
    assert sending.send(email.pk) == OutboxStatus.GAVE_UP
    email.refresh_from_db()
    assert email.attempts == 1 and email.last_error == "no_email"


def test_a_row_claimed_once_is_not_claimed_again():
    customer = make_customer()
    sms = issued(customer)[2]
    first = sending.claim(sms.pk)
    second = sending.claim(sms.pk)
    assert first is not None and second is None
    sms.refresh_from_db()
    assert sms.status == OutboxStatus.SENDING and sms.attempt_id == first.attempt_id


def test_a_worker_killed_mid_send_is_recovered_by_the_sweep_without_a_second_outcome(customer, sms_outbox):
    # given a worker that claimed the row and died before recording anything
    sms = issued(customer)[2]
    dead = sending.claim(sms.pk)
    assert dead is not None
    # when the sweep runs before the timeout, nothing moves
    assert sending.requeue_stuck(now=timezone.now()) == 0
    # when it runs after the timeout, the row is pending again and sent once
    later = timezone.now() + SENDING_TIMEOUT + timedelta(seconds=1)
    assert sending.requeue_stuck(now=later) == 1
    assert sending.send(sms.pk, now=later) == OutboxStatus.SENT
    # then the dead worker's late outcome changes nothing
    assert sending._finish(dead, OutboxStatus.FAILED, now=later, error="late") == OutboxStatus.SENDING
    sms.refresh_from_db()
    assert sms.status == OutboxStatus.SENT and sms.last_error == ""
    assert len([m for m in sms_outbox.outbox if m.phone == customer.phone]) == 1


def test_the_sweep_task_sends_what_is_due(customer, sms_outbox):
    # given
    issued(customer)
    # when
    from huibao.notification.tasks import send_due_messages

    result = send_due_messages.call()
    # then
    assert result == {"requeued": 0, "sent": 2}
    assert len(mail.outbox) == 1 and len(sms_outbox.outbox) == 1
    assert not OutboxMessage.objects.exclude(status=OutboxStatus.SENT).exists()


def test_an_operators_resend_is_audited_and_sends_again(customer, flaky_sms, settings):
    # given a message that gave up
    settings.HUIBAO_NOTIFICATION_MAX_ATTEMPTS = 1
    sms = issued(customer)[2]
    assert sending.send(sms.pk) == OutboxStatus.GAVE_UP
    staff = make_customer(email="ops@example.com")
    # when
    services.resend(sms, actor=staff)
    # then
    sms.refresh_from_db()
    assert sms.status == OutboxStatus.PENDING and sms.attempts == 0
    entry = AuditEntry.objects.get(action="notification.resend_requested")
    assert entry.actor_id == staff.pk and entry.before["status"] == "gave_up"
    assert sending.send(sms.pk) == OutboxStatus.SENT


def test_a_sent_message_cannot_be_resent(customer):
    email = issued(customer)[1]
    sending.send(email.pk)
    email.refresh_from_db()
    from huibao.core.errors import InvalidTransition

    with pytest.raises(InvalidTransition):
        services.resend(email, actor="ops")


def test_another_app_registers_a_template_in_five_lines(customer):
    # given
    catalogue.register(
        catalogue.MessageTemplate(
            code="test.renewal_reminder",
            category="service",
            required=("policy_number", "days"),
            title="续保提醒",
            body="您的保单{{ policy_number }}将在{{ days }}天后到期。",
        )
    )
    # when
    rows = services.notify(
        user=customer,
        template="test.renewal_reminder",
        context={"policy_number": "P9", "days": 30},
        dedup_key="renewal-reminder:P9:30d",
    )
    # then only the inbox: the template has no e-mail or SMS text
    assert [(r.channel, r.body) for r in rows] == [("inbox", "您的保单P9将在30天后到期。")]


def test_the_sends_are_queued_in_the_durable_database_backend_on_commit(
    customer, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    # given / when the business transaction commits
    with django_capture_on_commit_callbacks(execute=True):
        rows = issued(customer)
    # then one durable task per e-mail/SMS row, naming the send task and the row
    queued = DBTaskResult.objects.filter(task_path="huibao.notification.tasks.send_outbox_message")
    assert sorted(q.args_kwargs["args"][0] for q in queued) == sorted(r.pk for r in rows[1:])


def test_notify_many_writes_what_notify_writes_in_three_statements_whatever_the_batch(
    django_assert_max_num_queries,
):
    # given five customers, one of whom turned e-mail and SMS off, one of them inactive
    people = [make_customer(email=f"p{n}@example.com") for n in range(5)]
    services.set_preferences(people[1], email=False, sms=False, marketing=False)
    people[4].is_active = False
    people[4].save(update_fields=["is_active"])
    batch = [
        services.Notice(user=u, template="policy.issued", context=ISSUED, dedup_key=f"k{n}", reference="P1")
        for n, u in enumerate(people)
    ]
    # when the batch is written, then again (a job run twice)
    with django_assert_max_num_queries(3):
        first = services.notify_many(batch)
    again = services.notify_many(batch)
    # then each reachable channel once per active customer, the preferences followed, no duplicate
    by_user = {u.pk: sorted(r.channel for r in first if r.user_id == u.pk) for u in people}
    assert by_user[people[0].pk] == ["email", "inbox", "sms"]
    assert by_user[people[1].pk] == ["inbox"]
    assert by_user[people[4].pk] == []
    assert len(first) == 3 * 3 + 1 and again == []
    assert OutboxMessage.objects.count() == 10


def test_notify_many_refuses_an_unknown_template_before_writing_anything(customer):
    # given a batch whose second message names no registered template
    batch = [
        services.Notice(user=customer, template="policy.issued", context=ISSUED, dedup_key="a"),
        services.Notice(user=customer, template="no.such.template", context={}, dedup_key="b"),
    ]
    # when / then
    with pytest.raises(UnknownTemplate):
        services.notify_many(batch)
    assert not OutboxMessage.objects.exists()


def test_send_inside_batched_writes_the_blocks_messages_together_at_its_end(
    customer, django_assert_max_num_queries
):
    # given two customers' messages sent inside one batch
    other = make_customer(email="other@example.com")
    notices = [
        services.Notice(user, "policy.issued", ISSUED, f"batched:{n}", "P1")
        for n, user in enumerate((customer, other))
    ]
    # when (four statements: the check below, then the batch's three)
    with transaction.atomic(), django_assert_max_num_queries(4), services.batched():
        for notice in notices:
            services.send(notice)
        # then nothing is written before the block ends
        assert not OutboxMessage.objects.filter(dedup_key__startswith="batched:").exists()
    # then each customer's three rows, as `notify` writes them
    assert OutboxMessage.objects.filter(dedup_key__startswith="batched:").count() == 6


def test_a_batch_that_raises_writes_none_of_its_messages(customer):
    # given / when the block fails after sending
    with pytest.raises(RuntimeError), transaction.atomic(), services.batched():
        services.send(services.Notice(customer, "policy.issued", ISSUED, "batched:failed", "P1"))
        raise RuntimeError("the business change failed")
    # then
    assert not OutboxMessage.objects.filter(dedup_key="batched:failed").exists()
