"""Pure policy rules, without the database: numbers, terms, retention, sums, backoff, signatures, NPS."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huibao.policy import rules

SH = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int, h: int = 0, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(y, m, d, h, minute, tzinfo=SH)


# --- numbers ----------------------------------------------------------------------------------


def test_prefix_is_the_code_in_capitals_then_unique_variants_by_insurer_id() -> None:
    first = rules.number_prefix_candidates("pingan-life", 40)
    second = rules.number_prefix_candidates("pingan-health", 41)
    assert first[0] == second[0] == "PINGAN"  # the natural prefixes collide …
    assert first[1] != second[1]  # … the fall-backs do not
    assert all(len(p) <= rules.PREFIX_LENGTH for p in first + second)
    assert rules.number_prefix_candidates("zhongan", 1)[0] == "ZHONGA"
    assert rules.number_prefix_candidates("---", 7)[0] == "HB"


def test_number_format() -> None:
    assert rules.format_number("ZHONGA", 2026, 1) == "ZHONGA202600000001"
    with pytest.raises(ValueError):
        rules.format_number("X", 2026, 10**8)


@given(st.integers(min_value=1, max_value=99_999), st.integers(min_value=1, max_value=99_999))
def test_fallback_prefixes_of_different_insurers_differ(a: int, b: int) -> None:
    if a % 36**2 == b % 36**2 and a % 36**4 == b % 36**4 and a % 36**5 == b % 36**5:
        return  # same id modulo every width: cannot be told apart by construction
    assert set(rules.number_prefix_candidates("pingan-x", a)[1:]) != set(
        rules.number_prefix_candidates("pingan-y", b)[1:]
    )


# --- terms ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "kind", "value"),
    [
        ({"code": "1y", "label": "1年", "years": 1}, "years", 1),
        ({"code": "6m", "months": 6}, "months", 6),
        ({"code": "trip", "days": 180}, "days", 180),
        ({"code": "to70", "to_age": 70}, "to_age", 70),
        ({"code": "life", "label": "保终身", "to_age": 105}, "lifetime", 0),
        ({"code": "lifetime", "label": "终身"}, "lifetime", 0),
        ({"code": "wl", "label": "终身", "lifetime": True}, "lifetime", 0),
    ],
)
def test_term_options_are_read(option: dict[str, object], kind: str, value: int) -> None:
    term = rules.term_from_option(option)
    assert (term.kind, term.value) == (kind, value)


def test_the_quote_term_is_chosen_else_the_first_else_one_year() -> None:
    options = [{"code": "to70", "to_age": 70}, {"code": "life", "to_age": 105}]
    assert rules.choose_term(options, "life").whole_life
    assert rules.choose_term(options, None).code == "to70"
    assert rules.choose_term([], None).kind == "years" and rules.choose_term([], None).value == 1


def test_contract_end_by_kind() -> None:
    start = at(2026, 1, 31)
    assert rules.contract_end(rules.Term("d", "", "days", 15), start, None) == at(2026, 2, 15)
    assert rules.contract_end(rules.Term("m", "", "months", 1), start, None) == at(2026, 2, 28)
    assert rules.contract_end(rules.Term("y", "", "years", 1), at(2028, 2, 29), None) == at(2029, 2, 28)
    assert rules.contract_end(rules.Term("l", "", "lifetime"), start, datetime.date(1990, 1, 1)) is None


def test_to_age_ends_on_the_first_anniversary_after_that_birthday() -> None:
    start = at(2026, 6, 1)
    # born 1996-03-10: 70 on 2066-03-10 → anniversary 2066-06-01
    assert rules.contract_end(rules.Term("to70", "", "to_age", 70), start, datetime.date(1996, 3, 10)) == at(
        2066, 6, 1
    )
    # born 1996-09-10: 70 on 2066-09-10 → anniversary 2067-06-01
    assert rules.contract_end(rules.Term("to70", "", "to_age", 70), start, datetime.date(1996, 9, 10)) == at(
        2067, 6, 1
    )
    with pytest.raises(ValueError):
        rules.contract_end(rules.Term("to70", "", "to_age", 70), start, None)


def test_period_text() -> None:
    assert rules.period_text(at(2026, 1, 1), at(2027, 1, 1)) == "2026年01月01日0时起至2026年12月31日24时止"
    assert rules.period_text(at(2026, 1, 1, 15, 30), at(2027, 1, 1, 15, 30)).endswith(
        "2027年01月01日15时30分止"
    )
    assert rules.period_text(at(2026, 1, 1), None) == "2026年01月01日0时起，终身"


def test_period_text_of_one_instant_in_two_offsets_prints_each_in_its_own() -> None:
    # the memo's key: equal aware times (one instant) that print differently
    local = at(2026, 1, 1)
    utc = local.astimezone(datetime.UTC)
    assert local == utc
    assert rules.period_text(local, None) == "2026年01月01日0时起，终身"
    assert rules.period_text(utc, None) == "2025年12月31日16时00分起，终身"


# --- retention and cooling-off ------------------------------------------------------------------


def test_retention_five_years_for_short_terms_ten_for_longer_and_whole_life_to_115() -> None:
    start = at(2026, 1, 1)
    assert rules.retention_until(start, at(2027, 1, 1), None) == datetime.date(2032, 1, 1)
    assert rules.retention_until(start, at(2026, 1, 16), None) == datetime.date(2031, 1, 16)
    assert rules.retention_until(start, at(2046, 1, 1), None) == datetime.date(2056, 1, 1)
    assert rules.retention_until(start, None, datetime.date(1990, 5, 6)) == datetime.date(2105, 5, 6)
    assert rules.is_short_term(start, at(2027, 1, 1)) and not rules.is_short_term(start, at(2027, 1, 2))


def test_cooling_off() -> None:
    assert rules.cooling_off_until(datetime.date(2026, 1, 1), 15) == datetime.date(2026, 1, 16)
    assert rules.cooling_off_until(datetime.date(2026, 1, 1), 0) is None


# --- sums -----------------------------------------------------------------------------------------


def test_coverage_sums_scale_with_the_chosen_sum() -> None:
    assert rules.scaled_sum(Decimal(600_000), Decimal(1_000_000), Decimal(500_000)) == Decimal("300000.00")
    assert rules.scaled_sum(Decimal(600_000), Decimal(1_000_000), None) == Decimal("600000.00")
    assert rules.scaled_sum(Decimal(50_000), Decimal(50_000), Decimal(50_000)) == Decimal("50000.00")


@given(st.integers(min_value=1, max_value=10**7), st.integers(min_value=1, max_value=10**7))
def test_scaled_sum_never_falls_when_the_chosen_sum_rises(low: int, high: int) -> None:
    low, high = sorted((low, high))
    plan_max, amount = Decimal(10**7), Decimal(600_000)
    assert rules.scaled_sum(amount, plan_max, Decimal(low)) <= rules.scaled_sum(
        amount, plan_max, Decimal(high)
    )


def test_death_benefit_adds_death_covers_and_ignores_third_party_liability() -> None:
    covers = [
        ("death", "身故保险金", Decimal(500_000)),
        ("traffic_extra", "交通意外额外身故", Decimal(200_000)),
        ("critical", "重大疾病", Decimal(500_000)),
        ("death_disability", "死亡伤残赔偿", Decimal(180_000)),
    ]
    assert rules.death_benefit(covers) == Decimal("700000.00")


# --- delivery ---------------------------------------------------------------------------------------


def test_backoff_doubles_and_is_capped() -> None:
    delays = [rules.retry_delay(n) for n in range(1, 12)]
    assert delays[:4] == [datetime.timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert all(b >= a for a, b in itertools.pairwise(delays))
    assert max(delays) == rules.MAX_RETRY_DELAY


# --- NPS ------------------------------------------------------------------------------------------


def test_nps_categories_and_summary() -> None:
    assert [rules.nps_category(s) for s in (0, 6, 7, 8, 9, 10)] == [
        "detractor",
        "detractor",
        "passive",
        "passive",
        "promoter",
        "promoter",
    ]
    s = rules.nps_summary("x", responses=10, promoters=5, detractors=2)
    assert (s.promoters_pct, s.passives_pct, s.detractors_pct, s.nps) == (
        Decimal("50.0"),
        Decimal("30.0"),
        Decimal("20.0"),
        Decimal("30.0"),
    )
    assert rules.nps_summary("empty", 0, 0, 0).nps == 0


def test_nps_is_rounded_once_not_from_rounded_shares() -> None:
    # 2 promoters, 1 detractor of 3: 66.67 % − 33.33 % = 33.33 → 33.3 (not 66.7 − 33.3 = 33.4)
    assert rules.nps_summary("x", responses=3, promoters=2, detractors=1).nps == Decimal("33.3")
    assert rules.nps_summary("x", responses=3, promoters=1, detractors=2).nps == Decimal("-33.3")
    assert rules.nps_summary("x", responses=3, promoters=0, detractors=3).nps == Decimal("-100.0")


@pytest.mark.parametrize(
    ("effective", "expires", "bounds", "printed"),
    [
        # ends at 00:00: the last day is the day before, to 24:00 — in the list and in print
        (
            datetime.datetime(2026, 12, 4),
            datetime.datetime(2027, 12, 4),
            ("2026-12-04 00:00", "2027-12-03 24:00"),
            "2026年12月04日0时起至2027年12月03日24时止",
        ),
        (
            datetime.datetime(2026, 12, 5, 3, 53),
            datetime.datetime(2026, 12, 6, 3, 53),
            ("2026-12-05 03:53", "2026-12-06 03:53"),
            "2026年12月05日03时53分起至2026年12月06日03时53分止",
        ),
        (datetime.datetime(2026, 1, 1), None, ("2026-01-01 00:00", ""), "2026年01月01日0时起，终身"),
    ],
)
def test_the_list_and_the_printed_period_end_on_the_same_day(effective, expires, bounds, printed) -> None:
    assert rules.period_bounds(effective, expires) == bounds
    assert rules.period_text(effective, expires) == printed
