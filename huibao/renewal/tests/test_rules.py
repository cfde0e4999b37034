import datetime

import pytest

from huibao.renewal import rules
from huibao.renewal.rules import RenewalTerms


@pytest.mark.parametrize(
    ("terms", "term_number", "age", "on_sale", "plan", "guaranteed", "code"),
    [
        (RenewalTerms(True, 0, None), 2, 40, True, True, False, ""),
        (RenewalTerms(True, 0, None), 2, 40, False, True, False, "not_on_sale"),
        (RenewalTerms(True, 0, None), 2, 40, True, False, False, "plan_gone"),
        # within the guaranteed years: renews though the product stopped selling
        (RenewalTerms(True, 20, None), 2, 40, False, False, True, ""),
        (RenewalTerms(True, 20, None), 20, 40, False, True, True, ""),
        # the 21st term is past a 20-year guarantee
        (RenewalTerms(True, 20, None), 21, 40, False, True, False, "not_on_sale"),
        (RenewalTerms(True, 5, 65), 3, 66, True, True, True, "max_renewal_age"),
        (RenewalTerms(True, 0, 65), 3, 65, True, True, False, ""),
    ],
)
def test_decide(terms, term_number, age, on_sale, plan, guaranteed, code):
    decision = rules.decide(
        terms, term_number=term_number, new_age=age, product_on_sale=on_sale, plan_available=plan
    )
    assert decision.guaranteed is guaranteed
    assert decision.code == code
    assert bool(decision.refusal) is bool(code)


def test_terms_from_json_defaults():
    assert RenewalTerms.from_json(None) == RenewalTerms(False, 0, None)
    assert RenewalTerms.from_json({"renewable": True, "guaranteed_years": 6, "max_renewal_age": 99}) == (
        RenewalTerms(True, 6, 99)
    )


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (datetime.date(1990, 3, 7), datetime.date(2027, 3, 6), 36),
        (datetime.date(1990, 3, 7), datetime.date(2027, 3, 7), 37),
        (datetime.date(2000, 2, 29), datetime.date(2027, 2, 28), 26),
        (datetime.date(2000, 2, 29), datetime.date(2027, 3, 1), 27),
    ],
)
def test_age_on(birth, day, age):
    assert rules.age_on(birth, day) == age


def test_dates():
    expires_on = datetime.date(2027, 12, 3)
    assert rules.last_day(expires_on) == datetime.date(2027, 12, 2)
    assert rules.grace_until(expires_on, 15) == datetime.date(2027, 12, 17)
    assert rules.reminder_due(expires_on, datetime.date(2027, 11, 3)) == 30
    assert rules.reminder_due(expires_on, datetime.date(2027, 11, 26)) == 7
    assert rules.reminder_due(expires_on, datetime.date(2027, 12, 2)) == 1
    assert rules.reminder_due(expires_on, datetime.date(2027, 11, 4)) is None
    assert rules.out_trade_no(12, datetime.date(2027, 12, 2)) == "RN12D20271202"
