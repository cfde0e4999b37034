"""The sandbox payout gateway: a bank transfer / 企业付款 API run in-process.

A submission is answered at once — accepted with a trade number, or refused (`SYSTEM_BUSY`,
retryable, when the fault injector says so: `HUIBAO_PAYOUT_SANDBOX_FAILURE_RATE` or
`PAYOUT_FAULTS.force(n)`) — and the transfer's result is notified later, HMAC-SHA256 signed, on
the "payout" channel of `notifications` (first attempt `HUIBAO_PAYOUT_SANDBOX_DELAY` seconds after
the submission, retried on the payment schedule until acknowledged). Idempotent on `out_biz_no`:
the same number returns the same transfer, never a second one.

Test accounts, by their last four digits (any Luhn-valid number):
- ending 0000: fails with ACCOUNT_NOT_FOUND 账户不存在 (not retryable);
- ending 1111: the first transfer to the account fails with BANK_TIMEOUT 银行处理超时
  (retryable), the next one succeeds;
- any other: succeeds.
"""

from __future__ import annotations

import datetime
import secrets

from django.conf import settings
from django.db import transaction
from django.tasks import task_backends
from django.utils import timezone

from huibao.core.fields import lookup_hash
from huibao.payment import rules
from huibao.sandbox import notifications
from huibao.sandbox.faults import FaultInjector
from huibao.sandbox.models import SandboxPayout, SandboxPayoutStatus
from huibao.sandbox.notifications import SandboxError

HEADER_TIMESTAMP = "Huibao-Payout-Timestamp"
HEADER_NOTIFY_ID = "Huibao-Payout-Notify-Id"
HEADER_SIGNATURE = "Huibao-Payout-Signature"
NOT_FOUND_SUFFIX = "0000"
TIMEOUT_ONCE_SUFFIX = "1111"
ACCOUNT_CONTEXT = "sandbox.payout.account"
# Submissions refused at once as 系统繁忙, on demand or at the configured rate.
PAYOUT_FAULTS = FaultInjector("HUIBAO_PAYOUT_SANDBOX_FAILURE_RATE")


def sandbox_secret() -> bytes:
    return notifications.derived_secret("PAYOUT_SANDBOX_SECRET", "payout-sandbox")


CHANNEL = notifications.register(
    notifications.Channel(
        name="payout",
        model=SandboxPayout,
        key_field="trade_no",
        secret=sandbox_secret,
        headers=(HEADER_TIMESTAMP, HEADER_NOTIFY_ID, HEADER_SIGNATURE),
        retry_delay=rules.retry_delay,
    )
)


class Refused(Exception):
    def __init__(self, code: str, reason: str, *, retryable: bool) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.retryable = retryable


def result_delay() -> datetime.timedelta:
    return datetime.timedelta(seconds=int(getattr(settings, "HUIBAO_PAYOUT_SANDBOX_DELAY", 3) or 0))


def _outcome(account_number: str, account_hash: str) -> tuple[str, str, str, bool]:
    """(status, failure code, reason, retryable) the bank gives a transfer to this account."""
    if account_number.endswith(NOT_FOUND_SUFFIX):
        return SandboxPayoutStatus.FAILED, "ACCOUNT_NOT_FOUND", "账户不存在", False
    if account_number.endswith(TIMEOUT_ONCE_SUFFIX):
        earlier = SandboxPayout.objects.filter(account_hash=account_hash).exists()
        if not earlier:
            return SandboxPayoutStatus.FAILED, "BANK_TIMEOUT", "银行处理超时，请稍后重试", True
    return SandboxPayoutStatus.SUCCESS, "", "", False


def _owe_later(trade_no: str, due: datetime.datetime) -> None:
    """The first delivery at `due`: deferred where the backend can, else the sweep finds it due."""
    from huibao.sandbox.tasks import deliver_notification

    def enqueue() -> None:
        if task_backends[deliver_notification.backend].supports_defer:
            deliver_notification.using(run_after=due).enqueue(CHANNEL.name, trade_no)

    transaction.on_commit(enqueue)


def submit(*, out_biz_no: str, amount_fen: int, payee_name: str, account_number: str, notify_url: str) -> str:
    """Takes a transfer; returns its trade number, or raises `Refused` (nothing taken)."""
    with transaction.atomic():
        existing = SandboxPayout.objects.select_for_update().filter(out_biz_no=out_biz_no).first()
        if existing is not None:
            return existing.trade_no
        if PAYOUT_FAULTS.take():
            raise Refused("SYSTEM_BUSY", "系统繁忙，请稍后再试", retryable=True)
        if amount_fen <= 0:
            raise Refused("INVALID_AMOUNT", "付款金额无效", retryable=False)
        account_hash = lookup_hash(account_number, context=ACCOUNT_CONTEXT)
        status, code, reason, retryable = _outcome(account_number, account_hash)
        now = timezone.now()
        row = SandboxPayout(
            trade_no="SPO" + secrets.token_hex(12).upper(),
            out_biz_no=out_biz_no,
            amount_fen=amount_fen,
            payee_name=payee_name,
            account_number=account_number,
            account_hash=account_hash,
            notify_url=notify_url,
            # Decided now, told later (as a bank's transfer result arrives after the acceptance).
            status=status,
            failure_code=code,
            reason=reason,
            retryable=retryable,
        )
        notify_id = "PN" + secrets.token_hex(16)
        body = {
            "notify_id": notify_id,
            "trade_no": row.trade_no,
            "out_biz_no": out_biz_no,
            "status": status,
            "amount_fen": amount_fen,
            "failure_code": code,
            "reason": reason,
            "retryable": retryable,
        }
        due = now + result_delay()
        notifications.compose(row, notify_id, body, now=due)
        row.save()
        _owe_later(row.trade_no, due)
        return row.trade_no


def get(trade_no: str) -> SandboxPayout:
    row = SandboxPayout.objects.filter(trade_no=trade_no).first()
    if row is None:
        raise SandboxError(f"no sandbox payout '{trade_no}'")
    return row


def by_out_biz_no(out_biz_no: str) -> SandboxPayout | None:
    return SandboxPayout.objects.filter(out_biz_no=out_biz_no).first()


def reported(row: SandboxPayout, *, now: datetime.datetime | None = None) -> str:
    """What a query answers: the result once its notification is due, "processing" before."""
    due = row.next_attempt_at if row.acknowledged_at is None and row.attempts == 0 else None
    if due is not None and due > (now or timezone.now()):
        return SandboxPayoutStatus.PROCESSING
    return row.status


def deliver(trade_no: str, *, now: datetime.datetime | None = None) -> bool:
    """One delivery attempt of the transfer's result notification."""
    return notifications.deliver(CHANNEL.name, trade_no, now=now)


def signed_headers(notify_id: str, body: bytes, now: datetime.datetime) -> dict[str, str]:
    return notifications.channel_headers(CHANNEL.name, notify_id, body, now)
