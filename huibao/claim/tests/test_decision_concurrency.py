"""Two adjusters deciding the same claim at the same moment: the claim's row lock serialises
them — one decision, one payout, one ledger entry; the other is refused."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from huibao.claim import limits
from huibao.claim.decisions import Decision, decide
from huibao.claim.states import ClaimStatus, DecisionKind
from huibao.claim.tests.adjud_factories import adjuster, complete_claim, under_review
from huibao.core.errors import Conflict
from huibao.payment.models import Payout

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_simultaneous_decisions_make_one_payout():
    # given
    claim = under_review(complete_claim())
    people = [adjuster("alice"), adjuster("bob")]
    decisions = [
        Decision(DecisionKind.APPROVE),
        Decision(DecisionKind.PARTIAL, reason_code="other", amount=Decimal("5000")),
    ]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            decide(claim, decisions[i], actor=people[i])
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # then
    assert sorted(outcomes) == ["conflict", "ok"]
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAYING
    assert Payout.objects.filter(kind="claim", reference=claim.number).count() == 1
    entries = limits.live_entries(claim.number)
    assert len(entries) == 1 and entries[0].paid == claim.approved_amount
