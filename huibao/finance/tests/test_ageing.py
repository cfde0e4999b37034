"""Ageing: FIFO matching table-driven, buckets, and the selector over ledger lines."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from huibao.finance import ageing, ledger
from huibao.finance.accounts import AccountRef
from huibao.finance.models import AccountKind

D = Decimal
ON = datetime.date(2026, 6, 30)


def day(n: int) -> datetime.date:
    """`n` days before ON."""
    return ON - datetime.timedelta(days=n)


@pytest.mark.parametrize(
    ("age_days", "bucket"),
    [
        (0, "0-30"),
        (30, "0-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "90+"),
        (400, "90+"),
    ],
)
def test_buckets_edges(age_days: int, bucket: str) -> None:
    assert ageing.bucket_of(age_days) == bucket


M = ageing.Movement


@pytest.mark.parametrize(
    ("movements", "buckets", "unapplied"),
    [
        # nothing
        ([], {}, "0"),
        # one open item of 45 days
        ([M(day(45), D("100"), D("0"))], {"31-60": "100"}, "0"),
        # the payment settles the oldest first: 100 (95 days) closed, 50 of 200 (40 days) closed
        (
            [M(day(95), D("100"), D("0")), M(day(40), D("200"), D("0")), M(day(10), D("0"), D("150"))],
            {"31-60": "150"},
            "0",
        ),
        # a partial payment leaves part of the oldest item in its own bucket
        (
            [M(day(100), D("100"), D("0")), M(day(5), D("50"), D("0")), M(day(1), D("0"), D("30"))],
            {"90+": "70", "0-30": "50"},
            "0",
        ),
        # everything settled: nothing open
        ([M(day(70), D("80"), D("0")), M(day(2), D("0"), D("80"))], {}, "0"),
        # paid more than owed: the excess is unapplied, not aged
        ([M(day(70), D("80"), D("0")), M(day(2), D("0"), D("100"))], {}, "-20"),
        # an advance used up by a later item
        ([M(day(70), D("0"), D("30")), M(day(20), D("100"), D("0"))], {"0-30": "70"}, "0"),
    ],
)
def test_fifo_matching(movements: list[ageing.Movement], buckets: dict[str, str], unapplied: str) -> None:
    items = ageing.fifo_open(movements)
    got, _oldest = ageing.age(items, ON)
    expected = {label: D(buckets.get(label, "0")) for label, _lo, _hi in ageing.BUCKETS}
    assert got == expected
    assert items.unapplied == D(unapplied)


@pytest.mark.django_db
def test_the_selector_ages_party_accounts_from_the_lines() -> None:
    # given: premium collected for insurer 1 on three dates, part remitted; a commission owed to a unit
    cash = AccountRef("cash", "现金", AccountKind.ASSET)
    payable = AccountRef("premium_payable:insurer:i1", "应付保费-甲", AccountKind.LIABILITY, "insurer", 1)
    owed = AccountRef("commission_payable:unit:u1", "应付佣金-乙", AccountKind.LIABILITY, "sales_unit", 7)
    expense = AccountRef("commission_expense", "佣金支出", AccountKind.EXPENSE)
    for key, on, amount in (("a", day(100), "300.00"), ("b", day(50), "200.00"), ("c", day(3), "100.00")):
        ledger.post(
            key,
            on=on,
            description="保费",
            lines=[ledger.debit(cash, D(amount)), ledger.credit(payable, D(amount))],
        )
    ledger.post(
        "remit",
        on=day(20),
        description="划付",
        lines=[ledger.debit(payable, D("350.00")), ledger.credit(cash, D("350.00"))],
    )
    ledger.post(
        "comm",
        on=day(65),
        description="佣金",
        lines=[ledger.debit(expense, D("12.50")), ledger.credit(owed, D("12.50"))],
    )
    # a line after the date does not count
    ledger.post(
        "later",
        on=ON + datetime.timedelta(days=1),
        description="保费",
        lines=[ledger.debit(cash, D("9.00")), ledger.credit(payable, D("9.00"))],
    )
    # when
    rows = {r.account.code: r for r in ageing.ageing(on=ON)}
    # then
    p = rows["premium_payable:insurer:i1"]
    assert p.side == "payable" and p.total == D("250.00") == ledger.balance(payable, on=ON)
    assert p.buckets == {"0-30": D("100.00"), "31-60": D("150.00"), "61-90": D("0.00"), "90+": D("0.00")}
    assert p.oldest == day(50)
    assert rows["commission_payable:unit:u1"].buckets["61-90"] == D("12.50")
    assert "cash" not in rows
    assert [r.account.code for r in ageing.ageing(on=ON, party_kind="sales_unit")] == [
        "commission_payable:unit:u1"
    ]
    assert ageing.totals(rows.values())["total"] == D("262.50")
