"""The servicing document of a version: defaults, parsing, the demo market's documents."""

from __future__ import annotations

from decimal import Decimal

import pytest

from huibao.catalog.demo import generate_market
from huibao.catalog.io import schema_errors
from huibao.catalog.servicing import (
    STANDARD_SHORT_RATE,
    Confirmation,
    EndorsementKind,
    RefundMethod,
    servicing_rules,
)


def test_a_version_that_states_nothing_gets_the_documented_defaults():
    # when
    rules = servicing_rules({})
    # then
    assert rules.endorsements.allowed == {EndorsementKind.CONTACT}
    assert rules.endorsements.confirmation is Confirmation.SMS
    assert rules.cancellation.method is RefundMethod.PRO_RATA
    assert rules.cancellation.fee_rate == Decimal("0.25")
    assert rules.cancellation.cooling_off_fee == Decimal("0.00")
    assert rules.cancellation.short_rate == STANDARD_SHORT_RATE
    assert (rules.grace_days, rules.reinstatement.years, rules.renewal_offer_days) == (30, 2, 30)


def test_a_stated_document_is_read_into_typed_values():
    # given
    document = {
        "endorsements": {
            "allowed": ["contact", "beneficiaries", "sum_insured"],
            "needs_approval": ["sum_insured"],
            "confirmation": "same_as_application",
            "sum_insured": {"decrease": True},
        },
        "cancellation": {
            "method": "cash_value",
            "cooling_off_fee": "10",
            "cash_values": [{"year": 1, "rate": "0.2"}, {"year": 2, "rate": "0.45"}],
            "cash_value_after": "0.5",
        },
        "grace_days": 60,
        "reinstatement": {"years": 2, "health_questions": False},
    }
    # when
    rules = servicing_rules(document)
    # then
    assert rules.allows(EndorsementKind.BENEFICIARIES) and not rules.allows(EndorsementKind.PLAN)
    assert rules.needs_approval(EndorsementKind.SUM_INSURED)
    assert not rules.needs_approval(EndorsementKind.CONTACT)
    assert rules.endorsements.sum_insured_decrease and not rules.endorsements.sum_insured_increase
    assert rules.cancellation.method is RefundMethod.CASH_VALUE
    assert rules.cancellation.cooling_off_fee == Decimal("10")
    assert [(s.year, s.rate) for s in rules.cancellation.cash_values] == [
        (1, Decimal("0.2")),
        (2, Decimal("0.45")),
    ]
    assert rules.grace_days == 60 and rules.reinstatement.health_questions is False


def test_every_demo_line_has_a_schema_valid_servicing_document_that_parses():
    # given
    market = generate_market(11, 60)
    lines_seen: dict[str, RefundMethod] = {}
    for product in market.products:
        # when
        errors = schema_errors(product.document)
        rules = servicing_rules(product.document["version"]["servicing"])
        # then
        assert errors == []
        lines_seen[product.document["product"]["line"]] = rules.cancellation.method
    assert lines_seen["auto_compulsory"] is RefundMethod.NONE
    assert lines_seen["term_life"] is RefundMethod.CASH_VALUE
    assert lines_seen["home_property"] is RefundMethod.SHORT_RATE
    assert lines_seen["medical"] is RefundMethod.PRO_RATA


@pytest.mark.parametrize(
    "bad",
    [
        {"cancellation": {"method": "whatever"}},
        {"cancellation": {"fee_rate": "1.5"}},
        {"endorsements": {"allowed": ["everything"]}},
        {"grace_days": -1},
        {"unknown": True},
    ],
)
def test_the_schema_refuses_a_malformed_servicing_document(bad):
    # given
    document = generate_market(11, 20).products[0].document
    document["version"]["servicing"] = bad
    # when
    errors = schema_errors(document)
    # then
    assert errors, bad
    assert any("servicing" in (e.field or "") for e in errors)
