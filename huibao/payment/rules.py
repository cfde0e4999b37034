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
