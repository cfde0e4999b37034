"""The booking of an issuance: the premium its payment brought in and the commission of each of
its policies, written by one durable job per issuance after the issuing transaction commits.

Why not in that transaction: the payment notification issues the policies and is a step with a
query ceiling (application/tests/test_step_queries.py); the ledger and the commission plans cost
it eleven statements. The finance listener of `policy.services.policies_issued` answers the job
instead (`tasks.on_policies_issued`), which the policy queues with the e-policy and the insurer
delivery in one insert once the payment's transaction commits.

What holds (tests/test_booking.py):
- Idempotent: the premium is posted under its key (`postings.premium_key`), each commission
  entry under its own, and the booking of a policy is marked once (`IssuanceBooking`, one per
  policy) in the same transaction; a job run twice, or concurrently (the policies' rows are
  locked), books nothing twice.
- Nothing lost: a job that never ran (lost after the commit, its worker killed) is found by the
  sweep `book_unbooked` — policies issued more than `SWEEP_AFTER` ago without their booking —
  which books them the same way, finding the payment from the policy (the same resolution as
  `manage.py finance_backfill`).
- In order: a cancellation claws back the issuance's commission, and a refund gives back the
  premium posted; both first book an issuance whose job has not run yet (`ensure_booked`), so
  neither ever sees an issuance half-booked.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from huibao.finance import commissions, postings
from huibao.finance.models import IssuanceBooking
from huibao.payment.models import Payment
from huibao.payment.services import RefundSucceeded
from huibao.policy.models import Policy

log = logging.getLogger(__name__)

# How long after its issuance a policy may wait for its booking job before the sweep books it
# (the job normally runs within seconds; the sweep must not race a job merely queued).
SWEEP_AFTER = datetime.timedelta(minutes=10)
SWEEP_BATCH = 200


def _locked(policy_ids: Iterable[int]) -> list[Policy]:
    """The policies, locked in id order (a second booking of the same issuance waits, then finds
    it done), with what their postings and commissions read."""
    return list(
        Policy.objects.select_for_update(of=("self",))
        .select_related("insurer", "product_version__product", "seller")
        .filter(pk__in=sorted(set(policy_ids)))
        .order_by("pk")
    )


def book_issuance(
    policy_ids: Sequence[int], *, payment_ref: str = "", now: datetime.datetime | None = None
) -> int:
    """Books the premium and the commissions of policies issued together (from `payment_ref`,
    the merchant reference of the payment that paid for them, when the issuance knew it; else
    the payment is found from the policies). Returns how many policies it booked now (0 when
    they all were). One transaction: all of it, or nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        policies = _locked(policy_ids)
        done = set(
            IssuanceBooking.objects.filter(policy_id__in=[p.pk for p in policies]).values_list(
                "policy_id", flat=True
            )
        )
        todo = [p for p in policies if p.pk not in done]
        if not todo:
            return 0
        # The premium over every policy of the issuance (keyed per policy: those posted are not
        # posted again), so an application's payment is split as it was paid.
        if payment_ref:
            postings.post_issued_premium(payment_ref, policies)
        else:
            _post_premium_found(todo)
        for policy in todo:
            commissions.book_issued(policy)
        try:
            with transaction.atomic():
                IssuanceBooking.objects.bulk_create(
                    [IssuanceBooking(policy_id=p.pk, booked_at=now) for p in todo]
                )
        except IntegrityError:
            # Booked concurrently where the lock does not hold (SQLite has no row locks, but
            # serialises writers): theirs is the one, and every posting above was keyed.
            log.info("issuance of policies %s booked concurrently", [p.pk for p in todo])
    return len(todo)


def _post_premium_found(policies: Sequence[Policy]) -> None:
    """The premium of policies whose payment the caller did not name: each policy's payment,
    posted as the backfill posts it (all the policies that payment paid for)."""
    seen: set[int] = set()
    for policy in policies:
        payment = postings.premium_payment_of(policy)
        if payment is None or payment.pk in seen:
            continue
        seen.add(payment.pk)
        postings.backfill_payment(payment)


