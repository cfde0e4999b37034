"""Two workers post the same event at once: one transaction (the key's unique constraint; the
loser returns the winner's). On SQLite the writers are serialised, and the same holds."""

from __future__ import annotations

import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction

from huibao.finance import ledger
from huibao.finance.accounts import AccountRef, cash
from huibao.finance.models import AccountKind, JournalLine, JournalTransaction

PAYABLE = AccountRef("premium_payable:insurer:c1", "应付保费-并发", AccountKind.LIABILITY, "insurer", 1)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite lets one writer at a time hold the database"
)
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_double_post_writes_one_transaction() -> None:
    # given: the accounts exist (as after the first posting of the day)
    ledger.account(cash())
    ledger.account(PAYABLE)
    barrier = threading.Barrier(2)
    got: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with transaction.atomic():
                barrier.wait()
                txn = ledger.post(
                    "premium:payment:42",
                    on=datetime.date(2026, 3, 1),
                    description="收到保费",
                    lines=[ledger.debit(cash(), Decimal("10.00")), ledger.credit(PAYABLE, Decimal("10.00"))],
                )
                got.append(txn.pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then
    assert errors == []
    assert len(got) == 2 and got[0] == got[1]
    assert JournalTransaction.objects.count() == 1 and JournalLine.objects.count() == 2
    assert ledger.balance(cash()) == Decimal("10.00")


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite lets one writer at a time hold the database"
)
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_double_reversal_writes_one_reversal() -> None:
    txn = ledger.post(
        "premium:payment:43",
        on=datetime.date(2026, 3, 1),
        description="收到保费",
        lines=[ledger.debit(cash(), Decimal("10.00")), ledger.credit(PAYABLE, Decimal("10.00"))],
    )
    barrier = threading.Barrier(2)
    got: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with transaction.atomic():
                barrier.wait()
                got.append(ledger.reverse(txn, on=datetime.date(2026, 3, 2), reason="r").pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(got) == 2 and got[0] == got[1]
    assert JournalTransaction.objects.filter(reverses=txn).count() == 1
    assert ledger.balance(cash()) == 0
