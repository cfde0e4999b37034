"""The claim rules, pure: each evaluator table-driven, the parameter schema, the verdict."""

from __future__ import annotations

import datetime
from dataclasses import replace
from decimal import Decimal

import pytest

from huibao.fraud import rules
from huibao.fraud.rules import ActiveRule, HeldPolicy, Match, Route
from huibao.fraud.tests.factories import REPORTED, subject

D = datetime.date


def fires(code: str, s, matches=(), **params) -> bool:
    spec = rules.RULES[code]
    return spec.evaluate(s, {**spec.defaults, **params}, tuple(matches)) is not None


def earlier(n: int, amount: str = "1900") -> tuple[Match, ...]:
    return tuple(Match(f"E{i}", amount=Decimal(amount), reported_at=REPORTED) for i in range(n))


@pytest.mark.parametrize(
    ("code", "field", "start", "incident", "days", "expected"),
    [
        ("soon_after_start", "policy_effective_date", D(2026, 5, 1), D(2026, 5, 20), 30, True),
        (
            "soon_after_start",
            "policy_effective_date",
            D(2026, 5, 1),
            D(2026, 5, 31),
            30,
            True,
        ),  # the 30th day
        ("soon_after_start", "policy_effective_date", D(2026, 5, 1), D(2026, 6, 1), 30, False),
        (
            "soon_after_start",
            "policy_effective_date",
            D(2026, 5, 21),
            D(2026, 5, 20),
            30,
            False,
        ),  # before start
        ("soon_after_waiting_period", "waiting_period_end", D(2026, 5, 10), D(2026, 5, 20), 15, True),
        ("soon_after_waiting_period", "waiting_period_end", D(2026, 5, 1), D(2026, 5, 20), 15, False),
        ("soon_after_waiting_period", "waiting_period_end", None, D(2026, 5, 20), 15, False),
        ("soon_after_increase", "sum_insured_increased_on", D(2026, 5, 1), D(2026, 5, 20), 30, True),
        ("soon_after_increase", "sum_insured_increased_on", None, D(2026, 5, 20), 30, False),
        ("soon_after_increase", "sum_insured_increased_on", D(2026, 5, 1), D(2026, 5, 20), 10, False),
    ],
)
def test_soon_after_rules(code, field, start, incident, days, expected) -> None:
    s = subject(**{field: start, "incident_date": incident})
    assert fires(code, s, days=days) is expected


@pytest.mark.parametrize(
    ("code", "earlier_claims", "max_claims", "expected"),
    [
        ("frequent_insured", 2, 3, False),  # 3 with this one: not more than 3
        ("frequent_insured", 3, 3, True),
        ("frequent_region", 50, 50, True),
        ("frequent_region", 10, 50, False),
        ("frequent_institution", 20, 20, True),
        ("frequent_institution", 0, 1, False),
    ],
)
def test_frequency_rules(code, earlier_claims, max_claims, expected) -> None:
    assert fires(code, subject(), earlier(earlier_claims), max_claims=max_claims) is expected


@pytest.mark.parametrize(
    ("applied", "effective", "earlier_claims", "expected"),
    [
        (D(2026, 1, 1), D(2026, 1, 1), 2, True),  # applied and in force the same day, 3 claims
        (D(2026, 1, 1), D(2026, 1, 2), 2, True),  # the next day: still "close"
        (D(2026, 1, 1), D(2026, 1, 1), 1, False),  # 2 claims: not more than 2
        (D(2026, 1, 1), D(2026, 1, 5), 5, False),  # applied well before it took effect
        (None, D(2026, 1, 1), 5, False),  # the claim side could not tell
        (D(2026, 1, 3), D(2026, 1, 1), 5, False),  # applied after the start (a data error)
    ],
)
def test_applied_close_to_the_effective_date_and_more_than_two_claims(
    applied, effective, earlier_claims, expected
) -> None:
    s = subject(policy_applied_date=applied, policy_effective_date=effective)
    assert fires("applied_near_effective_frequent", s, earlier(earlier_claims)) is expected


def test_the_huize_rule_names_its_numbers_and_is_tunable() -> None:
    s = subject(policy_applied_date=D(2026, 1, 1), policy_effective_date=D(2026, 1, 1))
    spec = rules.RULES["applied_near_effective_frequent"]
    finding = spec.evaluate(s, spec.defaults, earlier(2))
    assert finding is not None and finding.facts["claims_in_window"] == 3 and finding.facts["gap_days"] == 0
    # an analyst widening "close" to 7 days catches a policy applied for 5 days ahead
    later = subject(policy_applied_date=D(2026, 1, 1), policy_effective_date=D(2026, 1, 6))
    assert not fires("applied_near_effective_frequent", later, earlier(2))
    assert fires("applied_near_effective_frequent", later, earlier(2), gap_days=7)


