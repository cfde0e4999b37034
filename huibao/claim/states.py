"""Claim statuses and the transition table every status change goes through
(`huibao.claim.lifecycle.transition`).

    reported ──checklist complete, submitted──▶ materials_complete ──▶ under_review
    materials_complete ──fraud screen holds it──▶ on_hold ──hold released──▶ under_review
    under_review ──▶ info_requested ──materials added──▶ under_review
    under_review ──▶ investigating ──▶ under_review
    under_review ──▶ approved (full or partial) | denied
    approved ──▶ paying ──▶ paid | payment_failed ──retry──▶ paying
    denied | approved (partial) | paid (partial) ──▶ appealed ──▶ under_review
    paid | denied ──▶ closed;  appealed ──dismissed──▶ closed
    paid ──reopened (fraud found later)──▶ under_review  (a re-decision: `recoveries.reopen_claim`)
    any open status ──▶ withdrawn (by the customer)

The fast track moves materials_complete straight to approved (decided by the system).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop


class ClaimStatus(models.TextChoices):
    REPORTED = "reported", _("已报案")
    MATERIALS_COMPLETE = "materials_complete", _("材料齐全")
    # The fraud screen holds it until a related check clears (huibao.fraud.holds): nobody decides
    # it and no adjuster's queue shows it as decidable.
    ON_HOLD = "on_hold", _("暂缓处理")
    UNDER_REVIEW = "under_review", _("审核中")
    INFO_REQUESTED = "info_requested", _("待补充材料")
    INVESTIGATING = "investigating", _("调查中")
    APPROVED = "approved", _("审核通过")
    DENIED = "denied", _("拒赔")
    PAYING = "paying", _("支付中")
    PAID = "paid", _("已赔付")
    PAYMENT_FAILED = "payment_failed", _("支付失败")
    APPEALED = "appealed", _("申诉中")
    WITHDRAWN = "withdrawn", _("已撤案")
    CLOSED = "closed", _("已结案")


class DecisionKind(models.TextChoices):
    APPROVE = "approve", _("全额赔付")
    PARTIAL = "partial", _("部分赔付")
    DENY = "deny", _("拒赔")


S = ClaimStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.REPORTED: frozenset({S.MATERIALS_COMPLETE, S.WITHDRAWN}),
    S.MATERIALS_COMPLETE: frozenset({S.UNDER_REVIEW, S.ON_HOLD, S.APPROVED, S.DENIED, S.WITHDRAWN}),
    S.ON_HOLD: frozenset({S.UNDER_REVIEW, S.WITHDRAWN}),
    S.UNDER_REVIEW: frozenset({S.INFO_REQUESTED, S.INVESTIGATING, S.APPROVED, S.DENIED, S.WITHDRAWN}),
    S.INFO_REQUESTED: frozenset({S.UNDER_REVIEW, S.WITHDRAWN}),
    S.INVESTIGATING: frozenset({S.UNDER_REVIEW, S.WITHDRAWN}),
    S.APPROVED: frozenset({S.PAYING, S.APPEALED}),
    S.DENIED: frozenset({S.APPEALED, S.CLOSED}),
    S.PAYING: frozenset({S.PAID, S.PAYMENT_FAILED}),
    S.PAYMENT_FAILED: frozenset({S.PAYING}),
    S.PAID: frozenset({S.APPEALED, S.CLOSED, S.UNDER_REVIEW}),
    # Upheld → a new review; dismissed → closed (the decision stands).
    S.APPEALED: frozenset({S.UNDER_REVIEW, S.CLOSED, S.WITHDRAWN}),
    S.WITHDRAWN: frozenset(),
    S.CLOSED: frozenset(),
}
FINAL_STATUSES = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
# Waiting for the platform or the insurer: what the customer may still withdraw.
OPEN_STATUSES = frozenset(s for s, targets in TRANSITIONS.items() if S.WITHDRAWN in targets)
# The customer may add (or remove) materials.
MATERIALS_OPEN = frozenset({S.REPORTED, S.INFO_REQUESTED, S.APPEALED})
# Removing a material is allowed before review only.
REMOVABLE = frozenset({S.REPORTED})

# What the customer's timeline says of each status (Chinese msgids, kept as is on the row; the
# pages translate them).
CUSTOMER_LINES: dict[str, str] = {
    S.REPORTED: gettext_noop("报案成功，请上传理赔材料"),
    S.MATERIALS_COMPLETE: gettext_noop("材料已齐全，等待审核"),
    S.ON_HOLD: gettext_noop("理赔审核中，相关核查完成后将继续处理"),
    S.UNDER_REVIEW: gettext_noop("理赔审核中"),
    S.INFO_REQUESTED: gettext_noop("需要补充材料"),
    S.INVESTIGATING: gettext_noop("案件调查中"),
    S.APPROVED: gettext_noop("审核通过，即将赔付"),
    S.DENIED: gettext_noop("很抱歉，本次理赔未能通过"),
    S.PAYING: gettext_noop("赔款支付中"),
    S.PAID: gettext_noop("赔款已到账"),
    S.PAYMENT_FAILED: gettext_noop("赔款支付失败，我们将重新支付"),
    S.APPEALED: gettext_noop("申诉已受理"),
    S.WITHDRAWN: gettext_noop("已撤销报案"),
    S.CLOSED: gettext_noop("已结案"),
}


class DecisionReason(models.TextChoices):
    """Why a claim is denied or paid in part (a denial and a partial payment need one); the
    customer reads the label with the clause quoted and the adjuster's note."""

    NOT_COVERED = "not_covered", _("不属于保险责任范围")
    EXCLUSION = "exclusion", _("属于责任免除情形")
    WAITING_PERIOD = "waiting_period", _("出险时间在等待期内")
    NOT_IN_FORCE = "not_in_force", _("出险时保单不在保障期间")
    PRE_EXISTING = "pre_existing", _("既往症不在保障范围内")
    NON_DISCLOSURE = "non_disclosure", _("投保时未如实告知")
    INSUFFICIENT_EVIDENCE = "insufficient_evidence", _("材料不足以证明保险事故")
    UNCOVERED_EXPENSES = "uncovered_expenses", _("部分费用不属于保障范围")
    LIMIT_REACHED = "limit_reached", _("超出保险金额或赔付限额")
    DEDUCTIBLE = "deductible", _("未超过免赔额")
    DUPLICATE = "duplicate", _("重复索赔")
    FRAUD = "fraud", _("虚构或夸大保险事故")
    OTHER = "other", _("其他原因")


class RecoveryStatus(models.TextChoices):
    """A recovery of money paid on a claim that a re-decision no longer owes (追偿/追回)."""

    OPEN = "open", _("待追回")
    RECOVERED = "recovered", _("已追回")
    WRITTEN_OFF = "written_off", _("已核销")


RECOVERY_TRANSITIONS: dict[str, frozenset[str]] = {
    RecoveryStatus.OPEN: frozenset({RecoveryStatus.RECOVERED, RecoveryStatus.WRITTEN_OFF}),
    RecoveryStatus.RECOVERED: frozenset(),
    RecoveryStatus.WRITTEN_OFF: frozenset(),
}


# Where a decision can be made from: the review, or (the fast track) complete materials.
DECIDABLE_STATUSES = frozenset({S.UNDER_REVIEW, S.MATERIALS_COMPLETE})
