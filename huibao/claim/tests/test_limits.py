"""The benefit ledger: record, retry, release, policy years."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from huibao.claim import limits
from huibao.claim.models import BenefitEntry, BenefitUsage
from huibao.claim.rules import Expense, Loss, UsageSoFar
from huibao.claim.tests import limits_factories as f
from huibao.core.models import AuditEntry

pytestmark = pytest.mark.django_db

D = Decimal
MARCH = datetime.date(2026, 3, 10)


def loss(*expenses: Expense) -> Loss:
    return Loss(amount_claimed=sum((e.amount for e in expenses), D("0")), expenses=expenses)


def test_a_first_claim_creates_the_years_row_and_one_entry() -> None:
    # given a policy with nothing used
    policy, terms = f.policy(), f.medical()
    # when a claim's benefit is recorded
    benefit = limits.record_benefit(
        policy, terms, loss(Expense("inpatient", D("2000.00"))), reference="CLM1", incident_date=MARCH
    )
    # then the deductible is taken and the year's row holds what was paid
    assert benefit.payable == D("1500.00")
    usage = BenefitUsage.objects.get()
    assert (usage.period_start, usage.period_end) == (datetime.date(2026, 3, 1), datetime.date(2027, 2, 28))
    assert (usage.paid, usage.deductible_used) == (D("1500.00"), D("500.00"))
    entry = BenefitEntry.objects.get()
    assert (entry.reference, entry.coverage_code, entry.paid) == ("CLM1", "medical", D("1500.00"))
    assert limits.usage_for(policy, "medical", MARCH) == UsageSoFar(
        paid=D("1500.00"), deductible_used=D("500.00")
    )
    assert AuditEntry.objects.filter(action="claim.benefit_recorded", object_id="CLM1").count() == 1


def test_the_second_claim_of_the_year_sees_the_first() -> None:
    # given a first claim that used the deductible and part of the outpatient limit
    policy, terms = f.policy(), f.medical()
    limits.record_benefit(
        policy, terms, loss(Expense("outpatient", D("2500.00"))), reference="CLM1", incident_date=MARCH
    )
    # when a second claim in the same year claims more outpatient costs
    benefit = limits.record_benefit(
        policy,
        terms,
        loss(Expense("outpatient", D("2000.00"))),
        reference="CLM2",
        incident_date=datetime.date(2026, 9, 1),
    )
    # then only the rest of the item limit is admitted, and no deductible again
    assert benefit.payable == D("500.00")
    assert benefit.deductible_applied == 0
    usage = BenefitUsage.objects.get()
    assert usage.item_paid == {"outpatient": "3000.00"}
    assert usage.paid == D("2500.00")


def test_a_retry_answers_the_same_benefit_and_adds_nothing() -> None:
    # given a recorded claim
    policy, terms = f.policy(), f.medical()
    the_loss = loss(Expense("inpatient", D("2000.00")))
    first = limits.record_benefit(policy, terms, the_loss, reference="CLM1", incident_date=MARCH)
    # when it is recorded again (a retried request, a redelivered task)
    again = limits.record_benefit(policy, terms, the_loss, reference="CLM1", incident_date=MARCH)
    # then the same benefit, line for line, and the ledger unchanged
    assert again == first
    assert BenefitEntry.objects.count() == 1
    assert BenefitUsage.objects.get().paid == D("1500.00")


def test_the_annual_limit_holds_across_claims() -> None:
    # given claims that together pass the 10,000 sum insured
    policy, terms = f.policy(), f.medical(deductible=D("0"))
    paid = [
        limits.record_benefit(
            policy, terms, loss(Expense("inpatient", D("4000.00"))), reference=f"CLM{i}", incident_date=MARCH
        ).payable
        for i in range(4)
    ]
    # then the third is capped and the fourth refused
    assert paid == [D("4000.00"), D("4000.00"), D("2000.00"), D("0")]
    assert BenefitUsage.objects.get().paid == D("10000.00")


def test_the_next_policy_year_starts_afresh() -> None:
    # given a year used up
    policy, terms = f.policy(), f.medical(deductible=D("0"))
    limits.record_benefit(
        policy, terms, loss(Expense("inpatient", D("10000.00"))), reference="CLM1", incident_date=MARCH
    )
    # when a claim's incident falls on the first anniversary
    benefit = limits.record_benefit(
        policy,
        terms,
        loss(Expense("inpatient", D("700.00"))),
        reference="CLM2",
        incident_date=datetime.date(2027, 3, 1),
    )
    # then it is paid from the new year's limit
    assert benefit.payable == D("700.00")
    assert sorted(BenefitUsage.objects.values_list("period_start", "paid")) == [
        (datetime.date(2026, 3, 1), D("10000.00")),
        (datetime.date(2027, 3, 1), D("700.00")),
    ]


def test_a_release_gives_the_limit_back_exactly_once() -> None:
    # given two claims, the first to be released (its payout finally failed)
    policy, terms = f.policy(), f.medical()
    limits.record_benefit(
        policy, terms, loss(Expense("outpatient", D("2500.00"))), reference="CLM1", incident_date=MARCH
    )
    limits.record_benefit(
        policy, terms, loss(Expense("inpatient", D("1000.00"))), reference="CLM2", incident_date=MARCH
    )
    # when it is released twice
    first, second = limits.release_benefit("CLM1"), limits.release_benefit("CLM1")
    # then once: the usage is what the second claim alone added
    assert (first, second) == (1, 0)
    usage = BenefitUsage.objects.get()
    assert (usage.paid, usage.deductible_used, usage.item_paid) == (D("1000.00"), D("0"), {})
    assert BenefitEntry.objects.get(reference="CLM1").released
    assert AuditEntry.objects.filter(action="claim.benefit_released").count() == 1


def test_a_released_claim_can_be_recorded_again_on_a_re_decision() -> None:
    # given a claim recorded then released (an appeal)
    policy, terms = f.policy(), f.medical(deductible=D("0"))
    limits.record_benefit(
        policy, terms, loss(Expense("inpatient", D("1000.00"))), reference="CLM1", incident_date=MARCH
    )
    limits.release_benefit("CLM1")
    # when it is decided again with more expenses
    benefit = limits.record_benefit(
        policy, terms, loss(Expense("inpatient", D("3000.00"))), reference="CLM1", incident_date=MARCH
    )
    # then the new amount counts, the old entry stays as history
    assert benefit.payable == D("3000.00")
    assert BenefitUsage.objects.get().paid == D("3000.00")
    assert [e.paid for e in limits.live_entries("CLM1")] == [D("3000.00")]
    assert BenefitEntry.objects.filter(reference="CLM1").count() == 2


def test_release_of_one_coverage_leaves_the_others() -> None:
    # given one claim under two coverages
    policy = f.policy()
    medical, other = f.medical(deductible=D("0")), f.medical(code="drugs", deductible=D("0"))
    the_loss = loss(Expense("inpatient", D("100.00")))
    limits.record_benefit(policy, medical, the_loss, reference="CLM1", incident_date=MARCH)
    limits.record_benefit(policy, other, the_loss, reference="CLM1", incident_date=MARCH)
    # when one coverage is released
    assert limits.release_benefit("CLM1", coverage_code="drugs") == 1
    # then the other still counts
    assert limits.usage_for(policy, "medical", MARCH).paid == D("100.00")
    assert limits.usage_for(policy, "drugs", MARCH).paid == 0


def test_a_refused_claim_is_recorded_with_nothing_added() -> None:
    # given an exhausted year
    policy, terms = f.policy(), f.medical(deductible=D("0"))
    limits.record_benefit(
        policy, terms, loss(Expense("inpatient", D("10000.00"))), reference="CLM1", incident_date=MARCH
    )
    # when another claim is recorded
    benefit = limits.record_benefit(
        policy, terms, loss(Expense("inpatient", D("10.00"))), reference="CLM2", incident_date=MARCH
    )
    # then it pays nothing, says why, and the ledger still sums its entries
    assert benefit.payable == 0 and benefit.refusal == "本保单年度保额已用完"
    assert BenefitEntry.objects.get(reference="CLM2").paid == 0
    assert BenefitUsage.objects.get().paid == D("10000.00")


def test_bad_input_changes_nothing() -> None:
    # given a policy
    policy, terms = f.policy(), f.medical()
    # when a claim with a negative amount or an incident before the policy is recorded
    with pytest.raises(ValueError):
        limits.record_benefit(
            policy, terms, Loss(amount_claimed=D("-1.00")), reference="CLM1", incident_date=MARCH
        )
    with pytest.raises(ValueError):
        limits.record_benefit(
            policy,
            terms,
            Loss(amount_claimed=D("1.00")),
            reference="CLM2",
            incident_date=datetime.date(2026, 2, 1),
        )
    with pytest.raises(ValueError):
        limits.record_benefit(
            policy, terms, Loss(amount_claimed=D("1.00")), reference="", incident_date=MARCH
        )
    # then no row was written, and the year reads as unused
    assert not BenefitEntry.objects.exists()
    assert not BenefitUsage.objects.exists()
    assert limits.usage_for(policy, "medical", MARCH) == UsageSoFar()


def test_the_database_refuses_a_negative_usage_and_a_second_live_entry() -> None:
    # given a recorded claim
    policy, terms = f.policy(), f.medical()
    limits.record_benefit(
        policy, terms, loss(Expense("inpatient", D("900.00"))), reference="CLM1", incident_date=MARCH
    )
    usage = BenefitUsage.objects.get()
    # when rows are written around the use-cases, then the constraints hold
    with pytest.raises(IntegrityError), transaction.atomic():
        BenefitUsage.objects.filter(pk=usage.pk).update(paid=D("-1.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        BenefitEntry.objects.create(usage=usage, reference="CLM1", coverage_code="medical")
    with pytest.raises(IntegrityError), transaction.atomic():
        BenefitUsage.objects.create(
            policy=policy,
            coverage_code="medical",
            period_start=usage.period_start,
            period_end=usage.period_end,
        )


def test_the_lost_create_race_skips_the_rivals_row_and_locks_it(monkeypatch) -> None:
    # given the year's row created by a rival transaction after our first read missed it
    policy, terms = f.policy(), f.medical(deductible=D("0"))
    start, end = limits.policy_year(policy, MARCH)
    BenefitUsage.objects.create(policy=policy, coverage_code="medical", period_start=start, period_end=end)
    real_find, reads = limits._find_locked, []

    def first_read_misses(lookup):
        reads.append(lookup)
        return None if len(reads) == 1 else real_find(lookup)

    monkeypatch.setattr(limits, "_find_locked", first_read_misses)
    # when the claim is recorded inside the caller's transaction
    with transaction.atomic():
        benefit = limits.record_benefit(
            policy, terms, loss(Expense("inpatient", D("100.00"))), reference="CLM1", incident_date=MARCH
        )
        # then the insert skipped the rival's row (no IntegrityError: the caller's transaction
        # is usable) and the second read locked it
        assert len(reads) == 2
        assert BenefitEntry.objects.count() == 1
    assert benefit.payable == D("100.00")
    assert BenefitUsage.objects.get().paid == D("100.00")


def test_a_policy_effective_on_29_february() -> None:
    # given a policy effective on a leap day
    policy, terms = f.policy(datetime.date(2028, 2, 29)), f.medical(deductible=D("0"))
    # when claims fall on 28 February of the next two years
    limits.record_benefit(
        policy,
        terms,
        loss(Expense("inpatient", D("100.00"))),
        reference="A",
        incident_date=datetime.date(2029, 2, 27),
    )
    limits.record_benefit(
        policy,
        terms,
        loss(Expense("inpatient", D("200.00"))),
        reference="B",
        incident_date=datetime.date(2029, 2, 28),
    )
    # then the anniversary is 28 February: two policy years
    assert sorted(BenefitUsage.objects.values_list("period_start", "period_end", "paid")) == [
        (datetime.date(2028, 2, 29), datetime.date(2029, 2, 27), D("100.00")),
        (datetime.date(2029, 2, 28), datetime.date(2030, 2, 27), D("200.00")),
    ]


def test_a_claim_on_a_used_year_costs_six_statements_and_a_retry_one(django_assert_max_num_queries) -> None:
    # given a year row already there
    policy, terms = f.policy(), f.medical()
    the_loss = loss(Expense("inpatient", D("900.00")))
    limits.record_benefit(policy, terms, the_loss, reference="CLM1", incident_date=MARCH)
    # when the next claim is recorded, then: look-up, lock, look-up, entry, sums, audit (+ the
    # savepoint pair)
    with django_assert_max_num_queries(8):
        limits.record_benefit(policy, terms, the_loss, reference="CLM2", incident_date=MARCH)
    # and a retry only finds its entry, without the lock
    with django_assert_max_num_queries(1):
        limits.record_benefit(policy, terms, the_loss, reference="CLM2", incident_date=MARCH)


def test_a_partial_approval_of_a_daily_benefit_uses_only_the_days_approved() -> None:
    # given a hospital-cash coverage at ¥100 a day, 30 days a year, and a claim for 10 days
    policy, terms = f.policy(), f.hospital_cash()
    ten_days = Loss(amount_claimed=D("1000.00"), days=10)
    # when the adjuster approves ¥400 of it (4 days)
    benefit = limits.record_benefit(
        policy, terms, ten_days, reference="CLM1", incident_date=MARCH, cap=D("400.00")
    )
    # then the ledger holds 4 days used, not the 10 claimed
    assert benefit.payable == D("400.00")
    assert benefit.usage_added.days_paid == 4
    assert BenefitUsage.objects.get().days_paid == 4
    assert BenefitEntry.objects.get().days_paid == 4
    # and a later claim of the year may still be paid 26 days
    later = limits.record_benefit(
        policy,
        terms,
        Loss(amount_claimed=D("3000.00"), days=30),
        reference="CLM2",
        incident_date=datetime.date(2026, 6, 1),
    )
    assert later.usage_added.days_paid == 26
    assert later.payable == D("2600.00")


def test_a_partial_approval_between_whole_days_counts_the_whole_days_it_pays() -> None:
    # given a claim for 5 hospital days at ¥100
    policy, terms = f.policy(), f.hospital_cash()
    # when ¥250 is approved
    benefit = limits.record_benefit(
        policy,
        terms,
        Loss(amount_claimed=D("500.00"), days=5),
        reference="CLM1",
        incident_date=MARCH,
        cap=D("250.00"),
    )
    # then 2 days are used (a part day is not a day paid), and releasing it gives them back
    assert BenefitUsage.objects.get().days_paid == 2
    assert benefit.usage_added.days_paid == 2
    limits.release_benefit("CLM1")
    assert BenefitUsage.objects.get().days_paid == 0
