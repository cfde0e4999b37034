"""Application statuses and the transition table every status change goes through.

    draft ──confirm──▶ accepted ──sign──▶ signed ──pay──▶ awaiting_payment ──paid──▶ issued
      │  └─────────▶ referred ──underwriter──▶ accepted / declined
      │  └─────────▶ declined
      ◀── amend (any change after the customer confirmed sends the whole application back) ──

Any open status may expire (not completed or paid in time) or be cancelled. A failed or expired
payment returns an `awaiting_payment` application to `signed`, so the customer may pay again.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

# What an issued policy keeps of the application (relations, beneficiary mode, channel) is the
# policy's own vocabulary: defined there (same stored values and labels), used here.
from huibao.policy.states import BeneficiaryMode, Channel, Relation

__all__ = [
    "FINAL_STATUSES",
    "OPEN_STATUSES",
    "TRANSITIONS",
    "ApplicationStatus",
    "BeneficiaryMode",
    "Channel",
    "Relation",
    "SignatureMethod",
    "SignerRole",
    "UnderwritingOutcome",
]


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", _("填写中")
    REFERRED = "referred", _("人工核保中")
    DECLINED = "declined", _("拒保")
    ACCEPTED = "accepted", _("核保通过")
    SIGNED = "signed", _("已签名待支付")
    AWAITING_PAYMENT = "awaiting_payment", _("支付中")
    ISSUED = "issued", _("已承保")
    EXPIRED = "expired", _("已失效")
    CANCELLED = "cancelled", _("已撤销")


S = ApplicationStatus
_CLOSE = {S.EXPIRED, S.CANCELLED}
TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.ACCEPTED, S.REFERRED, S.DECLINED, *_CLOSE}),
    S.REFERRED: frozenset({S.ACCEPTED, S.DECLINED, S.DRAFT, *_CLOSE}),
    S.ACCEPTED: frozenset({S.SIGNED, S.DRAFT, *_CLOSE}),
    S.SIGNED: frozenset({S.AWAITING_PAYMENT, S.DRAFT, *_CLOSE}),
    S.AWAITING_PAYMENT: frozenset({S.ISSUED, S.SIGNED, *_CLOSE}),
    S.DECLINED: frozenset(),
    S.ISSUED: frozenset(),
    S.EXPIRED: frozenset(),
    S.CANCELLED: frozenset(),
}
# Statuses in which the application data may still be entered or changed (directly in draft;
# through `amend` — which sends it back to draft — after the customer confirmed).
OPEN_STATUSES = frozenset({S.DRAFT, S.REFERRED, S.ACCEPTED, S.SIGNED, S.AWAITING_PAYMENT})
FINAL_STATUSES = frozenset({S.DECLINED, S.ISSUED, S.EXPIRED, S.CANCELLED})


class UnderwritingOutcome(models.TextChoices):
    PENDING = "pending", _("待核保")
    ACCEPT = "accept", _("标准体承保")
    ACCEPT_WITH_TERMS = "accept_with_terms", _("加费/除外承保")
    REFER = "refer", _("转人工核保")
    DECLINE = "decline", _("拒保")


class SignerRole(models.TextChoices):
    APPLICANT = "applicant", _("投保人")
    INSURED = "insured", _("被保险人")


class SignatureMethod(models.TextChoices):
    HANDWRITTEN = "handwritten", _("手写签名")
    CONFIRMATION = "confirmation", _("勾选确认")