def unbooked(*, issued_before: datetime.datetime, limit: int = SWEEP_BATCH) -> list[int]:
    """Ids of policies issued before `issued_before` whose booking is missing, oldest first."""
    booked = IssuanceBooking.objects.filter(policy_id=OuterRef("pk"))
    return list(
        Policy.objects.filter(issued_at__lt=issued_before)
        .filter(~Exists(booked))
        .order_by("issued_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def book_unbooked(*, now: datetime.datetime | None = None, after: datetime.timedelta = SWEEP_AFTER) -> int:
    """The sweep: books every policy issued more than `after` ago without its booking (its job
    lost, or killed), a batch at a time, each policy with the others of its application.
    Returns how many policies it booked. Safe beside running jobs and other sweeps."""
    now = now or timezone.now()
    booked = 0
    failed: set[int] = set()
    while True:
        ids = [
            pk
            for pk in unbooked(issued_before=now - after, limit=SWEEP_BATCH + len(failed))
            if pk not in failed
        ]
        if not ids:
            return booked
        for group in _issuances(ids):
            try:
                booked += book_issuance(group, now=now)
            except Exception:  # one policy that cannot be booked must not stop the others
                log.exception("booking of policies %s failed", group)
                failed.update(group)


def _issuances(policy_ids: Sequence[int]) -> list[list[int]]:
    """The ids grouped as they were issued: an application's policies together (its payment is
    split over them), every other policy alone."""
    groups: dict[Any, list[int]] = {}
    for pk, application_id in Policy.objects.filter(pk__in=policy_ids).values_list("pk", "application_id"):
        groups.setdefault(application_id if application_id is not None else ("policy", pk), []).append(pk)
    if any(isinstance(key, int) for key in groups):
        # The application's other policies too (issued together, perhaps outside this batch).
        for pk, application_id in Policy.objects.filter(
            application_id__in=[k for k in groups if isinstance(k, int)]
        ).values_list("pk", "application_id"):
            if pk not in groups[application_id]:
                groups[application_id].append(pk)
    return list(groups.values())


def ensure_booked(policy_ids: Iterable[int]) -> int:
    """Books now, in the caller's transaction, those of the policies whose booking job has not
    run yet; one read when they all were. What a cancellation or a refund calls first."""
    ids = sorted(set(policy_ids))
    if not ids:
        return 0
    done = set(IssuanceBooking.objects.filter(policy_id__in=ids).values_list("policy_id", flat=True))
    missing = [pk for pk in ids if pk not in done]
    return sum(book_issuance(group) for group in _issuances(missing)) if missing else 0


def _policies_paid_by(payment: Payment, policy_id: int | None) -> list[int]:
    if policy_id is not None:
        return [policy_id]
    if payment.reference_kind == postings.APPLICATION_KIND:
        return list(
            Policy.objects.filter(application_public_id=payment.reference_id).values_list("pk", flat=True)
        )
    policy = postings.renewal_policy(payment) if payment.reference_kind == postings.RENEWAL_KIND else None
    return [policy.pk] if policy is not None else []


# --- listeners that need the issuance booked first -----------------------------------------------


def on_refund_succeeded(event: RefundSucceeded) -> None:
    """`payment.services.refund_succeeded` (every premium kind): the refund is posted against
    the premium, so the premium is booked first."""
    if event.payment.reference_kind in (postings.APPLICATION_KIND, postings.RENEWAL_KIND):
        ensure_booked(_policies_paid_by(event.payment, event.policy_id))
    postings.on_refund_succeeded(event)


def on_cancellation_confirmed(event: Any) -> None:
    """`policy.cancellation.cancellation_confirmed`: the clawback claws back what the issuance
    earned, so the issuance is booked first."""
    ensure_booked([event.policy.pk])
    commissions.on_cancellation_confirmed(event)
