"""Pure payment rules: notification freshness, retry schedule, sandbox test cards, real-name match.

No ORM, no I/O.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Literal

from huibao.core.validators import normalise_person_name
from huibao.payment.states import PaymentStatus

# A notification older (or further in the future) than this is refused as stale.
NOTIFY_MAX_AGE = datetime.timedelta(minutes=5)
# Delays between delivery attempts of one notification (the schedule WeChat Pay documents):
# after the last one the gateway gives up and the platform's `query` reconciles.
RETRY_DELAYS = tuple(
    datetime.timedelta(seconds=s)
    for s in (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600)
)

CardOutcome = Literal["success", "declined", "expired"]
# Sandbox test cards, by their last four digits (any Luhn-valid number; others succeed).
DECLINING_SUFFIX = "0002"
EXPIRING_SUFFIX = "0069"


def is_stale(
    sent_at: datetime.datetime, now: datetime.datetime, max_age: datetime.timedelta = NOTIFY_MAX_AGE
) -> bool:
    return abs(now - sent_at) > max_age


def retry_delay(attempts: int) -> datetime.timedelta | None:
    """Delay before the next attempt after `attempts` failed ones; None once the schedule is spent."""
    if attempts < 1 or attempts > len(RETRY_DELAYS):
        return None
    return RETRY_DELAYS[attempts - 1]


def card_outcome(card_number: str) -> CardOutcome:
    if card_number.endswith(DECLINING_SUFFIX):
        return "declined"
    if card_number.endswith(EXPIRING_SUFFIX):
        return "expired"
    return "success"


def normalise_name(name: str) -> str:
    """As everywhere a person's name is compared (whitespace dropped, the middle dot's look-alikes
    as U+00B7): `huibao.core.validators.normalise_person_name`."""
    return normalise_person_name(name)


def payer_is_applicant(expected_name: str, expected_id: str, payer_name: str, payer_id: str) -> bool:
    """Real-name payment: the payer's name and ID number are the applicant's (spaces, case aside)."""
    return normalise_name(expected_name) == normalise_name(payer_name) and (
        expected_id.strip().upper() == payer_id.strip().upper()
    )


def status_after_refund(amount: Decimal, refunded_total: Decimal) -> PaymentStatus:
    return PaymentStatus.REFUNDED if refunded_total >= amount else PaymentStatus.PARTIALLY_REFUNDED


# --- why a payment failed or was refused, as the payer reads it ---------------------------------

# A payment that ended unpaid (failed or expired), by the provider's reason code: what the payer
# reads instead of the code, and what to do next.
FAILURE_REASONS = {
    "card_declined": "银行卡被发卡行拒绝，请换一张本人名下的银行卡重试",
    "insufficient_funds": "银行卡余额不足，请换一张卡或充值后重试",
    "payer_cancelled": "您取消了支付",
    "transaction_expired": "交易超时关闭",
    "checkout_expired": "支付已超时",
    "not_paid_in_time": "支付已超时",
    "expired": "支付已超时",
}


def failure_text(reason: str) -> str:
    """The reason a payment ended unpaid in the payer's words (never the provider's raw code)."""
    return FAILURE_REASONS.get(reason, "支付未完成")


# A payment the platform refused after the money arrived (status `refused`), by failure reason.
REFUSAL_REASONS = {
    "payer_not_applicant": "付款人须为投保人本人",
    "amount_mismatch": "支付金额与订单金额不符",
}
# How long a refund takes to reach the payer's account, back the way it was paid.
REFUND_ARRIVAL = "1–7个工作日"


def refusal_text(reason: str, refunded: Decimal, refunded_on: datetime.date | None) -> str:
    """The refusal in the payer's words: why, how much is refunded, and when it arrives."""
    why = REFUSAL_REASONS.get(reason, "付款未通过平台校验")
    if refunded > 0:
        when = f"已于{refunded_on.year}年{refunded_on.month}月{refunded_on.day}日" if refunded_on else "已"
        return (
            f"{why}，本次付款已拒收。{when}全额退款 ¥{refunded:,.2f}，按原支付方式退回付款账户，"
            f"预计{REFUND_ARRIVAL}到账。"
        )
    return f"{why}，本次付款已拒收，退款正在处理，到账前客服会与您联系。"


# --- payouts (money out to a bank account) -----------------------------------------------------

# Attempts (submissions) of one payout before a retryable failure is given up.
PAYOUT_MAX_ATTEMPTS = 4
# Delay before the next submission after `attempts` failed ones (retryable failures only).
PAYOUT_RETRY_DELAYS = tuple(datetime.timedelta(minutes=m) for m in (1, 10, 60))
# A submitted payout with no result after this long is asked about (`query_payout`).
PAYOUT_QUERY_AFTER = datetime.timedelta(minutes=10)

# Failure codes the platform knows, with the reason finance and the customer read. A provider
# sends its own Chinese reason too; these are the fall-back for a code without one.
PAYOUT_FAILURE_REASONS = {
    "ACCOUNT_NOT_FOUND": "账户不存在",
    "PAYEE_NAME_MISMATCH": "收款人姓名与账户不符",
    "BANK_TIMEOUT": "银行处理超时",
    "SYSTEM_BUSY": "支付机构系统繁忙",
    "ACCOUNT_FROZEN": "收款账户已冻结",
    "PROVIDER_UNAVAILABLE": "支付机构暂时无法连接",
}


def payout_reason(code: str, reason: str = "") -> str:
    """The Chinese reason of a failure: the provider's, else the platform's for the code."""
    return reason.strip() or PAYOUT_FAILURE_REASONS.get(code, "付款失败")


def payout_retry_delay(
    attempts: int, *, max_attempts: int = PAYOUT_MAX_ATTEMPTS
) -> datetime.timedelta | None:
    """Delay before the next submission after `attempts` ones, the last of which failed in a
    retryable way; None once the attempts are spent (the payout is given up)."""
    if attempts < 1 or attempts >= max_attempts:
        return None
    return PAYOUT_RETRY_DELAYS[min(attempts, len(PAYOUT_RETRY_DELAYS)) - 1]


def out_biz_no(payout_public_hex: str, attempt: int) -> str:
    """The merchant's number of one submission (`out_biz_no`): the same attempt of the same payout
    always gets the same number, so a provider that is idempotent on it never pays it twice; the
    next attempt gets a new one, as the gateways require after a failed transfer."""
    return f"PO{payout_public_hex[:24].upper()}{attempt:02d}"


def mask_account(last4: str) -> str:
    return f"**** {last4}" if last4 else "—"
