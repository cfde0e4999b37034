"""How each insurer's claims are decided, and the claim's delivery to an insurer that decides in
its own system (理赔信息回传): statuses and the transition table `insurer.deliver_claim` and
`insurer.handle_claim_notice` go through.

    pending ──sent──▶ sent ──insurer took it──▶ received ──decision──▶ decided ──paid──▶ paid
    pending | failed ──failed──▶ failed ──attempts used up──▶ gave_up ──"催办"/retry──▶ sent | failed
    sent ──no notice in time──▶ sent again (the insurer de-duplicates by claim number)

A claim withdrawn by the customer while with the insurer ends the delivery (`withdrawn`).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop


class DecisionMode(models.TextChoices):
    CONNECTOR = "connector", _("保险公司系统审核（接口对接）")
    BACK_OFFICE = "back_office", _("保险公司理赔员在汇保后台审核")


class Payer(models.TextChoices):
    INSURER = "insurer", _("保险公司直接赔付客户")
    PLATFORM = "platform", _("汇保代为支付")


class ClaimDeliveryStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")
    GAVE_UP = "gave_up", _("已放弃重试")
    RECEIVED = "received", _("保险公司已受理")
    DECIDED = "decided", _("保险公司已决定")
    PAID = "paid", _("保险公司已赔付")
    WITHDRAWN = "withdrawn", _("客户已撤案")


D = ClaimDeliveryStatus
DELIVERY_TRANSITIONS: dict[str, frozenset[str]] = {
    # The insurer may have the claim although our send's answer was lost: its notices count.
    D.PENDING: frozenset({D.SENT, D.FAILED, D.GAVE_UP, D.RECEIVED, D.DECIDED, D.WITHDRAWN}),
    D.FAILED: frozenset({D.SENT, D.FAILED, D.GAVE_UP, D.RECEIVED, D.DECIDED, D.WITHDRAWN}),
    D.GAVE_UP: frozenset({D.SENT, D.FAILED, D.GAVE_UP, D.RECEIVED, D.DECIDED, D.WITHDRAWN}),
    # Sent again when no notice came in time; a notice may come before the send's answer did.
    D.SENT: frozenset({D.SENT, D.FAILED, D.GAVE_UP, D.RECEIVED, D.DECIDED, D.WITHDRAWN}),
    D.RECEIVED: frozenset({D.DECIDED, D.WITHDRAWN}),
    D.DECIDED: frozenset({D.PAID}),
    D.PAID: frozenset(),
    D.WITHDRAWN: frozenset(),
}
# Worth (re)sending: the insurer may not have the claim yet.
RESENDABLE = frozenset({D.PENDING, D.FAILED, D.GAVE_UP, D.SENT})
# With the insurer, not decided yet.
AWAITING_DECISION = frozenset({D.PENDING, D.FAILED, D.GAVE_UP, D.SENT, D.RECEIVED})


class NoticeOutcome(models.TextChoices):
    APPLIED = "applied", _("已处理")
    DUPLICATE = "duplicate", _("重复通知")
    STALE = "stale", _("过期步骤（已忽略）")
    DEFERRED = "deferred", _("先于前序步骤到达（待处理）")
    REFUSED = "refused", _("验签失败")
    REJECTED = "rejected", _("内容不符")


# The order of an insurer's steps: a notice of an earlier step than the delivery's is stale.
NOTICE_STAGE: dict[str, int] = {"received": 1, "decision": 2, "paid": 3}
STATUS_STAGE: dict[str, int] = {D.RECEIVED: 1, D.DECIDED: 2, D.PAID: 3}

# The customer's timeline lines of the insurer's steps (Chinese msgids; pages translate).
FORWARDED_LINE = gettext_noop("已转保险公司审核")
INSURER_APPROVED_LINE = gettext_noop("保险公司审核通过")
INSURER_PARTIAL_LINE = gettext_noop("保险公司部分赔付")
INSURER_DENIED_LINE = gettext_noop("保险公司未予赔付")
INSURER_PAYING_LINE = gettext_noop("保险公司赔付中")
INSURER_PAID_LINE = gettext_noop("保险公司已赔付")
