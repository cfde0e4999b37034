"""Renewal offer statuses and their transitions (every move through `check_transition`).

offered ──accept──▶ accepted ──paid──▶ paid ──issued──▶ renewed
   │  │                │
   │  └─auto-renewal charge fails──▶ failed ──charge/cashier paid──▶ paid
   │                   │               │
   ├──decline──▶ declined ◀────────────┤
   └──not paid by the end of grace──▶ lapsed (also from accepted, failed)

refused (不予续保): made so, at offer time, where the product no longer renews the policy.
renewed, declined, lapsed and refused are final.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class OfferStatus(models.TextChoices):
    OFFERED = "offered", _("待续保")
    ACCEPTED = "accepted", _("待支付")
    PAID = "paid", _("已支付")
    RENEWED = "renewed", _("已续保")
    DECLINED = "declined", _("已放弃续保")
    LAPSED = "lapsed", _("未续保")
    FAILED = "failed", _("自动续保扣款失败")
    REFUSED = "refused", _("不予续保")


S = OfferStatus
OFFER_TRANSITIONS: dict[str, frozenset[str]] = {
    S.OFFERED: frozenset({S.ACCEPTED, S.PAID, S.FAILED, S.DECLINED, S.LAPSED}),
    S.ACCEPTED: frozenset({S.PAID, S.FAILED, S.DECLINED, S.LAPSED}),
    S.FAILED: frozenset({S.ACCEPTED, S.PAID, S.FAILED, S.DECLINED, S.LAPSED}),
    S.PAID: frozenset({S.RENEWED}),
    S.RENEWED: frozenset(),
    S.DECLINED: frozenset(),
    S.LAPSED: frozenset(),
    S.REFUSED: frozenset(),
}
# Waiting for the customer (or the mandate): reminders go out, payment is possible.
OPEN_STATUSES = frozenset({S.OFFERED, S.ACCEPTED, S.FAILED})
FINAL_STATUSES = frozenset(s for s, targets in OFFER_TRANSITIONS.items() if not targets)
