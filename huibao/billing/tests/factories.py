"""Schedules with a signed sandbox mandate, and the sandbox's owed notifications delivered."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone

from huibao.billing import services
from huibao.billing.models import PaymentMandate, PremiumSchedule
from huibao.payment.tests.factories import APPLICANT_ID, APPLICANT_NAME, GOOD_CARD
from huibao.policy.tests.factories import customer
from huibao.sandbox import payment as sandbox_payment
from huibao.sandbox.models import SandboxCheckout

_seq = iter(range(1, 10**6))


def mandate(user_id: int, card: str = GOOD_CARD) -> PaymentMandate:
    return services.sign_mandate(
        customer_id=user_id, payer_name=APPLICANT_NAME, payer_id_number=APPLICANT_ID, account_number=card
    )


def schedule(
    *,
    start: datetime.date,
    premium: str = "1200.00",
    mode: str = "monthly",
    line: str = "term_life",
    with_mandate: bool = True,
    premium_years: int = 1,
) -> PremiumSchedule:
    user = customer()
    return services.create_schedule(
        reference_kind="policy",
        reference_id=f"P{next(_seq)}",
        customer_id=user.pk,
        mode=mode,
        annual_premium=Decimal(premium),
        start=start,
        first_payment_ref="HBCHECKOUT1",
        paid_at=timezone.now(),
        line=line,
        mandate=mandate(user.pk) if with_mandate else None,
        premium_years=premium_years,
    )


def deliver_owed() -> int:
    """Delivers every notification the sandbox gateway owes; how many were acknowledged."""
    done = 0
    for txn_id in (
        SandboxCheckout.objects.filter(acknowledged_at__isnull=True)
        .exclude(notify_id="")
        .values_list("txn_id", flat=True)
    ):
        done += sandbox_payment.deliver(txn_id)
    return done
