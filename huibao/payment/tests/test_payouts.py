"""Payouts against the database and the sandbox payout gateway: request (idempotent), submission,
signed asynchronous results, retries, give-up, the query sweep, the hooks by kind."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from huibao.core.errors import ValidationFailed
from huibao.core.models import AuditEntry
from huibao.jobs.registry import registered_jobs
from huibao.payment import payouts, rules
from huibao.payment.models import Payout, PayoutAttempt, PayoutNotification
from huibao.payment.states import PayoutAttemptStatus, PayoutStatus
from huibao.payment.tests import factories as pf
from huibao.payment.tests import payout_factories as f
from huibao.sandbox import notifications
from huibao.sandbox import payout as sandbox
from huibao.sandbox.models import SandboxPayout

pytestmark = pytest.mark.django_db
START = datetime.datetime(2026, 12, 3, 2, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox's notifications reach the notify endpoint through the test client."""
    monkeypatch.setattr(notifications, "http_post", pf.client_transport(Client()))
    sandbox.PAYOUT_FAULTS.force(0)


@pytest.fixture
def heard() -> Iterator[dict[str, list[tuple[str, str]]]]:
    """What the hooks announced, for kind test_claim; a listener on another kind must hear nothing."""
    calls: dict[str, list[tuple[str, str]]] = {"succeeded": [], "failed": [], "other": []}

    def succeeded(p: Payout) -> None:
        calls["succeeded"].append((p.reference, p.status))

    def failed(p: Payout) -> None:
        calls["failed"].append((p.reference, p.status))

    def other(p: Payout) -> None:
        calls["other"].append((p.reference, p.status))

    payouts.payout_succeeded.register("test_claim", succeeded)
    payouts.payout_failed.register("test_claim", failed)
    payouts.payout_succeeded.register("other_kind", other)
    payouts.payout_failed.register("other_kind", other)
    yield calls
    payouts.payout_succeeded.unregister("test_claim", succeeded)
    payouts.payout_failed.unregister("test_claim", failed)
    payouts.payout_succeeded.unregister("other_kind", other)
    payouts.payout_failed.unregister("other_kind", other)


def _deliver_result(p: Payout) -> bool:
    """The sandbox delivers the current attempt's result notification (its delay has passed)."""
    return sandbox.deliver(p.provider_trade_no)


# --- request ------------------------------------------------------------------------------------


def test_request_stores_the_account_encrypted_and_masked_and_audits_it() -> None:
    # when
    p = f.request(amount="1280.505")
    # then
    p.refresh_from_db()
    assert p.status == PayoutStatus.REQUESTED and p.amount == Decimal("1280.51")
    assert p.account_number == f.GOOD_ACCOUNT and p.account_last4 == "2345"
    with connection.cursor() as cursor:
        cursor.execute("SELECT account_number FROM payment_payout WHERE id = %s", [p.pk])
        stored = cursor.fetchone()[0]
    assert f.GOOD_ACCOUNT not in stored
    entry = AuditEntry.objects.get(action="payout.requested", object_id=str(p.public_id))
    assert f.GOOD_ACCOUNT not in str(entry.after) and entry.after["account"] == "**** 2345"
    assert entry.after["payee_name"] != f.PAYEE


def test_the_first_submission_is_queued_when_the_request_commits(django_capture_on_commit_callbacks) -> None:
    from django_tasks_db.models import DBTaskResult

    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        p = f.request()
    # then: one task, naming this payout
    assert len(callbacks) == 1
    task = DBTaskResult.objects.get(task_path="huibao.payment.tasks.submit_payout_task")
    assert task.args_kwargs["args"] == [p.pk]


def test_the_same_request_returns_the_same_payout() -> None:
    # given
    first = f.request("C7")
    # when
    again = f.request("C7")
    # then
    assert again.pk == first.pk
    assert Payout.objects.count() == 1
    assert AuditEntry.objects.filter(action="payout.requested").count() == 1


def test_another_amount_for_the_same_reference_is_refused_and_changes_nothing() -> None:
    # given
    first = f.request("C8", amount="100.00")
    # when
    with pytest.raises(payouts.PayoutConflict) as refused:
        f.request("C8", amount="100.01")
    # then
    assert refused.value.http_status == 409 and refused.value.errors[0].field == "amount"
    assert list(Payout.objects.values_list("pk", "amount")) == [(first.pk, Decimal("100.00"))]
    # and the same reference under another kind is another payout
    assert f.request("C8", kind="other_kind", amount="100.01").pk != first.pk


