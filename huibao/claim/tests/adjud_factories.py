"""Adjudication test builders: a claim with complete materials (reported, uploaded, submitted
through the real use-cases), adjusters with their desks, the sandbox bank's results."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal
from typing import Any

import time_machine
from django.utils import timezone

from huibao.account.models import User
from huibao.account.services import create_staff_user, sync_roles
from huibao.catalog.models import Insurer
from huibao.claim.lifecycle import lock_claim, transition
from huibao.claim.models import Claim, ClaimsDesk
from huibao.claim.services import report_claim, submit_claim, upload_material
from huibao.claim.states import ClaimStatus
from huibao.claim.tests.factories import in_force, jpeg, medical_policy, pdf, report_input, start_of
from huibao.payment import payouts
from huibao.payment.models import Payout
from huibao.policy.models import Policy
from huibao.policy.tests.factories import customer
from huibao.sandbox import payout as sandbox_payout

_invoice = iter(range(1, 10_000_000))


def at(policy: Policy, days: int) -> time_machine.travel:
    return time_machine.travel(
        datetime.datetime.combine(start_of(policy), datetime.time(10)) + datetime.timedelta(days=days),
        tick=False,
    )


def complete_claim(
    policy: Policy | None = None, *, owner: User | None = None, days: int = 130, **overrides: Any
) -> Claim:
    """A claim on a medical policy with its materials uploaded and submitted (then triaged: fast
    tracked when small and clean, otherwise under review in the adjusters' queue)."""
    if policy is None:
        policy = in_force(medical_policy(owner or customer()))
    user = policy.customer if owner is None else owner
    with at(policy, days):
        claim = report_claim(user, report_input(policy, **overrides))
        invoice = f"FP{next(_invoice):010d}"
        # Files of its own (the same bytes on two claims is a duplicate the fraud screen holds).
        photo, scan = jpeg() + invoice.encode(), pdf() + f"% {invoice}\n".encode()
        upload_material(user, claim.public_id, kind="id_card", file=io.BytesIO(photo))
        upload_material(user, claim.public_id, kind="invoice", file=io.BytesIO(scan), invoice_number=invoice)
        submit_claim(user, claim.public_id)
    claim.refresh_from_db()
    return claim


def under_review(claim: Claim) -> Claim:
    from django.db import transaction

    with transaction.atomic():
        locked = lock_claim(claim.public_id)
        if locked.status != ClaimStatus.UNDER_REVIEW:  # the triage queues most claims itself
            transition(locked, ClaimStatus.UNDER_REVIEW, actor="system")
    claim.refresh_from_db()
    return claim


def adjuster(
    username: str,
    *,
    insurer: Insurer | None = None,
    senior: bool = False,
    approval_limit: Decimal | None = None,
    regions: list[str] | None = None,
    claim_types: list[str] | None = None,
) -> User:
    sync_roles()
    user = create_staff_user(username, "pw-Adjuster-2026!", ["claims_adjuster"])
    ClaimsDesk.objects.update_or_create(
        user=user,
        defaults={
            "insurer": insurer,
            "senior": senior,
            "approval_limit": approval_limit,
            "regions": regions or [],
            "claim_types": claim_types or [],
        },
    )
    return user


def payout_of(claim: Claim) -> Payout:
    return Payout.objects.filter(kind="claim", reference__startswith=claim.number).order_by("-id").first()  # type: ignore[return-value]


def bank_result(claim: Claim) -> Payout:
    """The queued submission runs and the sandbox bank's signed result arrives."""
    payout = payout_of(claim)
    payouts.submit_payout(payout.pk)
    payout.refresh_from_db()
    later = timezone.now() + datetime.timedelta(seconds=10)
    with time_machine.travel(later, tick=False):
        sandbox_payout.deliver(payout.provider_trade_no)
    payout.refresh_from_db()
    return payout
