"""Policy and insurer-delivery statuses, and the transition tables every status change goes through.

Policy (`POLICY_TRANSITIONS`; every move through `huibao.policy.lifecycle.transition`)::

    pending_start ──effective_at reached──▶ in_force ──expires_at reached──▶ expired
         │                                   │  ▲
         │            instalment overdue ────┘  │ overdue paid (nothing else overdue)
         │                    ▼                 │
         │                 in_grace ────────────┘      in_grace ──end reached──▶ expired
         │                    │ grace over (billing lapses the schedule)
         │                    ▼
         │                 lapsed (已失效/中止) ──premiums owed paid──▶ reinstated
         │                    │                                         │ overdue again ──▶ in_grace
         │                    └──end reached──▶ expired                 └──end reached──▶ expired
         │
         ├── cooling-off cancellation (pending_start, in_force) ──▶ cancelled_cooling_off
         ├── surrender (pending_start past its cooling-off — a policy starting months after
         │   its sale —, in_force, in_grace, lapsed: cash value, reinstated) ──▶ surrendered
         └── termination (any open status: rescission, death claim…) ──▶ terminated

    expired, cancelled_cooling_off, surrendered and terminated are final. A policy covers the
    insured in `COVERED_STATUSES` (in_force, in_grace, reinstated); `LIVE_POLICY_STATUSES` adds
    pending_start (it will cover: counts towards aggregate limits).

Insurer delivery (承保信息回传)::

    pending ──send ok──▶ sent ──signed ack──▶ acknowledged
       │                  │ no ack in time: sent again (sent → sent) or failed
       └──send fails──▶ failed ──retry (backoff)──▶ sent / failed … ──N attempts──▶ gave_up
                                                    gave_up ──"立即重试"──▶ sent / failed
    A late acknowledgement is accepted from any open status (the insurer has the policy).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class PolicyStatus(models.TextChoices):
    PENDING_START = "pending_start", _("待生效")
    IN_FORCE = "in_force", _("保障中")
    IN_GRACE = "in_grace", _("宽限期")
    LAPSED = "lapsed", _("已失效（中止）")
    REINSTATED = "reinstated", _("已复效")
    EXPIRED = "expired", _("已满期")
    CANCELLED_COOLING_OFF = "cancelled_cooling_off", _("犹豫期退保")
    SURRENDERED = "surrendered", _("已退保")
    TERMINATED = "terminated", _("已终止")


P = PolicyStatus
POLICY_TRANSITIONS: dict[str, frozenset[str]] = {
    P.PENDING_START: frozenset({P.IN_FORCE, P.CANCELLED_COOLING_OFF, P.SURRENDERED, P.TERMINATED}),
    P.IN_FORCE: frozenset({P.IN_GRACE, P.EXPIRED, P.CANCELLED_COOLING_OFF, P.SURRENDERED, P.TERMINATED}),
    P.IN_GRACE: frozenset({P.IN_FORCE, P.LAPSED, P.SURRENDERED, P.TERMINATED, P.EXPIRED}),
    # surrendered from lapsed: the cash value is paid out
    P.LAPSED: frozenset({P.REINSTATED, P.TERMINATED, P.SURRENDERED, P.EXPIRED}),
    # the cooling-off period is long over when a policy is reinstated
    P.REINSTATED: frozenset({P.IN_GRACE, P.EXPIRED, P.SURRENDERED, P.TERMINATED}),
    P.EXPIRED: frozenset(),
    P.CANCELLED_COOLING_OFF: frozenset(),
    P.SURRENDERED: frozenset(),
    P.TERMINATED: frozenset(),
}
FINAL_POLICY_STATUSES = frozenset(s for s, targets in POLICY_TRANSITIONS.items() if not targets)
# The policy covers the insured.
COVERED_STATUSES = frozenset({P.IN_FORCE, P.IN_GRACE, P.REINSTATED})
# Will cover or covers: what aggregate limits per insured person count.
LIVE_POLICY_STATUSES = frozenset({P.PENDING_START}) | COVERED_STATUSES


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENT = "sent", _("已发送待确认")
    ACKNOWLEDGED = "acknowledged", _("保险公司已确认")
    FAILED = "failed", _("发送失败待重试")
    GAVE_UP = "gave_up", _("多次失败需人工处理")


class DeliveryKind(models.TextChoices):
    """What a delivery tells the insurer: an issued policy (承保信息回传), an applied
    endorsement (批改信息回传) or a confirmed cancellation or surrender (退保信息回传)."""

    POLICY = "policy", _("承保")
    ENDORSEMENT = "endorsement", _("批改")
    CANCELLATION = "cancellation", _("退保")


D = DeliveryStatus
DELIVERY_TRANSITIONS: dict[str, frozenset[str]] = {
    D.PENDING: frozenset({D.SENT, D.FAILED, D.GAVE_UP, D.ACKNOWLEDGED}),
    D.SENT: frozenset({D.SENT, D.FAILED, D.GAVE_UP, D.ACKNOWLEDGED}),
    D.FAILED: frozenset({D.SENT, D.FAILED, D.GAVE_UP, D.ACKNOWLEDGED}),
    D.GAVE_UP: frozenset({D.SENT, D.FAILED, D.GAVE_UP, D.ACKNOWLEDGED}),
    D.ACKNOWLEDGED: frozenset(),
}
# Deliveries a sweep may (re)send once `next_attempt_at` is due; `sent` ones are due again when no
# acknowledgement came within the acknowledgement timeout.
RETRYABLE_DELIVERY_STATUSES = frozenset({D.PENDING, D.FAILED, D.SENT})


# --- the parties' vocabulary (the application uses the same values when it collects them) ---


class Relation(models.TextChoices):
    """Relation of the insured (or a beneficiary) to the applicant."""

    SELF = "self", _("本人")
    SPOUSE = "spouse", _("配偶")
    CHILD = "child", _("子女")
    PARENT = "parent", _("父母")


class BeneficiaryMode(models.TextChoices):
    LEGAL = "legal", _("法定受益人")
    NAMED = "named", _("指定受益人")


class Channel(models.TextChoices):
    WEB = "web", _("官网")
    APP = "app", _("App")
    AGENT = "agent", _("代理人")
    API = "api", _("API")
    PARTNER = "partner", _("合作渠道")


class PartyRole(models.TextChoices):
    HOLDER = "holder", _("投保人")
    INSURED = "insured", _("被保险人")


# --- reinstatement referred to staff (复效人工核保) ---------------------------------------------
class ReferralStatus(models.TextChoices):
    """A reinstatement whose health answers need underwriting::

    referred ──staff──▶ approved (the customer pays what is owed without answering again)
    referred ──staff──▶ declined (with a reason; no online reinstatement for that lapse)
    referred ──the policy leaves "lapsed" (reinstated otherwise, terminated)──▶ closed
    """

    REFERRED = "referred", _("待人工核保")
    APPROVED = "approved", _("核保通过")
    DECLINED = "declined", _("核保未通过")
    CLOSED = "closed", _("已关闭")


RR = ReferralStatus
REFERRAL_TRANSITIONS: dict[str, frozenset[str]] = {
    RR.REFERRED: frozenset({RR.APPROVED, RR.DECLINED, RR.CLOSED}),
    RR.APPROVED: frozenset({RR.CLOSED}),
    RR.DECLINED: frozenset(),
    RR.CLOSED: frozenset(),
}


# --- endorsements (批改/保全) ------------------------------------------------------------------
class EndorsementStatus(models.TextChoices):
    """An endorsement's life::

    requested ──code sent──▶ awaiting_confirmation ──code right──▶ [pending_approval ──staff──▶]
        approved ──[premium to pay: awaiting_payment ──paid──▶] applied
    pending_approval ──staff──▶ rejected; open ones ──customer──▶ withdrawn;
    unconfirmed or unpaid after N days ──sweep──▶ expired
    """

    REQUESTED = "requested", _("待确认")
    AWAITING_CONFIRMATION = "awaiting_confirmation", _("待短信确认")
    PENDING_APPROVAL = "pending_approval", _("待审核")
    APPROVED = "approved", _("审核通过")
    AWAITING_PAYMENT = "awaiting_payment", _("待补缴保费")
    APPLIED = "applied", _("已生效")
    REJECTED = "rejected", _("未通过")
    WITHDRAWN = "withdrawn", _("已撤销")
    EXPIRED = "expired", _("已过期")


E = EndorsementStatus
ENDORSEMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    E.REQUESTED: frozenset({E.AWAITING_CONFIRMATION, E.WITHDRAWN, E.EXPIRED}),
    E.AWAITING_CONFIRMATION: frozenset(
        {E.AWAITING_CONFIRMATION, E.PENDING_APPROVAL, E.APPROVED, E.WITHDRAWN, E.EXPIRED}
    ),
    E.PENDING_APPROVAL: frozenset({E.APPROVED, E.REJECTED, E.WITHDRAWN}),
    E.APPROVED: frozenset({E.AWAITING_PAYMENT, E.APPLIED}),
    E.AWAITING_PAYMENT: frozenset({E.APPLIED, E.WITHDRAWN, E.EXPIRED}),
    E.APPLIED: frozenset(),
    E.REJECTED: frozenset(),
    E.WITHDRAWN: frozenset(),
    E.EXPIRED: frozenset(),
}
OPEN_ENDORSEMENT_STATUSES = frozenset(
    {E.REQUESTED, E.AWAITING_CONFIRMATION, E.PENDING_APPROVAL, E.APPROVED, E.AWAITING_PAYMENT}
)
# Open ones the customer may still withdraw (not once approved and being applied).
WITHDRAWABLE_STATUSES = frozenset(
    {E.REQUESTED, E.AWAITING_CONFIRMATION, E.PENDING_APPROVAL, E.AWAITING_PAYMENT}
)
# --- cancellation (退保) -------------------------------------------------------------------------


class CancellationKind(models.TextChoices):
    COOLING_OFF = "cooling_off", _("犹豫期退保")
    SURRENDER = "surrender", _("退保")


class CancellationStatus(models.TextChoices):
    """A cancellation request (`CANCELLATION_TRANSITIONS`)::

    quoted ──code sent──▶ awaiting_confirmation ──code right──▶ confirmed ──▶ refunding ──▶ completed
       └──────────┴──withdrawn by the customer          confirmed ──nothing to refund──▶ completed
                            refunding ──provider refused──▶ refund_failed ──retry──▶ refunding
    """

    QUOTED = "quoted", _("已试算")
    AWAITING_CONFIRMATION = "awaiting_confirmation", _("待确认")
    CONFIRMED = "confirmed", _("已确认")
    REFUNDING = "refunding", _("退款中")
    COMPLETED = "completed", _("已完成")
    REFUND_FAILED = "refund_failed", _("退款失败")
    WITHDRAWN = "withdrawn", _("已撤回")


C = CancellationStatus
CANCELLATION_TRANSITIONS: dict[str, frozenset[str]] = {
    C.QUOTED: frozenset({C.QUOTED, C.AWAITING_CONFIRMATION, C.WITHDRAWN}),
    C.AWAITING_CONFIRMATION: frozenset({C.AWAITING_CONFIRMATION, C.CONFIRMED, C.WITHDRAWN}),
    C.CONFIRMED: frozenset({C.REFUNDING, C.COMPLETED}),
    C.REFUNDING: frozenset({C.COMPLETED, C.REFUND_FAILED}),
    C.REFUND_FAILED: frozenset({C.REFUNDING}),
    C.COMPLETED: frozenset(),
    C.WITHDRAWN: frozenset(),
}
# Not yet confirmed: the customer may change the reason, ask for a new code or withdraw.
CANCELLATION_PENDING_STATUSES = frozenset({C.QUOTED, C.AWAITING_CONFIRMATION})
# Confirmed: the policy is cancelled, the refund is under way or done.
CANCELLATION_CONFIRMED_STATUSES = frozenset({C.CONFIRMED, C.REFUNDING, C.REFUND_FAILED, C.COMPLETED})


class CancellationReason(models.TextChoices):
    """Why the customer cancels (a short list; `other` with the customer's own words)."""

    NO_LONGER_NEEDED = "no_longer_needed", _("不再需要这份保障")
    FOUND_BETTER = "found_better", _("找到更合适的产品")
    TOO_EXPENSIVE = "too_expensive", _("保费负担较重")
    MISUNDERSTOOD = "misunderstood", _("对保障内容理解有误")
    FINANCIAL = "financial", _("资金周转需要")
    OTHER = "other", _("其他原因")


class RefundPartStatus(models.TextChoices):
    PENDING = "pending", _("待退款")
    SUCCEEDED = "succeeded", _("已退款")
    FAILED = "failed", _("退款失败")


CANCELLATION_REASON_TEXT_MAX = 200
