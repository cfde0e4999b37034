"""The commission rules without the database: table-driven, and properties with hypothesis."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huibao.core.money import to_fen
from huibao.finance import commission_rules as r

D = Decimal
SALE = r.Sale(insurer_id=1, product_id=10, line="accident", mode="annual", year=1, channels=(7, 5))


def rule(rid: int, **kw: object) -> r.Rule:
    return r.Rule(id=rid, version_id=1, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rules", "sale", "winner"),
    [
        # product over line over any
        ([rule(1), rule(2, line="accident"), rule(3, product_id=10)], SALE, 3),
        ([rule(1), rule(2, line="accident")], SALE, 2),
        ([rule(1, line="medical"), rule(2)], SALE, 2),
        # a channel over any; the deeper (sub-channel 7) over its channel (5)
        ([rule(1), rule(2, channel_id=5)], SALE, 2),
        ([rule(1, channel_id=5), rule(2, channel_id=7)], SALE, 2),
        ([rule(1, channel_id=99)], SALE, None),
        # an exact year over renewal years; of renewal years the higher n
        ([rule(1, year=2, and_later=True), rule(2, year=3)], r.Sale(1, 10, "accident", "annual", 3), 2),
        (
            [rule(1, year=2, and_later=True), rule(2, year=3, and_later=True)],
            r.Sale(1, 10, "accident", "annual", 5),
            2,
        ),
        ([rule(1, year=2, and_later=True)], r.Sale(1, 10, "accident", "annual", 1), None),
        ([rule(1, year=1)], r.Sale(1, 10, "accident", "annual", 2), None),
        # an exact mode over any
        ([rule(1), rule(2, mode="annual"), rule(3, mode="monthly")], SALE, 2),
        # product beats channel (product is compared first)
        ([rule(1, channel_id=7, line="accident"), rule(2, product_id=10)], SALE, 2),
        # another insurer's rule does not match
        ([rule(1, insurer_id=2)], SALE, None),
    ],
)
def test_the_most_specific_rule_wins(rules: list[r.Rule], sale: r.Sale, winner: int | None) -> None:
    found = r.resolve(rules, sale)
    assert (found.id if found else None) == winner


def test_two_rules_of_one_key_are_ambiguous() -> None:
    rules = [rule(1, line="accident", year=1), rule(2, line="accident", year=1, rate=D("0.2"))]
    with pytest.raises(r.CommissionRuleError) as exc:
        r.check_unambiguous(rules)
    assert exc.value.code == "ambiguous" and "规则1" in exc.value.message
    with pytest.raises(r.CommissionRuleError):
        r.resolve(rules, SALE)
    # different years or modes are not ambiguous
    r.check_unambiguous(
        [
            rule(1, line="accident"),
            rule(2, line="accident", year=2, and_later=True),
            rule(3, line="accident", mode="monthly"),
        ]
    )


@pytest.mark.parametrize(
    ("line", "vat", "premium", "rate", "base", "amount"),
    [
        ("accident", None, "106.00", "0.30", "100.00", "30.00"),  # short-term: 6% VAT out of the premium
        ("medical", None, "300.00", "0.25", "283.02", "70.76"),
        ("critical_illness", None, "5000.00", "0.60", "5000.00", "3000.00"),  # long-term: VAT-exempt
        ("term_life", None, "1200.00", "0.45", "1200.00", "540.00"),
        ("accident", "0", "106.00", "0.30", "106.00", "31.80"),  # the rule's own VAT rate
        ("accident", None, "-53.00", "0.30", "-50.00", "-15.00"),  # a negative endorsement delta
    ],
)
def test_a_rate_applies_to_the_net_premium(
    line: str, vat: str | None, premium: str, rate: str, base: str, amount: str
) -> None:
    got = r.commission_of(
        rule(1, rate=D(rate), vat_rate=D(vat) if vat is not None else None), premium=D(premium), line=line
    )
    assert (got.base, got.amount) == (D(base), D(amount))
    assert got.explanation["base"] == base and got.explanation["rate"] == rate


@pytest.mark.parametrize(("share", "amount"), [(D(1), D("15.00")), (D(0), D("0.00"))])
def test_a_fixed_amount_is_paid_once_per_policy(share: Decimal, amount: Decimal) -> None:
    got = r.commission_of(
        rule(1, basis=r.BASIS_FIXED, fixed_amount=D("15")), premium=D("99"), line="flight_delay", share=share
    )
    assert got.amount == amount and got.base == 0 and got.rate is None


@pytest.mark.parametrize(
    ("clawback", "pct", "cooling", "earned", "refund", "paid", "taken"),
    [
        ("pro_rata", "100", True, "300.00", "1000.00", "1000.00", "-300.00"),  # inside cooling-off: all
        ("none", "100", True, "300.00", "10.00", "1000.00", "-300.00"),  # whatever the rule says
        ("pro_rata", "100", False, "300.00", "250.00", "1000.00", "-75.00"),
        ("pro_rata", "100", False, "300.00", "2000.00", "1000.00", "-300.00"),  # at most all of it
        ("percent", "50", False, "300.00", "250.00", "1000.00", "-150.00"),
        ("none", "100", False, "300.00", "250.00", "1000.00", "0"),
        ("pro_rata", "100", False, "0", "250.00", "1000.00", "0"),  # nothing earned
    ],
)
def test_clawback_inside_and_after_the_cooling_off(
    clawback: str, pct: str, cooling: bool, earned: str, refund: str, paid: str, taken: str
) -> None:
    amount, how = r.clawback_of(
        rule(1, clawback=clawback, clawback_percent=D(pct)),
        earned=D(earned),
        refund=D(refund),
        paid=D(paid),
        in_cooling_off=cooling,
    )
    assert amount == D(taken)
    assert "method" in how


TIERED = rule(1, rate=D("0.20"), tiers=(r.Tier(D("100000"), D("0.25")), r.Tier(D("500000"), D("0.30"))))


@pytest.mark.parametrize(
    ("month_premium", "tier", "amount"),
    [("99999.99", 0, "0"), ("100000", 1, "500.00"), ("499999", 1, "500.00"), ("600000", 2, "1000.00")],
)
def test_tiers_settle_the_difference_for_the_whole_month(month_premium: str, tier: int, amount: str) -> None:
    got = r.tier_difference(TIERED, month_premium=D(month_premium), bases=[D("4000"), D("6000")])
    assert got == (tier, D(amount))


def test_the_highest_target_reached_pays_its_bonus() -> None:
    targets = [r.Target(D("1000000"), D("10000")), r.Target(D("3000000"), D("50000"))]
    assert r.target_bonus(targets, D("999999")) == 0
    assert r.target_bonus(targets, D("1000000")) == D("10000.00")
    assert r.target_bonus(targets, D("5000000")) == D("50000.00")


@pytest.mark.parametrize(
    ("field", "kw"),
    [
        ("rate", {"rate": D("1.5")}),
        ("fixed_amount", {"basis": "fixed", "fixed_amount": D("-1")}),
        ("year", {"year": 0}),
        ("clawback", {"clawback": "sometimes"}),
        ("tiers", {"rate": D("0.2"), "tiers": (r.Tier(D("100"), D("0.1")),)}),
        ("tiers", {"rate": D("0.2"), "tiers": (r.Tier(D("100"), D("0.3")), r.Tier(D("50"), D("0.4")))}),
    ],
)
def test_a_bad_rule_names_its_field(field: str, kw: dict[str, object]) -> None:
    with pytest.raises(r.CommissionRuleError) as exc:
        r.check_rule(rule(1, **kw))
    assert exc.value.field == field


money = st.decimals(
    min_value=D("0.01"), max_value=D("1000000"), places=2, allow_nan=False, allow_infinity=False
)
rates = st.decimals(min_value=D("0"), max_value=D("1"), places=4, allow_nan=False, allow_infinity=False)


@given(amount=money)
def test_vat_split_adds_up(amount: Decimal) -> None:
    net, vat = r.split_vat(amount)
    assert net + vat == amount and vat >= 0 and net == to_fen(net)


@given(premium=money, rate=rates, line=st.sampled_from(["accident", "critical_illness", "medical"]))
def test_the_amount_is_the_rate_of_the_net_premium_to_the_fen(
    premium: Decimal, rate: Decimal, line: str
) -> None:
    got = r.commission_of(rule(1, rate=rate), premium=premium, line=line)
    assert got.amount == to_fen(r.net_premium(premium, r.default_vat_rate(line)) * rate)
    assert 0 <= got.amount <= premium


@given(inbound=rates, outbound=st.lists(rates, min_size=1, max_size=4))
def test_margin_control_refuses_exactly_when_outbound_exceeds_inbound(
    inbound: Decimal, outbound: list[Decimal]
) -> None:
    payouts = [r.Payout(i, rule(100 + i, rate=rate)) for i, rate in enumerate(outbound)]
    problem = r.margin_problem(SALE, rule(1, rate=inbound), payouts, reference_premium=D("100"))
    assert (problem is not None) == (sum(outbound) > inbound)


def test_a_fixed_amount_is_compared_at_the_reference_premium() -> None:
    # 20 yuan on a 106 yuan accident premium (100 net) is 20%: above a 15% inbound rate
    payouts = [r.Payout(1, rule(2, basis="fixed", fixed_amount=D("20")))]
    problem = r.margin_problem(SALE, rule(1, rate=D("0.15")), payouts, reference_premium=D("106"))
    assert problem is not None and problem.outbound_rate == D("0.2")
    assert r.margin_problem(SALE, rule(1, rate=D("0.25")), payouts, reference_premium=D("106")) is None
