"""Payment statuses and the transition table every status change goes through."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("已创建")
    PENDING = "pending", _("待支付")
    SUCCEEDED = "succeeded", _("支付成功")
    FAILED = "failed", _("支付失败")
    EXPIRED = "expired", _("已过期")
    # The gateway took the money but the platform may not keep it (payer is not the applicant,
    # or the amount differs): the payment is refused and the whole amount refunded at once.
    REFUSED = "refused", _("已拒收并退款")
    REFUNDED = "refunded", _("已退款")
    PARTIALLY_REFUNDED = "partially_refunded", _("部分退款")


S = PaymentStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.CREATED: frozenset({S.PENDING, S.FAILED, S.EXPIRED}),
    S.PENDING: frozenset({S.SUCCEEDED, S.FAILED, S.EXPIRED, S.REFUSED}),
    S.SUCCEEDED: frozenset({S.REFUNDED, S.PARTIALLY_REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.FAILED: frozenset(),
    S.EXPIRED: frozenset(),
    S.REFUSED: frozenset(),
    S.REFUNDED: frozenset(),
}
# Statuses in which the payer may still pay.
OPEN_STATUSES = frozenset({S.CREATED, S.PENDING})


class RefundStatus(models.TextChoices):
    SUCCEEDED = "succeeded", _("退款成功")
    FAILED = "failed", _("退款失败")


class PayoutStatus(models.TextChoices):
    """A payout (money out to a customer's bank account): requested by the domain that owes it,
    submitted to the provider, then succeeded, or failed — retried while attempts remain, else
    given up (final: `payout_failed` is announced)."""

    REQUESTED = "requested", _("待提交")
    SUBMITTED = "submitted", _("已提交银行")
    SUCCEEDED = "succeeded", _("已到账")
    FAILED = "failed", _("付款失败待重试")
    GIVEN_UP = "given_up", _("付款失败")


P = PayoutStatus
PAYOUT_TRANSITIONS: dict[str, frozenset[str]] = {
    P.REQUESTED: frozenset({P.SUBMITTED, P.FAILED}),
    P.SUBMITTED: frozenset({P.SUCCEEDED, P.FAILED}),
    # failed → failed: a retry the provider refused at once (a synchronous refusal).
    P.FAILED: frozenset({P.SUBMITTED, P.FAILED, P.GIVEN_UP}),
    P.SUCCEEDED: frozenset(),
    P.GIVEN_UP: frozenset(),
}
PAYOUT_FINAL_STATUSES = frozenset({P.SUCCEEDED, P.GIVEN_UP})


class PayoutAttemptStatus(models.TextChoices):
    SUBMITTED = "submitted", _("处理中")
    REFUSED = "refused", _("银行拒绝受理")
    SUCCEEDED = "succeeded", _("成功")
    FAILED = "failed", _("失败")
