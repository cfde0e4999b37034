"""The refund rules of a cancellation, exact to the fen (pure: no database)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from huibao.catalog.servicing import CancellationRule, CashValueStep, RefundMethod, servicing_rules
from huibao.policy import refund_rules as rr
from huibao.policy.refund_rules import CancellationKind, PolicyFigures, refund_quote

D = datetime.date
M = Decimal


def figures(
    *,
    start: datetime.date = D(2026, 1, 1),
    end: datetime.date | None = D(2027, 1, 1),
    premium: str = "365.00",
    paid: str | None = None,
    cooling_off_until: datetime.date | None = D(2025, 12, 31),
) -> PolicyFigures:
    return PolicyFigures(
        start=start,
        end=end,
        premium=M(premium),
        paid=M(paid if paid is not None else premium),
        cooling_off_until=cooling_off_until,
    )


def assert_consistent(quote: rr.RefundQuote) -> None:
    assert sum((line.amount for line in quote.lines), M("0.00")) == quote.amount
    assert M("0.00") <= quote.amount <= quote.paid
    assert all(line.amount.as_tuple().exponent == -2 for line in quote.lines)


# --- cooling-off -------------------------------------------------------------------------------

COOLING = [
    # (request date, cooling-off until, fee, paid, expected refund, kind)
    (D(2026, 1, 10), D(2026, 1, 15), "0", "1288.88", "1288.88", CancellationKind.COOLING_OFF),
    (D(2026, 1, 15), D(2026, 1, 15), "0", "1288.88", "1288.88", CancellationKind.COOLING_OFF),  # last day
    (D(2026, 1, 15), D(2026, 1, 15), "10.00", "1288.88", "1278.88", CancellationKind.COOLING_OFF),
    (D(2026, 1, 15), D(2026, 1, 15), "20.00", "12.50", "0.00", CancellationKind.COOLING_OFF),  # fee > paid
    (D(2026, 1, 16), D(2026, 1, 15), "0", "1288.88", None, CancellationKind.SURRENDER),  # day after
]


@pytest.mark.parametrize(("on", "until", "fee", "paid", "expected", "kind"), COOLING)
def test_cooling_off_gives_back_everything_paid_less_the_fee(on, until, fee, paid, expected, kind) -> None:
    rule = CancellationRule(cooling_off_fee=M(fee))
    quote = refund_quote(rule, figures(start=D(2026, 1, 11), premium=paid, cooling_off_until=until), on)
    assert quote.kind == kind
    assert_consistent(quote)
    if expected is not None:
        assert quote.amount == M(expected)
        assert quote.method == "cooling_off"
        assert quote.lines[0].code == "paid" and quote.lines[0].amount == M(paid)


def test_cooling_off_of_a_policy_in_instalments_gives_back_only_what_was_paid() -> None:
    quote = refund_quote(
        CancellationRule(),
        figures(premium="1200.00", paid="300.00", cooling_off_until=D(2026, 1, 20)),
        D(2026, 1, 5),
    )
    assert quote.amount == M("300.00")


# --- pro rata ---------------------------------------------------------------------------------

PRO_RATA = [
    # (start, end, premium, paid, request, fee_rate, fee_fixed, days in force, term, expected)
    # 365 days, request on the start day: 1 day in force; 364/365 × 365 = 364 less 25 % = 273
    (D(2026, 1, 1), D(2027, 1, 1), "365.00", "365.00", D(2026, 1, 1), "0.25", "0", 1, 365, "273.00"),
    # half a year: 181 days in force (1 Jan – 30 Jun), 184 left
    (D(2026, 1, 1), D(2027, 1, 1), "1000.00", "1000.00", D(2026, 6, 30), "0", "0", 181, 365, "504.11"),
    # leap year: 366 days
    (D(2028, 1, 1), D(2029, 1, 1), "1000.00", "1000.00", D(2028, 6, 30), "0", "0", 182, 366, "502.73"),
    # 29 February counts as a day
    (D(2028, 2, 1), D(2028, 3, 2), "300.00", "300.00", D(2028, 2, 29), "0", "0", 29, 30, "10.00"),
    # last day of cover: nothing unearned
    (D(2026, 1, 1), D(2027, 1, 1), "365.00", "365.00", D(2026, 12, 31), "0.25", "0", 365, 365, "0.00"),
    # request before the start (cooling-off ended earlier): everything unearned
    (D(2026, 3, 1), D(2027, 3, 1), "365.00", "365.00", D(2026, 2, 20), "0.10", "5.00", 0, 365, "323.50"),
    # fixed fee bigger than the refund: 0
    (D(2026, 1, 1), D(2027, 1, 1), "365.00", "365.00", D(2026, 12, 20), "0", "50.00", 354, 365, "0.00"),
    # rounding once: 1000 × 100/365 = 273.972602… ; unearned 726.027397… less 25 % = 544.520547…
    (D(2026, 1, 1), D(2027, 1, 1), "1000.00", "1000.00", D(2026, 4, 10), "0.25", "0", 100, 365, "544.52"),
    # monthly, 3 instalments of 100 paid, 45 days in force: 300 − 1200 × 45/365 = 152.054794… → 152.05
    (D(2026, 1, 1), D(2027, 1, 1), "1200.00", "300.00", D(2026, 2, 14), "0", "0", 45, 365, "152.05"),
    # monthly, 3 paid, cover earned beyond what was paid: 0
    (D(2026, 1, 1), D(2027, 1, 1), "1200.00", "300.00", D(2026, 4, 30), "0", "0", 120, 365, "0.00"),
]


@pytest.mark.parametrize(
    ("start", "end", "premium", "paid", "on", "rate", "fixed", "days", "term", "expected"), PRO_RATA
)
def test_pro_rata(start, end, premium, paid, on, rate, fixed, days, term, expected) -> None:
    rule = CancellationRule(method=RefundMethod.PRO_RATA, fee_rate=M(rate), fee_fixed=M(fixed))
    quote = refund_quote(rule, figures(start=start, end=end, premium=premium, paid=paid), on)
    assert quote.kind == CancellationKind.SURRENDER
    assert (quote.days_in_force, quote.term_days) == (days, term)
    assert quote.amount == M(expected)
    assert_consistent(quote)


def test_pro_rata_lines_explain_the_computation() -> None:
    rule = CancellationRule(method=RefundMethod.PRO_RATA, fee_rate=M("0.25"), fee_fixed=M("10.00"))
    quote = refund_quote(rule, figures(premium="1000.00"), D(2026, 4, 10))
    codes = [(line.code, line.amount) for line in quote.lines]
    # 1000 − 273.97 = 726.03; 25 % of 726.027… = 181.51 (181.506…); − 10 → 534.52
    assert codes == [
        ("paid", M("1000.00")),
        ("earned", M("-273.97")),
        ("fee_rate", M("-181.51")),
        ("fee_fixed", M("-10.00")),
    ]
    assert quote.amount == M("534.52")
    assert quote.lines[1].basis_text() == "保费1000.00元 × 已保障100天 ÷ 保险期间365天"
    assert quote.lines[2].basis_text() == "未满期保费 × 25%"


# --- short rate --------------------------------------------------------------------------------

SHORT_RATE = [
    # (request, expected months, expected refund) premium 1000, fee_fixed 0
    (D(2026, 1, 1), 1, "900.00"),  # first day: a started month counts whole (10 %)
    (D(2026, 1, 31), 1, "900.00"),
    (D(2026, 2, 1), 2, "800.00"),  # the second month has started
    (D(2026, 8, 15), 8, "200.00"),
    (D(2026, 9, 1), 9, "150.00"),
    (D(2026, 11, 30), 11, "50.00"),
    (D(2026, 12, 1), 12, "0.00"),
]


@pytest.mark.parametrize(("on", "months", "expected"), SHORT_RATE)
def test_short_rate_months(on, months, expected) -> None:
    rule = CancellationRule(method=RefundMethod.SHORT_RATE)
    assert rr.months_in_force(D(2026, 1, 1), on) == months
    quote = refund_quote(rule, figures(premium="1000.00"), on)
    assert quote.amount == M(expected)
    assert_consistent(quote)


def test_short_rate_less_fixed_fee_never_below_zero() -> None:
    rule = CancellationRule(method=RefundMethod.SHORT_RATE, fee_fixed=M("30.00"))
    assert refund_quote(rule, figures(premium="1000.00"), D(2026, 3, 5)).amount == M("670.00")
    assert refund_quote(rule, figures(premium="1000.00"), D(2026, 11, 5)).amount == M("20.00")
    assert refund_quote(rule, figures(premium="1000.00"), D(2026, 12, 5)).amount == M("0.00")


def test_short_rate_month_end_start() -> None:
    # started 31 January: the second month starts on 28 February
    assert rr.months_in_force(D(2026, 1, 31), D(2026, 2, 27)) == 1
    assert rr.months_in_force(D(2026, 1, 31), D(2026, 2, 28)) == 2


# --- cash value --------------------------------------------------------------------------------

CASH_RULE = CancellationRule(
    method=RefundMethod.CASH_VALUE,
    cash_values=(CashValueStep(1, M("0.10")), CashValueStep(2, M("0.35")), CashValueStep(5, M("0.80"))),
    cash_value_after=M("0.90"),
)
CASH = [
    # (request, paid, completed years, expected)
    (D(2026, 6, 1), "5000.00", 0, "0.00"),  # first year not completed
    (D(2026, 12, 31), "5000.00", 0, "0.00"),
    (D(2027, 1, 1), "5000.00", 1, "500.00"),  # the anniversary completes the year
    (D(2028, 3, 1), "10000.00", 2, "3500.00"),
    (D(2030, 6, 1), "20000.00", 4, "7000.00"),  # no line for year 4: the latest before it (year 2)
    (D(2031, 1, 1), "25000.00", 5, "20000.00"),
    (D(2040, 1, 1), "70000.00", 14, "63000.00"),  # after the table
    (D(2027, 1, 1), "3333.33", 1, "333.33"),  # 333.333 → 333.33
]


@pytest.mark.parametrize(("on", "paid", "years", "expected"), CASH)
def test_cash_value_years(on, paid, years, expected) -> None:
    assert rr.completed_years(D(2026, 1, 1), on) == years
    quote = refund_quote(CASH_RULE, figures(end=None, premium="5000.00", paid=paid), on)
    assert quote.amount == M(expected)
    assert_consistent(quote)


def test_cash_value_never_more_than_paid() -> None:
    rule = CancellationRule(method=RefundMethod.CASH_VALUE, cash_values=(CashValueStep(1, M("1.20")),))
    quote = refund_quote(rule, figures(end=None, paid="1000.00"), D(2027, 2, 1))
    assert quote.amount == M("1000.00")


def test_cash_value_less_fixed_fee_bigger_than_value() -> None:
    rule = CancellationRule(
        method=RefundMethod.CASH_VALUE, cash_values=(CashValueStep(1, M("0.01")),), fee_fixed=M("50")
    )
    quote = refund_quote(rule, figures(end=None, paid="1000.00"), D(2027, 2, 1))
    assert quote.amount == M("0.00")
    assert_consistent(quote)


# --- none ------------------------------------------------------------------------------------


def test_method_none_refuses_after_cooling_off_with_the_products_text() -> None:
    rule = servicing_rules({"cancellation": {"method": "none", "refusal": "交强险不得退保"}}).cancellation
    quote = refund_quote(rule, figures(), D(2026, 3, 1))
    assert not quote.allowed and quote.refusal == "交强险不得退保" and quote.amount == 0
    # …but inside the cooling-off period the whole premium still comes back
    inside = refund_quote(rule, figures(cooling_off_until=D(2026, 3, 1)), D(2026, 3, 1))
    assert inside.allowed and inside.amount == M("365.00")


def test_pro_rata_of_a_whole_life_policy_is_refused() -> None:
    quote = refund_quote(CancellationRule(), figures(end=None), D(2026, 3, 1))
    assert not quote.allowed and quote.refusal


def test_default_rule_is_pro_rata_less_a_quarter() -> None:
    quote = refund_quote(servicing_rules(None).cancellation, figures(), D(2026, 1, 1))
    assert quote.amount == M("273.00")
    json_lines = quote.lines_json()
    assert json_lines[0] == {
        "code": "paid",
        "label": "已缴保费",
        "amount": "365.00",
        "basis": "本保单已缴纳的保费合计",
        "basis_text": "本保单已缴纳的保费合计",
        "params": {"paid": "365.00"},
    }


# --- allocation ------------------------------------------------------------------------------


def _source(key: str, available: str, day: int) -> rr.RefundSource:
    return rr.RefundSource(key, M(available), datetime.datetime(2026, 1, day, tzinfo=datetime.UTC))


def test_refund_goes_to_the_latest_payments_first_each_capped() -> None:
    sources = [_source("checkout", "100.00", 1), _source("inst2", "100.00", 2), _source("inst3", "100.00", 3)]
    assert rr.allocate_refund(M("152.05"), sources) == [("inst3", M("100.00")), ("inst2", M("52.05"))]
    assert rr.allocate_refund(M("300.00"), sources) == [
        ("inst3", M("100.00")),
        ("inst2", M("100.00")),
        ("checkout", M("100.00")),
    ]
    assert rr.allocate_refund(M("0.00"), sources) == []


def test_refund_larger_than_the_payments_is_refused() -> None:
    with pytest.raises(ValueError):
        rr.allocate_refund(M("300.01"), [_source("checkout", "300.00", 1)])