@pytest.mark.parametrize(
    ("amount", "threshold_on_subject", "earlier_claims", "expected"),
    [
        ("1900.00", None, 2, True),  # 3 claims within 10 % under 2000
        ("1900.00", None, 1, False),
        ("1799.99", None, 2, False),  # this one is not just under
        ("2000.00", None, 2, True),
        ("2000.01", None, 2, False),
        ("4600.00", Decimal("5000"), 2, True),  # the product's own threshold
        ("1900.00", Decimal("5000"), 2, False),
    ],
)
def test_just_under_the_fast_track_threshold(amount, threshold_on_subject, earlier_claims, expected) -> None:
    s = subject(amount_claimed=Decimal(amount), fast_track_threshold=threshold_on_subject)
    assert fires("just_under_fast_track", s, earlier(earlier_claims)) is expected


@pytest.mark.parametrize(
    ("held", "expected"),
    [
        (None, False),  # the claim side cannot tell
        ((), False),
        ((HeldPolicy("CPIC", "X1"),), False),  # 2 policies: not more than 2
        ((HeldPolicy("CPIC", "X1"), HeldPolicy("PING", "X2")), True),
        ((HeldPolicy("PICC", "X1"), HeldPolicy("PICC", "X2")), False),  # one insurer only
        ((HeldPolicy("CPIC", "X1"), HeldPolicy("PICC", "P0001")), False),  # this policy itself
    ],
)
def test_several_insurers_at_once(held, expected) -> None:
    assert fires("multiple_insurers", subject(held_policies=held)) is expected


@pytest.mark.parametrize("code", ["duplicate_invoice_number", "duplicate_invoice_file", "blacklisted"])
def test_list_rules_fire_on_any_match_and_name_it(code) -> None:
    s = subject()
    assert not fires(code, s)
    match = Match("CL-OTHER", "P9", "CPIC", Decimal("100"), value=s.claimant_id_hash)
    finding = rules.RULES[code].evaluate(s, {}, (match,))
    assert finding is not None and finding.matches == (match,)


@pytest.mark.parametrize(
    ("values", "field", "code"),
    [
        ({"days": -1}, "parameters.days", "out_of_range"),
        ({"days": "ten"}, "parameters.days", "int_type"),
        ({"days": 1.5}, "parameters.days", "int_type"),
        ({"days": True}, "parameters.days", "int_type"),
        ({}, "parameters.days", "required"),
        ({"days": 5, "weeks": 1}, "parameters.weeks", "unknown_parameter"),
    ],
)
def test_parameters_that_break_the_schema_name_the_field(values, field, code) -> None:
    _, errors = rules.validate_parameters(rules.RULES["soon_after_start"].params, values)
    assert [(e.field, e.code) for e in errors] == [(field, code)]


def test_decimal_parameters_are_stored_as_strings_and_refuse_floats() -> None:
    spec = rules.RULES["just_under_fast_track"]
    clean, errors = rules.validate_parameters(spec.params, {**spec.defaults, "percent": "12.5"})
    assert not errors and clean["percent"] == "12.5"
    _, errors = rules.validate_parameters(spec.params, {**spec.defaults, "percent": 12.5})
    assert [e.field for e in errors] == ["parameters.percent"]


def test_every_registered_default_fits_its_schema() -> None:
    for spec in rules.RULES.values():
        assert rules.validate_parameters(spec.params, spec.defaults)[1] == [], spec.code


def test_the_verdict_sums_scores_and_takes_the_strictest_route() -> None:
    def active(code: str, score: int, route: Route) -> ActiveRule:
        spec = rules.RULES[code]
        return ActiveRule(spec, 1, spec.defaults, score, route)

    s = subject(policy_effective_date=s_date(), waiting_period_end=None)
    quiet = rules.evaluate(s, [active("soon_after_start", 20, Route.PASS)], {})
    assert (quiet.score, quiet.route) == (20, Route.PASS)
    by_score = rules.evaluate(s, [active("soon_after_start", 45, Route.PASS)], {})
    assert by_score.route == Route.REVIEW
    forced = rules.evaluate(
        s,
        [active("soon_after_start", 1, Route.PASS), active("blacklisted", 1, Route.BLOCK)],
        {"blacklisted": (Match("B1", value=s.claimant_id_hash),)},
    )
    assert (forced.score, forced.route, [f.code for f in forced.fired]) == (
        2,
        Route.BLOCK,
        ["soon_after_start", "blacklisted"],
    )
    clean = rules.evaluate(
        replace(s, policy_effective_date=D(2020, 1, 1)), [active("soon_after_start", 20, Route.BLOCK)], {}
    )
    assert (clean.score, clean.route, clean.fired) == (0, Route.PASS, ())


def s_date() -> datetime.date:
    return D(2026, 5, 10)


def test_a_rule_registered_twice_is_refused() -> None:
    spec = rules.RULES["blacklisted"]
    with pytest.raises(ValueError, match="twice"):
        rules.register_rule(replace(spec, name="other"))
