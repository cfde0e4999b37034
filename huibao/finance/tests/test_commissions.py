"""Commission entries booked from the policy, billing and servicing hooks, posted to the ledger;
plan publication with the ambiguity and margin checks; idempotency."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huibao.billing.services import InstalmentEvent, instalment_paid
from huibao.catalog.models import LineOfBusiness
from huibao.core.errors import Conflict, ValidationFailed
from huibao.finance import accounts, commission_plans, commission_selectors, commissions, ledger
from huibao.finance.commission_models import CommissionPlanVersion
from huibao.finance.models import CommissionEntry, JournalLine, JournalTransaction
from huibao.finance.tests import commission_factories as cf
from huibao.policy import cancellation, endorsements
from huibao.policy.tests import cancel_factories
from huibao.policy.tests import factories as f

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def world():
    h = cf.hierarchy()
    version = f.product_version(name="汇保意外险", line=LineOfBusiness.ACCIDENT)
    insurer = version.product.insurer
    cf.plan("in-acc", [{"line": "accident", "rate": "0.30"}], insurer=insurer)
    cf.plan("out-agent", [{"line": "accident", "rate": "0.15"}], unit=h.agent)
    cf.plan("out-team", [{"line": "accident", "rate": "0.03"}], unit=h.team)
    cf.plan("out-branch", [{"line": "accident", "rate": "0.02"}], unit=h.branch)
    return h, version, insurer


def entries(policy) -> dict[str, CommissionEntry]:
    return {e.key: e for e in CommissionEntry.objects.filter(policy=policy)}


def test_an_issued_policy_books_inbound_and_every_party_up_the_sellers_chain(world) -> None:
    h, version, insurer = world
    # when
    policy = cf.issued(version, seller=h.agent, premium="1060.00")
    # then: 1060 / 1.06 = 1000 net; 30% in; agent 15%, team 3%, branch 2% out
    got = entries(policy)
    n = policy.number
    assert {k: e.amount for k, e in got.items()} == {
        f"commission:issued:{n}:inbound": D("300.00"),
        f"commission:issued:{n}:outbound:A0001": D("150.00"),
        f"commission:issued:{n}:outbound:SH-T1": D("30.00"),
        f"commission:issued:{n}:outbound:SH": D("20.00"),
    }
    inbound = got[f"commission:issued:{n}:inbound"]
    assert inbound.base == D("1000.00") and inbound.rate == D("0.30") and inbound.policy_year == 1
    assert (
        inbound.explanation["version"]
        == commission_selectors.version_in_force(
            CommissionPlanVersion.objects.get(plan__code="in-acc").plan, timezone.localdate()
        ).pk
    )
    # the ledger: receivable 300 = income 283.02 + VAT 16.98; expense 200 = payables
    assert ledger.balance(accounts.commission_receivable(insurer)) == D("300.00")
    assert ledger.balance(accounts.commission_income()) == D("283.02")
    assert ledger.balance(accounts.vat_payable()) == D("16.98")
    assert ledger.balance(accounts.commission_expense()) == D("200.00")
    assert ledger.balance(accounts.commission_payable(h.agent)) == D("150.00")


def test_booking_twice_books_once(world) -> None:
    h, version, _ = world
    policy = cf.issued(version, seller=h.agent)
    lines = JournalLine.objects.count()
    # when
    again = commissions.book_issued(policy)
    # then
    assert [b.created for b in again] == [False] * 4
    assert CommissionEntry.objects.filter(policy=policy).count() == 4
    assert JournalLine.objects.count() == lines


def test_no_seller_no_outbound(world) -> None:
    _, version, _ = world
    policy = cf.issued(version, seller=None)
    assert list(entries(policy)) == [f"commission:issued:{policy.number}:inbound"]


def test_a_cancellation_inside_the_cooling_off_claws_everything_back_with_opposite_lines(world) -> None:
    h, version, insurer = world
    policy = cf.issued(version, seller=h.agent)
    # when: the cancellation hook (as cancellation.confirm announces it, for a real cancellation)
    confirmed = cancel_factories.confirmed_cooling_off(policy, D("1060.00"))
    cancellation.cancellation_confirmed.announce(
        cancellation.CancellationConfirmed(
            policy=policy,
            cancellation=confirmed,
            refund=D("1060.00"),
            paid=D("1060.00"),
            in_cooling_off=True,
            on=timezone.localdate(),
        )
    )
    # then
    got = entries(policy)
    assert got[f"commission:cancellation:{policy.number}:inbound"].amount == D("-300.00")
    assert got[f"commission:cancellation:{policy.number}:outbound:A0001"].amount == D("-150.00")
    assert commissions.earned_total(policy, direction="inbound") == 0
    assert commissions.earned_total(policy, direction="outbound") == 0
    assert ledger.balance(accounts.commission_receivable(insurer)) == 0
    assert ledger.balance(accounts.vat_payable()) == 0
    assert ledger.balance(accounts.commission_payable(h.agent)) == 0
    # never a negative line
    assert (
        not JournalLine.objects.filter(debit__lt=0).exists()
        and not JournalLine.objects.filter(credit__lt=0).exists()
    )


@pytest.mark.parametrize(
    ("clawback", "percent", "inbound_back"),
    [("pro_rata", "100", "-75.00"), ("percent", "50", "-150.00"), ("none", "100", "0.00")],
)
def test_a_cancellation_after_the_cooling_off_claws_back_per_the_rule(
    clawback: str, percent: str, inbound_back: str
) -> None:
    h = cf.hierarchy()
    version = f.product_version(name="汇保意外险", line=LineOfBusiness.ACCIDENT)
    cf.plan(
        "in",
        [{"line": "accident", "rate": "0.30", "clawback": clawback, "clawback_percent": percent}],
        insurer=version.product.insurer,
    )
    policy = cf.issued(version, seller=h.agent)
    # when: a quarter of the premium refunded after the cooling-off period
    commissions.book_cancellation(
        policy, refund=D("265.00"), paid=D("1060.00"), in_cooling_off=False, on=timezone.localdate()
    )
    # then
    assert entries(policy)[f"commission:cancellation:{policy.number}:inbound"].amount == D(inbound_back)


def test_an_endorsement_books_commission_on_its_delta_negative_too(world) -> None:
    h, version, insurer = world
    policy = cf.issued(version, seller=h.agent)
    today = timezone.localdate()

    class _E:
        number = f"{policy.number}-E01"

    # when
    endorsements.endorsement_applied.announce(
        endorsements.EndorsementApplied(policy=policy, endorsement=_E(), premium_delta=D("-106.00"), on=today)  # type: ignore[arg-type]
    )
    # then: 30% of -100 net
    got = entries(policy)
    assert got[f"commission:endorsement:{policy.number}-E01:inbound"].amount == D("-30.00")
    assert got[f"commission:endorsement:{policy.number}-E01:outbound:A0001"].amount == D("-15.00")
    assert ledger.balance(accounts.commission_receivable(insurer)) == D("270.00")


def test_a_later_instalment_books_the_rates_of_its_policy_year() -> None:
    h = cf.hierarchy()
    version = f.product_version(name="汇保重疾险", line=LineOfBusiness.CRITICAL_ILLNESS)
    cf.plan(
        "in-ci",
        [
            {"line": "critical_illness", "rate": "0.60"},
            {"line": "critical_illness", "rate": "0.10", "year": 2, "and_later": True},
        ],
        insurer=version.product.insurer,
    )
    cf.plan(
        "out-ci",
        [
            {"line": "critical_illness", "rate": "0.40"},
            {"line": "critical_illness", "rate": "0.05", "year": 2, "and_later": True},
        ],
        unit=h.agent,
    )
    policy = cf.issued(version, seller=h.agent, premium="5000.00")
    start = timezone.localtime(policy.effective_at).date()
    # when: the second year's premium collected (billing announces it under the kind "policy")
    instalment_paid.announce(
        "policy",
        InstalmentEvent(
            reference_kind="policy",
            reference_id=policy.number,
            schedule=str(uuid.uuid4()),  # no such schedule: the ledger books nothing
            number=2,
            due_on=start.replace(year=start.year + 1),
            amount=D("5000.00"),
            status="paid",
        ),
    )
    # then: year 1 at 60% (VAT-exempt), year 2 at 10%
    got = entries(policy)
    assert got[f"commission:issued:{policy.number}:inbound"].amount == D("3000.00")
    year2 = got[f"commission:instalment:{policy.number}:2:inbound"]
    assert (year2.policy_year, year2.amount) == (2, D("500.00"))
    assert got[f"commission:instalment:{policy.number}:2:outbound:A0001"].amount == D("250.00")


def test_a_renewal_is_renewal_business(world) -> None:
    h, version, _ = world
    first = cf.issued(version, seller=h.agent)
    renewal = cf.issued(version, seller=h.agent)
    renewal.renewed_from = first
    renewal.save(update_fields=["renewed_from"])
    assert commissions.continuity_year(renewal) == 2


def test_a_fixed_amount_per_policy() -> None:
    version = f.product_version(name="航延险", line=LineOfBusiness.FLIGHT_DELAY)
    cf.plan(
        "in-fd",
        [{"line": "flight_delay", "basis": "fixed", "fixed_amount": "8.00"}],
        insurer=version.product.insurer,
    )
    policy = cf.issued(version, seller=None, premium="30.00")
    entry = entries(policy)[f"commission:issued:{policy.number}:inbound"]
    assert (entry.amount, entry.base, entry.rate) == (D("8.00"), 0, None)


def test_publishing_an_outbound_plan_above_the_inbound_rate_is_refused_naming_product_and_rates(
    world,
) -> None:
    assert world  # the plans of the fixture
    # agent 15% + team 3% + branch 2% already = 20%; a branch override of 14% more makes 32% > 30%
    draft = commission_plans.new_version(
        CommissionPlanVersion.objects.get(plan__code="out-branch").plan, valid_from=cf.SINCE
    )
    rule = draft.rules.get()
    rule.delete()
    commission_plans.add_rule(draft, {"line": "accident", "rate": "0.14"})
    with pytest.raises(ValidationFailed) as exc:
        commission_plans.publish(draft)
    assert exc.value.code == "margin"
    message = exc.value.errors[0].message
    assert "汇保意外险" in message and "32%" in message and "30%" in message
    draft.refresh_from_db()
    assert draft.status == "draft"
    # within the margin it publishes
    draft.rules.all().delete()
    commission_plans.add_rule(draft, {"line": "accident", "rate": "0.12"})
    assert commission_plans.publish(draft).status == "published"


def test_a_subchannel_and_its_channel_are_summed_against_the_inbound_rate_of_that_channel() -> None:
    h = cf.hierarchy()
    version = f.product_version(name="汇保医疗险", line=LineOfBusiness.MEDICAL)
    insurer = version.product.insurer
    cf.plan(
        "in-med",
        [{"line": "medical", "rate": "0.20"}, {"line": "medical", "rate": "0.28", "channel": "CH-MT"}],
        insurer=insurer,
    )
    cf.plan("out-ch", [{"line": "medical", "rate": "0.10"}], unit=h.channel)
    # 10% + 15% = 25%: above the general 20% but within the channel's own 28%
    assert (
        commission_plans.publish(
            cf.plan("out-sub", [{"line": "medical", "rate": "0.15"}], unit=h.subchannel, publish=False)
        ).status
        == "published"
    )
    policy = cf.issued(version, seller=h.subchannel, premium="1060.00")
    got = entries(policy)
    assert got[f"commission:issued:{policy.number}:inbound"].amount == D("280.00")
    assert got[f"commission:issued:{policy.number}:outbound:CH-MT-1"].amount == D("150.00")
    assert got[f"commission:issued:{policy.number}:outbound:CH-MT"].amount == D("100.00")


def test_an_ambiguous_version_is_refused_and_a_published_one_never_changes() -> None:
    version = f.product_version(line=LineOfBusiness.ACCIDENT)
    draft = cf.plan(
        "in",
        [{"line": "accident", "rate": "0.3"}, {"line": "accident", "rate": "0.2"}],
        insurer=version.product.insurer,
        publish=False,
    )
    with pytest.raises(ValidationFailed) as exc:
        commission_plans.publish(draft)
    assert exc.value.code == "ambiguous" and exc.value.errors[0].field == "rules"
    draft.rules.order_by("id").last().delete()
    published = commission_plans.publish(draft)
    with pytest.raises(Conflict):
        commission_plans.add_rule(published, {"line": "accident", "rate": "0.1", "year": 2})
    assert published.rules.count() == 1


def test_bad_rule_input_names_the_field_and_writes_nothing() -> None:
    version = f.product_version(line=LineOfBusiness.ACCIDENT)
    draft = cf.plan("in", [], insurer=version.product.insurer, publish=False)
    for data, field in [
        ({"rate": "abc"}, "rate"),
        ({"rate": "1.2"}, "rate"),
        ({"product": "nope"}, "product"),
        ({"rate": "0.2", "tiers": [{"threshold": "x"}]}, "tiers[0]"),
    ]:
        with pytest.raises(ValidationFailed) as exc:
            commission_plans.add_rule(draft, data)
        assert exc.value.errors[0].field == field
    assert draft.rules.count() == 0


def test_a_new_version_supersedes_from_its_own_date() -> None:
    version = f.product_version(line=LineOfBusiness.ACCIDENT)
    v1 = cf.plan(
        "in",
        [{"line": "accident", "rate": "0.30"}],
        insurer=version.product.insurer,
        valid_from=datetime.date(2025, 1, 1),
    )
    v2 = commission_plans.new_version(v1.plan, valid_from=datetime.date(2026, 1, 1))
    v2.rules.update(rate=D("0.25"))
    commission_plans.publish(v2)
    assert commission_selectors.version_in_force(v1.plan, datetime.date(2025, 12, 31)) == v1
    assert commission_selectors.version_in_force(v1.plan, datetime.date(2026, 1, 1)) == v2
    v1.refresh_from_db()
    assert v1.rules.get().rate == D("0.30")  # the old version unchanged


def test_month_end_settles_the_tier_difference_retroactively_once() -> None:
    version = f.product_version(line=LineOfBusiness.ACCIDENT)
    insurer = version.product.insurer
    cf.plan(
        "in",
        [{"line": "accident", "rate": "0.20", "tiers": [{"threshold": "2000", "rate": "0.25"}]}],
        insurer=insurer,
        targets=[{"premium": "3000", "bonus": "500"}],
    )
    policies = [cf.issued(version, seller=None, premium="1060.00") for _ in range(3)]
    month = timezone.localdate(policies[0].issued_at)
    # when
    booked = commissions.settle_tiers(month)
    again = commissions.settle_tiers(month)
    # then: 3 × 1000 net × 5% = 150
    assert [b.entry.amount for b in booked] == [D("150.00")]
    assert [b.created for b in again] == [False]
    quarter = commissions.settle_targets(month)
    assert [b.entry.amount for b in quarter] == [D("500.00")]
    assert ledger.balance(accounts.commission_receivable(insurer)) == D("600.00") + D("150.00") + D("500.00")


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(premium=st.decimals(min_value=D("10"), max_value=D("100000"), places=2), cancel=st.booleans())
def test_the_sum_of_a_policys_entries_equals_the_rules_result(world, premium: Decimal, cancel: bool) -> None:
    h, version, _ = world
    policy = cf.issued(version, seller=h.agent, premium=str(premium))
    if cancel:
        commissions.book_cancellation(
            policy, refund=premium, paid=premium, in_cooling_off=True, on=timezone.localdate()
        )
    net = (premium / D("1.06")).quantize(D("0.01"))
    inbound = commissions.earned_total(policy, direction="inbound")
    outbound = commissions.earned_total(policy, direction="outbound")
    expected_in = D(0) if cancel else (net * D("0.30")).quantize(D("0.01"))
    assert inbound == expected_in
    assert outbound <= inbound
    # every transaction balances
    for txn in JournalTransaction.objects.filter(key__contains=policy.number):
        sums = [(line.debit, line.credit) for line in txn.lines.all()]
        assert sum(d for d, _ in sums) == sum(c for _, c in sums)
