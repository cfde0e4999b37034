"""Many claims on one policy at once: threads, each with its own database session. On PostgreSQL
they queue on the year's row lock (and race to create it); SQLite serialises writers
(`transaction_mode: IMMEDIATE`). The invariant is asserted either way."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum

from huibao.claim import limits
from huibao.claim.models import BenefitEntry, BenefitUsage
from huibao.claim.rules import Expense, Loss
from huibao.claim.tests import limits_factories as f

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal
INCIDENT = datetime.date(2026, 6, 1)


def run_at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    start = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        try:
            start.wait(30)
            results[i] = work(i)
        except Exception as exc:  # reported by the assertion below, with the thread's error
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    return results


def ledger_matches_its_entries() -> None:
    for usage in BenefitUsage.objects.all():
        live = BenefitEntry.objects.filter(usage=usage, released=False)
        sums = live.aggregate(paid=Sum("paid"), deductible=Sum("deductible_used"))
        assert usage.paid == (sums["paid"] or 0)
        assert usage.deductible_used == (sums["deductible"] or 0)
        outpatient = sum((D(e.item_paid.get("outpatient", "0")) for e in live), D("0"))
        assert D(usage.item_paid.get("outpatient", "0")) == outpatient


def test_twenty_claims_at_once_never_exceed_the_annual_limit() -> None:
    # given a policy with ¥10,000 a year, a ¥500 yearly deductible, nothing used yet (so the
    # threads also race to create the year's row), and 20 claims of ¥1,500 — five of them sent twice
    policy, terms = f.policy(), f.medical()
    references = [f"CLM{i % 15:02d}" for i in range(20)]

    def claim(i: int) -> Decimal:
        expenses = (Expense("inpatient", D("1200.00")), Expense("outpatient", D("300.00")))
        loss = Loss(amount_claimed=D("1500.00"), expenses=expenses)
        return limits.record_benefit(
            policy, terms, loss, reference=references[i], incident_date=INCIDENT
        ).payable

    # when all are recorded at once
    paid = run_at_once(20, claim)

    # then one row for the year, one entry per claim, and never more than the limit
    usage = BenefitUsage.objects.get()
    assert BenefitEntry.objects.count() == 15
    per_claim = dict(BenefitEntry.objects.values_list("reference", "paid"))
    assert sum(per_claim.values()) == usage.paid == D("10000.00")
    assert usage.deductible_used == D("500.00")
    assert D(usage.item_paid["outpatient"]) == D("3000.00")  # the outpatient item limit held too
    # a duplicate answered what its first recording paid
    assert all(paid[i] == per_claim[references[i]] for i in range(20))
    ledger_matches_its_entries()


def test_releases_and_claims_at_once_keep_the_ledger_equal_to_its_entries() -> None:
    # given a year used up by ten claims of ¥1,000
    policy, terms = f.policy(), f.medical(deductible=D("0"), item_limits={})
    one = Loss(amount_claimed=D("1000.00"), expenses=(Expense("inpatient", D("1000.00")),))
    for i in range(10):
        limits.record_benefit(policy, terms, one, reference=f"OLD{i}", incident_date=INCIDENT)

    # when four claims are released (each twice) while eight new claims arrive
    def work(i: int) -> object:
        if i < 8:
            return limits.release_benefit(f"OLD{i % 4}")
        return limits.record_benefit(policy, terms, one, reference=f"NEW{i}", incident_date=INCIDENT).payable

    results = run_at_once(16, work)

    # then each release happened once, the new claims got at most what was freed, and the
    # ledger is the sum of its live entries
    assert sorted(results[:8]) == [0, 0, 0, 0, 1, 1, 1, 1]
    assert sum(results[8:], D("0")) <= D("4000.00")
    usage = BenefitUsage.objects.get()
    assert usage.paid <= D("10000.00")
    assert BenefitEntry.objects.filter(released=True).count() == 4
    ledger_matches_its_entries()
