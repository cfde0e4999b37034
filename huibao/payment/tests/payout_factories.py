"""Payouts and the sandbox payout gateway's signed notifications, for tests."""

from __future__ import annotations

import datetime
import json
import secrets
from decimal import Decimal
from typing import Any

from django.utils import timezone
from stdnum import luhn

from huibao.payment import payouts
from huibao.payment.models import Payout
from huibao.sandbox import payout as sandbox


def account(suffix: str, prefix: str = "62220210") -> str:
    """A Luhn-valid 16-digit account number ending `suffix` (the sandbox's test accounts)."""
    for middle in range(10000):
        number = (prefix + f"{middle:04d}")[-(16 - len(suffix)) :] + suffix
        if luhn.is_valid(number):
            return number
    raise AssertionError(f"no Luhn-valid account ending {suffix}")


GOOD_ACCOUNT = account("2345")
NOT_FOUND_ACCOUNT = account("0000")
TIMEOUT_ONCE_ACCOUNT = account("1111")
PAYEE = "李四"


def request(
    ref: str = "C1",
    *,
    kind: str = "test_claim",
    amount: str = "1280.50",
    account_number: str = GOOD_ACCOUNT,
    **extra: Any,
) -> Payout:
    return payouts.request_payout(
        kind=kind,
        reference=ref,
        amount=Decimal(amount),
        payee_name=PAYEE,
        account_number=account_number,
        bank_name="中国工商银行",
        **extra,
    )


def after(seconds: float) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(seconds=seconds)


def forged_result(
    payout: Payout,
    *,
    status: str = "success",
    failure_code: str = "",
    reason: str = "",
    retryable: bool = False,
    notify_id: str | None = None,
    now: datetime.datetime | None = None,
    out_biz_no: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """A result notification signed exactly as the sandbox gateway signs its own."""
    notify_id = notify_id or "PN" + secrets.token_hex(16)
    body = json.dumps(
        {
            "notify_id": notify_id,
            "trade_no": payout.provider_trade_no,
            "out_biz_no": out_biz_no or payout.out_biz_no,
            "status": status,
            "amount_fen": int(payout.amount * 100),
            "failure_code": failure_code,
            "reason": reason,
            "retryable": retryable,
        },
        ensure_ascii=False,
    ).encode()
    return sandbox.signed_headers(notify_id, body, now or timezone.now()), body
