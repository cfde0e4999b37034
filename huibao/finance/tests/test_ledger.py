"""The ledger's invariants: balanced transactions, append-only rows, reversals, trial balance,
statements; and random sequences of posts and reversals (hypothesis)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huibao.finance import accounts, ledger
from huibao.finance.accounts import AccountRef
from huibao.finance.models import AccountKind, ImmutableEntry, JournalLine, JournalTransaction, LedgerAccount

pytestmark = pytest.mark.django_db

D1 = datetime.date(2026, 3, 1)
D2 = datetime.date(2026, 3, 15)
D3 = datetime.date(2026, 4, 2)

CASH = accounts.cash()
PAYABLE = AccountRef("premium_payable:insurer:t1", "应付保费-测试", AccountKind.LIABILITY, "insurer", 1)
INCOME = accounts.commission_income()
EXPENSE = accounts.commission_expense()
ALL = (CASH, PAYABLE, INCOME, EXPENSE)


def _premium(key: str, amount: str, on: datetime.date = D1) -> JournalTransaction:
    return ledger.post(
        key,
        on=on,
        description="收到保费",
        lines=[ledger.debit(CASH, Decimal(amount)), ledger.credit(PAYABLE, Decimal(amount))],
    )


def test_a_posting_balances_and_reads_on_both_normal_sides() -> None:
    # when
    _premium("premium:payment:1", "320.00")
    # then
    assert ledger.balance(CASH) == Decimal("320.00")  # asset: debit-normal
    assert ledger.balance(PAYABLE) == Decimal("320.00")  # liability: credit-normal
    assert ledger.balance(CASH, on=D1 - datetime.timedelta(days=1)) == 0


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([ledger.debit(CASH, Decimal("1.00"))], "at least two lines"),
        ([ledger.debit(CASH, Decimal("1.00")), ledger.credit(PAYABLE, Decimal("0.99"))], "unbalanced"),
        ([ledger.debit(CASH, Decimal("1.001")), ledger.credit(PAYABLE, Decimal("1.001"))], "two decimals"),
        ([ledger.debit(CASH, Decimal("-1")), ledger.credit(PAYABLE, Decimal("-1"))], "non-negative"),
        ([ledger.debit(CASH, 1.0), ledger.credit(PAYABLE, 1.0)], "non-negative Decimals"),  # type: ignore[arg-type]
        (
            [ledger.Line(CASH, Decimal("1"), Decimal("1")), ledger.credit(PAYABLE, Decimal("0"))],
            "exactly one",
        ),
    ],
)
def test_bad_postings_are_refused_and_write_nothing(lines: list[ledger.Line], message: str) -> None:
    with pytest.raises(ledger.LedgerError, match=message):
        ledger.post("bad", on=D1, description="x", lines=lines)
    assert not JournalTransaction.objects.exists() and not JournalLine.objects.exists()


def test_posting_a_key_again_changes_nothing() -> None:
    first = _premium("premium:payment:7", "100.00")
    again = _premium("premium:payment:7", "999.00", on=D2)
    assert again.pk == first.pk
    assert JournalLine.objects.count() == 2
    assert ledger.balance(CASH) == Decimal("100.00")


def test_rows_refuse_update_and_delete_from_the_orm() -> None:
    txn = _premium("premium:payment:8", "50.00")
    line = txn.lines.first()
    assert line is not None
    txn.description = "changed"
    with pytest.raises(ImmutableEntry):
        txn.save()
    line.debit = Decimal("1.00")
    with pytest.raises(ImmutableEntry):
        line.save()
    with pytest.raises(ImmutableEntry):
        line.delete()
    with pytest.raises(ImmutableEntry):
        txn.delete()
    with pytest.raises(ImmutableEntry):
        JournalLine.objects.filter(pk=line.pk).update(debit=Decimal("2.00"))
    with pytest.raises(ImmutableEntry):
        JournalTransaction.objects.all().delete()
    assert JournalLine.objects.get(pk=line.pk).debit + JournalLine.objects.get(pk=line.pk).credit == Decimal(
        "50.00"
    )


def test_the_database_refuses_update_and_delete_below_the_orm() -> None:
    txn = _premium("premium:payment:9", "50.00")
    statements = (
        "UPDATE finance_journalline SET memo = 'x' WHERE transaction_id = %s",
        "DELETE FROM finance_journalline WHERE transaction_id = %s",
        "UPDATE finance_journaltransaction SET description = 'x' WHERE id = %s",
    )
    if connection.vendor == "postgresql":
        # then PostgreSQL's trigger refuses raw SQL too
        for sql in statements:
            with (
                pytest.raises(DatabaseError, match="append-only"),
                transaction.atomic(),
                connection.cursor() as cur,
            ):
                cur.execute(sql, [txn.pk])
        assert JournalLine.objects.filter(transaction=txn, memo="").count() == 2
    else:
        # SQLite has no trigger (the models are the guard there): raw SQL gets through
        with connection.cursor() as cur:
            cur.execute(statements[0], [txn.pk])
        assert JournalLine.objects.filter(transaction=txn, memo="x").count() == 2


def test_reversal_restores_balances_and_happens_once() -> None:
    txn = _premium("premium:payment:10", "88.80", on=D1)
    rev = ledger.reverse(txn, on=D2, reason="录错")
    assert rev.reverses_id == txn.pk and rev.key == "reversal:premium:payment:10"
    assert ledger.balance(CASH) == 0 and ledger.balance(PAYABLE) == 0
    assert ledger.balance(CASH, on=D1) == Decimal("88.80")  # the past stays as it was
    assert ledger.reverse(txn, on=D3, reason="again").pk == rev.pk
    with pytest.raises(ledger.LedgerError, match="itself a reversal"):
        ledger.reverse(rev, on=D3, reason="x")


def test_trial_balance_on_a_date() -> None:
    _premium("p:1", "100.00", on=D1)
    _premium("p:2", "50.00", on=D3)
    ledger.post(
        "c:1",
        on=D2,
        description="佣金",
        lines=[ledger.debit(EXPENSE, Decimal("12.34")), ledger.credit(CASH, Decimal("12.34"))],
    )
    # when
    tb = ledger.trial_balance(on=D2)
    # then
    rows = {r.account.code: r for r in tb.rows}
    assert set(rows) == {"cash", "premium_payable:insurer:t1", "commission_expense"}
    assert rows["cash"].debit == Decimal("100.00") and rows["cash"].credit == Decimal("12.34")
    assert rows["cash"].debit_balance == Decimal("87.66") and rows["cash"].credit_balance == 0
    assert rows["premium_payable:insurer:t1"].credit_balance == Decimal("100.00")
    assert tb.debit == tb.credit == Decimal("112.34")
    assert tb.debit_balance == tb.credit_balance == Decimal("100.00")
    assert tb.balanced
    assert ledger.trial_balance().debit == Decimal("162.34")


def test_statement_running_balance_from_the_opening() -> None:
    _premium("p:1", "100.00", on=D1)
    _premium("p:2", "50.00", on=D2)
    ledger.post(
        "out:1",
        on=D3,
        description="退费",
        lines=[ledger.debit(PAYABLE, Decimal("30.00")), ledger.credit(CASH, Decimal("30.00"))],
    )
    acc = LedgerAccount.objects.get(code=PAYABLE.code)
    # when
    st_ = ledger.statement(acc, since=D2, until=D3)
    # then
    assert st_.opening == Decimal("100.00")
    assert [s.running for s in st_.lines] == [Decimal("150.00"), Decimal("120.00")]
    assert st_.closing == Decimal("120.00") and not st_.truncated
    full = ledger.statement(acc, limit=1)
    assert full.truncated and full.closing == Decimal("120.00") and len(full.lines) == 1


# --- properties ---------------------------------------------------------------------------------

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)
account_pairs = st.tuples(st.sampled_from(ALL), st.sampled_from(ALL)).filter(lambda p: p[0] != p[1])
ops = st.lists(
    st.one_of(
        st.tuples(st.just("post"), st.integers(0, 6), account_pairs, amounts, st.integers(0, 40)),
        st.tuples(st.just("reverse"), st.integers(0, 6), st.just(None), st.just(None), st.integers(0, 40)),
    ),
    max_size=25,
)


def _balances() -> dict[str, Decimal]:
    return {ref.code: ledger.balance(ref) for ref in ALL}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=ops)
def test_random_posts_and_reversals_keep_the_books(ops: list[tuple[object, ...]]) -> None:
    with transaction.atomic():
        before_any = _balances()
        posted: dict[int, JournalTransaction] = {}
        for kind, key_no, pair, amount, day in ops:
            on = D1 + datetime.timedelta(days=int(day))  # type: ignore[call-overload]
            if kind == "post":
                dr, cr = pair  # type: ignore[misc]
                key = f"prop:{key_no}"
                existed = JournalTransaction.objects.filter(key=key).first()
                snapshot = _balances()
                txn = ledger.post(
                    key,
                    on=on,
                    description="p",
                    lines=[ledger.debit(dr, amount), ledger.credit(cr, amount)],  # type: ignore[arg-type]
                )
                if existed is not None:
                    # re-posting a key changes nothing
                    assert txn.pk == existed.pk and _balances() == snapshot
                posted[int(key_no)] = txn  # type: ignore[call-overload]
            elif int(key_no) in posted:  # type: ignore[call-overload]
                txn = posted[int(key_no)]  # type: ignore[call-overload]
                if txn.reverses_id is None and not JournalTransaction.objects.filter(reverses=txn).exists():
                    snapshot = _balances()
                    own = {
                        line.account.code: (line.debit - line.credit)
                        for line in txn.lines.select_related("account")
                    }
                    ledger.reverse(txn, on=on, reason="r")
                    after = _balances()
                    for code, delta in own.items():
                        kind_ = LedgerAccount.objects.get(code=code).kind
                        sign = 1 if kind_ in (AccountKind.ASSET, AccountKind.EXPENSE) else -1
                        # the reversal takes away exactly what the transaction put on each account
                        assert after[code] == snapshot[code] - sign * delta
        # every transaction balances
        for txn in JournalTransaction.objects.all():
            lines = list(txn.lines.all())
            assert sum(line.debit for line in lines) == sum(line.credit for line in lines)
        # the trial balance sums to zero, on every date
        for day in (0, 10, 20, 40, 80):
            tb = ledger.trial_balance(on=D1 + datetime.timedelta(days=day))
            assert tb.debit == tb.credit and tb.debit_balance == tb.credit_balance
        # reversing everything not reversed restores the balances of before
        for txn in list(JournalTransaction.objects.filter(reverses__isnull=True, reversed_by__isnull=True)):
            ledger.reverse(txn, on=D3, reason="all")
        assert _balances() == before_any
        # balances read twice are the same
        assert _balances() == _balances()
        transaction.set_rollback(True)