def test_a_request_for_a_reference_already_inserted_returns_it_and_the_transaction_goes_on() -> None:
    # given: another request inserted the payout first (the insert skips the existing reference)
    winner = f.request("C9")
    with transaction.atomic():
        # when: the same ask, then another amount for it, inside one caller's transaction
        same = f.request("C9")
        with pytest.raises(payouts.PayoutConflict):
            f.request("C9", amount="1.00")
        # then: the winner, and the caller's transaction goes on (it still reads and writes)
        assert same.pk == winner.pk and Payout.objects.count() == 1
        assert f.request("C10").pk != winner.pk
    assert AuditEntry.objects.filter(action="payout.requested").count() == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "0.004"}, "amount"),
        ({"account_number": "6222021000052346"}, "account_number"),
        ({"account_number": "12ab"}, "account_number"),
        ({"ref": ""}, "reference"),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(changes: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        f.request(**changes)  # type: ignore[arg-type]
    assert field in [e.field for e in refused.value.errors]
    assert all(e.message for e in refused.value.errors)
    assert Payout.objects.count() == 0 and AuditEntry.objects.filter(action__startswith="payout").count() == 0


# --- the happy path ---------------------------------------------------------------------------


def test_a_payout_is_submitted_then_paid_by_the_signed_notification(heard) -> None:
    # given
    with time_machine.travel(START, tick=False):
        p = f.request()
        # when: the queued submission runs
        assert payouts.submit_payout(p.pk) == "submitted"
    p.refresh_from_db()
    transfer = SandboxPayout.objects.get(out_biz_no=p.out_biz_no)
    assert p.status == PayoutStatus.SUBMITTED and p.attempts == 1 and p.provider_trade_no == transfer.trade_no
    assert transfer.amount_fen == 128050 and transfer.next_attempt_at == START + sandbox.result_delay()
    # nothing is due before the gateway's delay, the result is due after it
    assert ("payout", transfer.trade_no) not in notifications.due(START)
    assert ("payout", transfer.trade_no) in notifications.due(START + sandbox.result_delay())
    # when: the gateway's result notification is delivered to the notify endpoint
    with time_machine.travel(START + datetime.timedelta(seconds=5), tick=False):
        assert _deliver_result(p)
    # then
    p.refresh_from_db()
    assert p.status == PayoutStatus.SUCCEEDED and p.succeeded_at is not None
    assert heard == {"succeeded": [("C1", "succeeded")], "failed": [], "other": []}
    actions = list(
        AuditEntry.objects.filter(object_id=str(p.public_id)).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["payout.requested", "payout.submitted", "payout.succeeded"]
    assert PayoutAttempt.objects.get(payout=p).status == PayoutAttemptStatus.SUCCEEDED


def test_a_duplicate_notification_changes_nothing_twice(heard) -> None:
    # given: a submitted payout and its success notification, received once
    p = f.request()
    payouts.submit_payout(p.pk)
    p.refresh_from_db()
    note = f.forged_result(p)
    first = payouts.handle_payout_notification("sandbox", *note)
    # when: the same notification again, and a new one saying the same
    again = payouts.handle_payout_notification("sandbox", *note)
    other = payouts.handle_payout_notification("sandbox", *f.forged_result(p))
    # then
    assert (first.code, again.code, other.code) == ("succeeded", "duplicate", "duplicate_result")
    assert first.acknowledge and again.acknowledge and other.acknowledge
    assert heard["succeeded"] == [("C1", "succeeded")]
    assert AuditEntry.objects.filter(action="payout.succeeded").count() == 1


def test_a_failure_arriving_after_the_success_changes_nothing(heard) -> None:
    # given
    p = f.request()
    payouts.submit_payout(p.pk)
    p.refresh_from_db()
    assert payouts.handle_payout_notification("sandbox", *f.forged_result(p)).code == "succeeded"
    # when: out of order, a failure for the same attempt
    late = f.forged_result(p, status="failed", failure_code="BANK_TIMEOUT", retryable=True)
    outcome = payouts.handle_payout_notification("sandbox", *late)
    # then
    p.refresh_from_db()
    assert outcome.acknowledge and outcome.code == "duplicate_result"
    assert p.status == PayoutStatus.SUCCEEDED and heard["failed"] == []


def test_a_bad_signature_is_refused_with_400_in_the_error_shape_and_changes_nothing(heard) -> None:
    # given
    p = f.request()
    payouts.submit_payout(p.pk)
    p.refresh_from_db()
    headers, body = f.forged_result(p)
    headers["Huibao-Payout-Signature"] = "0" * 64
    # when
    response = Client().generic(
        "POST",
        "/payment/payouts/notify/sandbox/",
        body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )
    # then
    assert response.status_code == 400
    assert response.json() == {
        "code": "bad_signature",
        "message": "notification signature does not verify",
        "errors": [],
    }
    p.refresh_from_db()
    assert p.status == PayoutStatus.SUBMITTED and heard["succeeded"] == []
    kept = PayoutNotification.objects.get()
    assert not kept.signature_ok and kept.outcome == "bad_signature" and kept.payout is None


def test_a_stale_notification_is_refused() -> None:
    p = f.request()
    payouts.submit_payout(p.pk)
    p.refresh_from_db()
    note = f.forged_result(p, now=timezone.now() - datetime.timedelta(minutes=6))
    outcome = payouts.handle_payout_notification("sandbox", *note)
    assert not outcome.acknowledge and outcome.code == "stale"
    p.refresh_from_db()
    assert p.status == PayoutStatus.SUBMITTED


# --- failures ------------------------------------------------------------------------------------


def test_account_not_found_is_given_up_at_once_and_announced_once(heard) -> None:
    # given
    with time_machine.travel(START, tick=False):
        p = f.request(account_number=f.NOT_FOUND_ACCOUNT)
        payouts.submit_payout(p.pk)
    p.refresh_from_db()
    # when: the result is delivered, then delivered again by a retrying gateway
    with time_machine.travel(START + datetime.timedelta(seconds=5), tick=False):
        assert _deliver_result(p)
        note = f.forged_result(p, status="failed", failure_code="ACCOUNT_NOT_FOUND", reason="账户不存在")
        again = payouts.handle_payout_notification("sandbox", *note)
        # and the retry sweep finds nothing to do
        assert payouts.retry_due_payouts(START + datetime.timedelta(days=1)) == 0
    # then
    p.refresh_from_db()
    assert p.status == PayoutStatus.GIVEN_UP and p.given_up_at is not None
    assert (p.failure_code, p.failure_reason, p.retryable) == ("ACCOUNT_NOT_FOUND", "账户不存在", False)
    assert again.code == "duplicate_result"
    assert heard == {"succeeded": [], "failed": [("C1", "given_up")], "other": []}
    assert p.attempts == 1 and SandboxPayout.objects.count() == 1


def test_a_retryable_failure_is_retried_after_its_back_off_then_succeeds(heard) -> None:
    # given: the account whose first transfer times out at the bank
    with time_machine.travel(START, tick=False):
        p = f.request(account_number=f.TIMEOUT_ONCE_ACCOUNT)
        payouts.submit_payout(p.pk)
    p.refresh_from_db()
    first_attempt = p.out_biz_no
    with time_machine.travel(START + datetime.timedelta(seconds=5), tick=False):
        assert _deliver_result(p)
    p.refresh_from_db()
    assert p.status == PayoutStatus.FAILED and p.retryable and p.failure_code == "BANK_TIMEOUT"
    assert p.next_attempt_at == START + datetime.timedelta(seconds=5) + rules.payout_retry_delay(1)
    # when: the sweep before the back-off ends does nothing, after it submits attempt 2
    assert payouts.retry_due_payouts(p.next_attempt_at - datetime.timedelta(seconds=1)) == 0
    due = p.next_attempt_at
    with time_machine.travel(due, tick=False):
        assert payouts.retry_due_payouts() == 1
    p.refresh_from_db()
    assert p.status == PayoutStatus.SUBMITTED and p.attempts == 2 and p.out_biz_no != first_attempt
    with time_machine.travel(due + datetime.timedelta(seconds=5), tick=False):
        assert _deliver_result(p)
        # and attempt 1's failure arriving again (out of order, under a new notify id) changes nothing
        stale = f.forged_result(p, status="failed", failure_code="BANK_TIMEOUT", out_biz_no=first_attempt)
        assert payouts.handle_payout_notification("sandbox", *stale).code == "duplicate_result"
    # then
    p.refresh_from_db()
    assert p.status == PayoutStatus.SUCCEEDED
    assert heard == {"succeeded": [("C1", "succeeded")], "failed": [], "other": []}
    assert list(p.attempt_rows.values_list("number", "status")) == [(1, "failed"), (2, "succeeded")]


def test_injected_refusals_are_retried_until_the_attempts_are_spent_then_given_up(heard) -> None:
    # given: the gateway refuses every submission at once (系统繁忙)
    sandbox.PAYOUT_FAULTS.force(rules.PAYOUT_MAX_ATTEMPTS)
    p = f.request()
    now = timezone.now()
    # when: each attempt as its back-off ends
    outcomes = []
    for _ in range(rules.PAYOUT_MAX_ATTEMPTS):
        outcomes.append(payouts.submit_payout(p.pk, now=now))
        p.refresh_from_db()
        now = p.next_attempt_at or now
    # then
    assert outcomes == ["retry_scheduled"] * (rules.PAYOUT_MAX_ATTEMPTS - 1) + ["given_up"]
    assert p.status == PayoutStatus.GIVEN_UP and p.attempts == rules.PAYOUT_MAX_ATTEMPTS
    assert p.failure_code == "SYSTEM_BUSY" and SandboxPayout.objects.count() == 0
    assert heard["failed"] == [("C1", "given_up")] and heard["succeeded"] == []
    assert payouts.submit_payout(p.pk, now=now + datetime.timedelta(days=1)) == "not_due"


def test_an_unreachable_provider_sends_the_same_attempt_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: the provider times out on the first call
    from huibao.payment.provider import PayoutProviderUnavailable
    from huibao.sandbox.adapters import SandboxPayoutProvider

    calls: list[str] = []
    real = SandboxPayoutProvider.submit_payout

    def flaky(self, request):  # type: ignore[no-untyped-def]
        calls.append(request.out_biz_no)
        if len(calls) == 1:
            raise PayoutProviderUnavailable("read timeout")
        return real(self, request)

    monkeypatch.setattr(SandboxPayoutProvider, "submit_payout", flaky)
    p = f.request()
    now = timezone.now()
    # when
    first = payouts.submit_payout(p.pk, now=now)
    second = payouts.submit_payout(p.pk, now=now + payouts.UNAVAILABLE_RETRY)
    # then: the same out_biz_no both times, counted as one attempt
    p.refresh_from_db()
    assert (first, second) == ("provider_unavailable", "submitted")
    assert calls[0] == calls[1] == p.out_biz_no and p.attempts == 1


# --- the query sweep and job ----------------------------------------------------------------------


def test_the_query_sweep_settles_submitted_payouts_whose_notification_never_came(heard) -> None:
    # given: two submitted payouts whose notifications are never delivered
    with time_machine.travel(START, tick=False):
        paid = f.request("C1")
        lost = f.request("C2", account_number=f.NOT_FOUND_ACCOUNT)
        payouts.submit_payout(paid.pk)
        payouts.submit_payout(lost.pk)
    # when: too early nothing is asked; after PAYOUT_QUERY_AFTER both are
    early = payouts.query_stale_payouts(START + rules.PAYOUT_QUERY_AFTER - datetime.timedelta(seconds=1))
    late = payouts.query_stale_payouts(START + rules.PAYOUT_QUERY_AFTER)
    # then
    paid.refresh_from_db()
    lost.refresh_from_db()
    assert early == {} and late == {"succeeded": 1, "given_up": 1}
    assert (paid.status, lost.status) == (PayoutStatus.SUCCEEDED, PayoutStatus.GIVEN_UP)
    assert heard["succeeded"] == [("C1", "succeeded")] and heard["failed"] == [("C2", "given_up")]
    # and the notification arriving afterwards changes nothing
    with time_machine.travel(START + rules.PAYOUT_QUERY_AFTER, tick=False):
        assert _deliver_result(paid)
    assert heard["succeeded"] == [("C1", "succeeded")]
    assert PayoutNotification.objects.get(payout=paid).outcome == "duplicate_result"


def test_the_query_is_a_daily_job_and_a_sweep() -> None:
    from huibao.core.management.commands.run_sweeps import DEFAULT_SWEEPS

    assert "payment.query_stale_payouts" in {job.name for job in registered_jobs()}
    assert "huibao.payment.tasks.query_stale_payouts" in DEFAULT_SWEEPS
    assert "huibao.payment.tasks.retry_due_payouts" in DEFAULT_SWEEPS


# --- retry by hand -------------------------------------------------------------------------------


def test_retry_by_hand_sends_a_failed_payout_now_with_an_audit_row() -> None:
    # given: a payout that failed in a retryable way, waiting for its back-off
    from huibao.account.models import User, UserKind

    staff = User.objects.create_user(username="fin_qian", password="x-unused-123", kind=UserKind.STAFF)
    p = f.request(account_number=f.TIMEOUT_ONCE_ACCOUNT)
    payouts.submit_payout(p.pk)
    p.refresh_from_db()
    assert _deliver_result(p)
    p.refresh_from_db()
    assert p.status == PayoutStatus.FAILED and p.next_attempt_at > timezone.now()
    # when
    outcome = payouts.retry_by_hand(p, user=staff)
    # then
    p.refresh_from_db()
    assert outcome == "submitted" and p.status == PayoutStatus.SUBMITTED and p.attempts == 2
    entry = AuditEntry.objects.get(action="payout.retry_requested", object_id=str(p.public_id))
    assert entry.actor_id == staff.pk
    assert p.attempt_rows.get(number=2).requested_by == "staff:fin_qian"
    # and a payout not failed is refused
    with pytest.raises(payouts.PayoutNotRetryable):
        payouts.retry_by_hand(p, user=staff)


def test_registered_jobs_sees_the_payout_job() -> None:
    names = [job.name for job in registered_jobs()]
    assert names.index("payment.expire_unpaid") < names.index("payment.query_stale_payouts")


def test_payout_retry_delays_back_off_and_stop() -> None:
    delays = [rules.payout_retry_delay(n) for n in range(1, rules.PAYOUT_MAX_ATTEMPTS + 1)]
    assert delays[:-1] == sorted(delays[:-1]) and all(d is not None for d in delays[:-1])
    assert delays[-1] is None and rules.payout_retry_delay(0) is None
    assert rules.out_biz_no("ab" * 16, 3) == rules.out_biz_no("ab" * 16, 3) != rules.out_biz_no("ab" * 16, 4)


# --- many at once (event-triggered payouts) ----------------------------------------------------


def _asks(count: int, *, amount: str = "300.00", start: int = 0) -> list[payouts.PayoutAsk]:
    return [
        payouts.PayoutAsk(
            kind="test_claim",
            reference=f"FL-{i}",
            amount=Decimal(amount),
            payee_name=f.PAYEE,
            account_number=f.account(f"{i:04d}"[-4:] if i % 10000 else "2345"),
        )
        for i in range(start, start + count)
    ]


def test_a_batch_makes_each_payout_once_with_one_enqueue(
    django_assert_max_num_queries, django_capture_on_commit_callbacks
) -> None:
    from django_tasks_db.models import DBTaskResult

    # given: two of the batch requested before, one by one
    single = f.request("FL-1", amount="300.00", account_number=_asks(2)[1].account_number)
    asks = _asks(40)
    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks, django_assert_max_num_queries(12):
        made = payouts.request_payouts([*asks, asks[5]])
    # then: one payout per reference, the earlier one kept, the repeated ask answered by the same
    assert len(made) == 41 and len({p.pk for p in made}) == 40 and made[1].pk == single.pk
    assert made[5].pk == made[40].pk
    assert Payout.objects.filter(reference__startswith="FL-").count() == 40
    assert AuditEntry.objects.filter(action="payout.requested").count() == 40
    assert len(callbacks) == 1
    # and the 39 new ones are queued as ONE batch task naming each of them
    task = DBTaskResult.objects.get(task_path="huibao.payment.tasks.submit_payouts_task")
    assert sorted(task.args_kwargs["args"][0]) == sorted({p.pk for p in made} - {single.pk})
    assert not DBTaskResult.objects.filter(task_path="huibao.payment.tasks.submit_payout_task").exists()
    # and the same batch again changes nothing
    again = payouts.request_payouts(asks)
    assert [p.pk for p in again] == [p.pk for p in made[:40]]
    assert AuditEntry.objects.filter(action="payout.requested").count() == 40


def test_a_large_batch_is_queued_in_tasks_of_submit_batch_payouts(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    from django_tasks_db.models import DBTaskResult

    from huibao.payment import tasks

    # given: batches of 8 payouts
    monkeypatch.setattr(tasks, "SUBMIT_BATCH", 8)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        made = payouts.request_payouts(_asks(20))
    # then: three tasks (8, 8, 4) naming every payout once, in order
    queued = DBTaskResult.objects.filter(task_path="huibao.payment.tasks.submit_payouts_task").order_by(
        "enqueued_at", "id"
    )
    assert sorted(len(t.args_kwargs["args"][0]) for t in queued) == [4, 8, 8]
    assert sorted(pk for t in queued for pk in t.args_kwargs["args"][0]) == sorted(p.pk for p in made)


def test_the_batch_task_sends_each_payout_on_its_own_and_queues_each_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django_tasks_db.models import DBTaskResult

    from huibao.payment.provider import PayoutProviderUnavailable
    from huibao.payment.tasks import submit_payouts_task
    from huibao.sandbox.adapters import SandboxPayoutProvider

    # given: four payouts; the second one's sending crashes, the third finds the provider away
    made = payouts.request_payouts(_asks(4))
    crash, away = made[1].account_number, made[2].account_number
    real = SandboxPayoutProvider.submit_payout

    def provider(self, request):  # type: ignore[no-untyped-def]
        if request.account_number == crash:
            raise RuntimeError("bug")
        if request.account_number == away:
            raise PayoutProviderUnavailable("read timeout")
        return real(self, request)

    monkeypatch.setattr(SandboxPayoutProvider, "submit_payout", provider)
    # when: the task fails (the crash), after sending the others
    with pytest.raises(RuntimeError, match="1 of 4 payouts"):
        submit_payouts_task.call([p.pk for p in made])
    # then: the first and last sent; the crashed one still due for the sweep; the third's retry
    # queued as its own task at its next attempt
    status = dict(Payout.objects.values_list("pk", "status"))
    assert [status[p.pk] for p in made] == ["submitted", "requested", "requested", "submitted"]
    assert made[1].pk in payouts.due_payouts(timezone.now())
    retry = DBTaskResult.objects.get(task_path="huibao.payment.tasks.submit_payout_task")
    made[2].refresh_from_db()
    assert retry.args_kwargs["args"] == [made[2].pk] and retry.run_after == made[2].next_attempt_at
    assert made[2].next_attempt_at is not None and made[2].next_attempt_at > timezone.now()


def test_a_batch_losing_the_race_to_the_insert_keeps_the_winner(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: another process inserted FL-3 after this batch looked (its first read saw nothing)
    asks = _asks(20)
    winner = f.request("FL-3", amount="300.00", account_number=asks[3].account_number)
    real = payouts._stored
    reads: list[int] = []

    def stored(keys):  # type: ignore[no-untyped-def]
        reads.append(1)
        return {} if len(reads) == 1 else real(keys)

    monkeypatch.setattr(payouts, "_stored", stored)
    # when: the insert (COPY on PostgreSQL) meets the taken reference
    made = payouts.request_payouts(asks)
    # then: the winner stands, the 19 others are made once, audited once
    assert made[3].pk == winner.pk and len({p.pk for p in made}) == 20
    assert Payout.objects.filter(reference__startswith="FL-").count() == 20
    assert AuditEntry.objects.filter(action="payout.requested").count() == 20


def test_a_batch_with_one_conflict_or_one_bad_ask_changes_nothing() -> None:
    # given
    f.request("FL-3", amount="1.00", account_number=_asks(4)[3].account_number)
    # when / then: another amount for FL-3
    with pytest.raises(payouts.PayoutConflict):
        payouts.request_payouts(_asks(10))
    # and a bad amount in the 7th ask, named by its index
    bad = _asks(10, start=20)
    bad[6] = payouts.PayoutAsk(
        kind="test_claim",
        reference="FL-26",
        amount=Decimal("0"),
        payee_name=f.PAYEE,
        account_number=f.GOOD_ACCOUNT,
    )
    with pytest.raises(ValidationFailed) as refused:
        payouts.request_payouts(bad)
    assert [e.field for e in refused.value.errors] == ["6.amount"]
    assert Payout.objects.count() == 1
