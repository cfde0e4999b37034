"""The import's fast path (`plain_cells`) gives what `parse_row` gives, for every row it takes."""

import datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from huibao.finance import reconciliation_rules as rules

PERIOD = (datetime.date(2026, 11, 1), datetime.date(2026, 11, 30))
DAYS = rules.period_days(PERIOD)
COLUMNS = {"policy_number": 0, "premium": 1, "commission": 2, "date": 3, "event": 4}
INDEX = (0, 1, 2, 3, 4)

amounts = st.one_of(
    st.decimals(min_value=-(10**9), max_value=10**9, places=2).map(str),
    st.decimals(min_value=0, max_value=10**7, places=2).map(lambda d: f"{d:,.2f}"),
    st.sampled_from(
        ["12", "12.5", " 7.00 ", "-0.01", "1,234.5", "¥12.00", "(3.00)", "3.00-", "", "1.234", "abc"]
    ),
)
dates = st.one_of(
    st.sampled_from(sorted(DAYS)),
    st.sampled_from(["2026-10-31", "2026-12-01", "2026-11-31", "2026/11/03", " 2026-11-03", "20261103", ""]),
)
numbers = st.one_of(
    st.from_regex(r"[A-Z]{2}[0-9]{6,14}", fullmatch=True),
    st.sampled_from(["", "   ", "\u3000PA1\u3000", "X" * 41, " PA123 "]),
)
events = st.sampled_from(["承保", "退保", "", "\u3000批改\u3000", "很长的业务类型" * 5])


@settings(max_examples=400, deadline=None)
@given(numbers, amounts, amounts, dates, events)
def test_the_fast_path_agrees_with_the_full_parse(number, premium, commission, date, event):
    row = (number, premium, commission, date, event)

    fast = rules.plain_cells(row, INDEX, DAYS, 7)
    full = rules.parse_row(row, COLUMNS, line=7, period=PERIOD)

    if fast is None:
        return  # the full parse judges it, as before
    assert isinstance(full, rules.ParsedLine), (row, full)
    line, policy_number, fast_premium, fast_commission, fast_date, fast_event = fast
    assert (line, policy_number, fast_event) == (full.line, full.policy_number, full.event)
    assert Decimal(fast_premium) == full.premium and Decimal(fast_commission) == full.commission
    assert datetime.date.fromisoformat(fast_date) == full.occurred_on


def test_the_fast_path_takes_the_common_rows_and_leaves_the_rest():
    assert rules.plain_cells(("PA1", "1,234.50", "-12.00", "2026-11-03", "承保"), INDEX, DAYS, 2) == (
        2,
        "PA1",
        "1234.50",
        "-12.00",
        "2026-11-03",
        "承保",
    )
    for odd in (
        ("PA1", "¥1.00", "1.00", "2026-11-03", ""),  # a currency sign
        ("PA1", "1.00", "1.00", "2026-12-01", ""),  # outside the period
        ("PA1", "1.00", "1.001", "2026-11-03", ""),  # three decimals
        ("", "1.00", "1.00", "2026-11-03", ""),  # no policy number
        ("PA1", 1.0, "1.00", "2026-11-03", ""),  # a spreadsheet number
        ("PA1", "1.00"),  # a short row
    ):
        assert rules.plain_cells(odd, INDEX, DAYS, 2) is None, odd


def test_an_unmapped_premium_is_zero_on_the_fast_path():
    cells = rules.plain_cells(("PA1", "", "5.00", "2026-11-03", ""), (0, -1, 2, 3, 4), DAYS, 2)

    assert cells is not None and cells[2] == "0"
