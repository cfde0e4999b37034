"""The pure part of event-triggered payouts: thresholds, cancellation, reading events, signatures."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from huibao.catalog.claim_terms import ClaimTerms, CoverageBasis, claim_terms
from huibao.claim.triggers_rules import (
    FLIGHT,
    RETURN,
    SCREEN,
    EventFact,
    decide,
    read_event,
    sign,
    signature_problem,
)

DAY = datetime.date(2026, 12, 3)
NOW = datetime.datetime(2026, 12, 3, 8, 0, tzinfo=datetime.UTC)


def flight_terms(**trigger: object) -> ClaimTerms:
    doc = {"trigger": {"kind": "flight_delay", "delay_hours": 3, "pays_on_cancellation": True, **trigger}}
    bases = [
        CoverageBasis("delay", "航班延误", Decimal("200")),
        CoverageBasis("cancel", "航班取消", Decimal("100")),
    ]
    return claim_terms(doc, bases, line="flight_delay")


def delayed(minutes: int, status: str = "delayed") -> EventFact:
    return EventFact(FLIGHT, status, flight_number="MU5101", flight_date=DAY, delay_minutes=minutes)


@pytest.mark.parametrize(
    ("minutes", "status", "plan", "pays", "coverage"),
    [
        (180, "delayed", "basic", True, "delay"),  # exactly the threshold pays
        (179, "delayed", "basic", False, None),
        (600, "delayed", "basic", True, "delay"),
        (0, "cancelled", "basic", True, "cancel"),
        (300, "on_time", "basic", False, None),
        (130, "delayed", "plus", True, "delay"),  # the plan's own 2-hour threshold
        (110, "delayed", "plus", False, None),
    ],
)
def test_decide_by_threshold_plan_and_status(minutes, status, plan, pays, coverage):
    # given
    terms = flight_terms(plan_delay_hours={"plus": 2})
    # when
    decision = decide(terms, plan, delayed(minutes, status))
    # then
    assert (decision.coverage is not None) is pays
    assert (decision.coverage.code if decision.coverage else None) == coverage
    if not pays:
        assert decision.refusal


def test_below_threshold_says_why_in_chinese():
    decision = decide(flight_terms(), "basic", delayed(150))
    assert decision.refusal == "延误 2.5 小时，未达到 3 小时的赔付标准"


def test_cancellation_pays_nothing_when_the_product_says_so():
    decision = decide(flight_terms(pays_on_cancellation=False), "basic", delayed(0, "cancelled"))
    assert decision.coverage is None and "取消" in decision.refusal


def test_an_event_of_another_kind_pays_nothing():
    fact = EventFact(RETURN, "returned", order_number="ORD-123456", returned_at=NOW)
    assert decide(flight_terms(), "basic", fact).coverage is None


def test_a_return_pays_the_return_freight_cover():
    terms = claim_terms(
        {"trigger": {"kind": "return_shipping"}},
        [CoverageBasis("return_freight", "退货运费", Decimal("12"))],
        line="return_shipping",
    )
    fact = EventFact(RETURN, "returned", order_number="ORD-123456", returned_at=NOW)
    decision = decide(terms, "basic", fact)
    assert decision.coverage is not None and decision.coverage.code == "return_freight"
    assert decision.loss is not None and decision.loss.amount_claimed == Decimal("12.00")


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (
            {
                "flight_number": "mu51011",
                "flight_date": "2026-12-03",
                "status": "delayed",
                "delay_minutes": 200,
            },
            "flight_number",
        ),
        (
            {
                "flight_number": "MU5101",
                "flight_date": "03/12/2026",
                "status": "delayed",
                "delay_minutes": 200,
            },
            "flight_date",
        ),
        (
            {"flight_number": "MU5101", "flight_date": "2026-12-03", "status": "late", "delay_minutes": 200},
            "status",
        ),
        (
            {
                "flight_number": "MU5101",
                "flight_date": "2026-12-03",
                "status": "delayed",
                "delay_minutes": -5,
            },
            "delay_minutes",
        ),
        (
            {
                "flight_number": "MU5101",
                "flight_date": "2026-12-03",
                "status": "delayed",
                "delay_minutes": "x",
            },
            "delay_minutes",
        ),
        ({"flight_number": "MU5101", "flight_date": "2026-12-03", "status": "delayed"}, "delay_minutes"),
    ],
)
def test_read_event_names_the_bad_field(row, field):
    _event_id, fact, errors = read_event({"event_id": "E1", **row}, FLIGHT)
    assert fact is None
    assert [e.field for e in errors] == [field]
    assert errors[0].message.startswith(field + "：")


def test_read_event_without_an_id_is_refused():
    _, fact, errors = read_event(
        {"flight_number": "MU5101", "flight_date": "2026-12-03", "status": "on_time"}, FLIGHT
    )
    assert fact is None and errors[0].field == "event_id"


def test_read_event_takes_excel_cells():
    event_id, fact, errors = read_event(
        {
            "event_id": 123.0,
            "flight_number": "CA1234",
            "flight_date": datetime.datetime(2026, 12, 3),
            "status": "Delayed",
            "delay_minutes": 200.0,
        },
        FLIGHT,
    )
    assert errors == [] and event_id == "123"
    assert fact == EventFact(FLIGHT, "delayed", flight_number="CA1234", flight_date=DAY, delay_minutes=200)


def test_a_naive_return_time_is_refused():
    _, fact, errors = read_event(
        {"event_id": "R1", "order_number": "ORD-123456", "returned_at": "2026-12-03 10:00"}, RETURN
    )
    assert fact is None and errors[0].field == "returned_at"


def test_signature_verifies_and_refuses():
    key, body = b"k", b'{"a":1}'
    ts = str(int(NOW.timestamp()))
    good = sign(key, ts, "n1", body)
    assert signature_problem(key, ts, "n1", body, good, now=NOW) is None
    assert signature_problem(key, ts, "n1", body + b" ", good, now=NOW).code == "bad_signature"
    assert signature_problem(b"other", ts, "n1", body, good, now=NOW).code == "bad_signature"
    late = NOW + datetime.timedelta(minutes=6)
    assert signature_problem(key, ts, "n1", body, good, now=late).code == "stale"
    assert signature_problem(key, "", "n1", body, good, now=NOW).field == "timestamp"
    assert signature_problem(key, "soon", "n1", body, good, now=NOW).code == "invalid"


# --- screen repairs (碎屏险) ---------------------------------------------------------------------


def screen_terms() -> ClaimTerms:
    return claim_terms(
        {"trigger": {"kind": "screen_repair"}}, [CoverageBasis("screen", "屏幕意外破碎", Decimal("3000"))]
    )


def test_a_screen_repair_is_read_with_its_phone_and_cost_and_keyed_by_the_imei():
    row = {
        "event_id": "R1",
        "imei": "356938035643809",
        "repaired_at": NOW.isoformat(),
        "repair_amount": "899.00",
    }
    event_id, fact, errors = read_event(row, SCREEN)
    assert (event_id, errors) == ("R1", [])
    assert fact is not None and fact.key == "SC:356938035643809" and fact.repair_amount == Decimal("899.00")
    decision = decide(screen_terms(), "basic", fact)
    assert decision.coverage is not None and decision.coverage.code == "screen"
    assert decision.loss is not None and decision.loss.amount_claimed == Decimal("899.00")


@pytest.mark.parametrize("amount", ["0", "-1", "12.345", "NaN", "100000.01", ""])
def test_a_screen_repair_cost_must_be_a_positive_amount_in_fen(amount):
    row = {
        "event_id": "R1",
        "imei": "356938035643809",
        "repaired_at": NOW.isoformat(),
        "repair_amount": amount,
    }
    _, fact, errors = read_event(row, SCREEN)
    assert fact is None and [e.field for e in errors] == ["repair_amount"]


def test_a_screen_repair_pays_nothing_for_a_policy_without_screen_cover():
    fact = EventFact(SCREEN, "repaired", imei="356938035643809", repaired_at=NOW, repair_amount=Decimal("10"))
    assert decide(flight_terms(), "basic", fact).coverage is None
