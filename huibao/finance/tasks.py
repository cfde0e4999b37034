"""Finance's background jobs: the booking of an issuance (one job per issuance, queued by the
policy after the issuing commit, on the answer of `on_policies_issued`) and its sweep
(`manage.py run_sweeps`), both in `booking.py`."""

from __future__ import annotations

from django.tasks import task

from huibao.core.taskqueue import Call
from huibao.policy.services import PoliciesIssued


@task
def book_issuance(policy_ids: list[int], payment_ref: str = "") -> int:
    """The premium and commissions of policies issued together (idempotent: a re-run books
    nothing twice)."""
    from huibao.finance import booking

    return booking.book_issuance(policy_ids, payment_ref=payment_ref)


@task
def book_unbooked_issuances() -> int:
    """Sweep: issuances whose booking job never ran (lost, or its worker killed)."""
    from huibao.finance import booking

    return booking.book_unbooked()


def on_policies_issued(event: PoliciesIssued) -> list[Call]:
    """`policy.services.policies_issued` (in the issuing transaction): nothing is booked here;
    the answer is the one booking job of this issuance, queued once it commits."""
    ids = sorted(issued.policy.pk for issued in event.issued)
    if not ids:
        return []
    return [(book_issuance, (ids, event.payment_ref), {})]
