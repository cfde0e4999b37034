"""The double-entry ledger: `post` writes one balanced transaction (idempotent by key),
`reverse` undoes one by its mirror image, `balance` reads an account on a date.

Invariants (tested in tests/test_ledger.py): every transaction balances; lines are positive on
exactly one side; nothing is updated or deleted; a transaction is reversed at most once; the
balance of an account on a date is the sum of its lines up to that date, the same however often
it is read. Amounts are rounded to the fen by the caller before posting (`core.money.to_fen`);
`post` refuses an amount with more than two decimals rather than rounding it.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum

from huibao.core.money import FEN
from huibao.finance.accounts import AccountRef
from huibao.finance.models import AccountKind, JournalLine, JournalTransaction, LedgerAccount


class LedgerError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Line:
    account: AccountRef
    debit: Decimal = Decimal("0")
    credit: Decimal = Decimal("0")
    policy_id: int | None = None
    memo: str = ""


def debit(account: AccountRef, amount: Decimal, *, policy_id: int | None = None, memo: str = "") -> Line:
    return Line(account, debit=amount, policy_id=policy_id, memo=memo)


def credit(account: AccountRef, amount: Decimal, *, policy_id: int | None = None, memo: str = "") -> Line:
    return Line(account, credit=amount, policy_id=policy_id, memo=memo)


_accounts: dict[str, int] = {}


def account(ref: AccountRef) -> LedgerAccount:
    obj, _created = LedgerAccount.objects.get_or_create(
        code=ref.code,
        defaults={"name": ref.name, "kind": ref.kind, "party_kind": ref.party_kind, "party_id": ref.party_id},
    )
    return obj


def _account_id(ref: AccountRef) -> int:
    # Cached per process: accounts are never deleted. A cached id missing after a test database
    # flush is refetched (get_or_create again) by the caller's IntegrityError path.
    cached = _accounts.get(ref.code)
    if cached is not None:
        return cached
    pk = account(ref).pk
    _accounts[ref.code] = pk
    return pk


def _check(lines: Sequence[Line]) -> None:
    if len(lines) < 2:
        raise LedgerError("a transaction needs at least two lines")
    total_debit = Decimal("0")
    total_credit = Decimal("0")
    for line in lines:
        for amount in (line.debit, line.credit):
            if not isinstance(amount, Decimal) or not amount.is_finite() or amount < 0:
                raise LedgerError(f"{line.account.code}: amounts are non-negative Decimals, not {amount!r}")
            if amount != amount.quantize(FEN):
                raise LedgerError(f"{line.account.code}: {amount} has more than two decimals; round it first")
        if (line.debit > 0) == (line.credit > 0):
            raise LedgerError(f"{line.account.code}: a line is a debit or a credit, exactly one of them")
        total_debit += line.debit
        total_credit += line.credit
    if total_debit != total_credit:
        raise LedgerError(f"unbalanced: debits {total_debit} ≠ credits {total_credit}")


def post(
    key: str,
    *,
    on: datetime.date,
    description: str,
    lines: Sequence[Line],
    actor: Any = None,
) -> JournalTransaction:
    """Posts one balanced transaction, or returns the one already posted under `key` (the same
    event delivered twice). Runs in its own savepoint: a refused transaction writes nothing."""
    _check(lines)
    existing = JournalTransaction.objects.filter(key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            txn = JournalTransaction.objects.create(
                key=key, posted_on=on, description=description[:255], actor=actor
            )
            JournalLine.objects.bulk_create(
                [
                    JournalLine(
                        transaction=txn,
                        account_id=_account_id(line.account),
                        debit=line.debit,
                        credit=line.credit,
                        posted_on=on,
                        policy_id=line.policy_id,
                        memo=line.memo[:255],
                    )
                    for line in lines
                ]
            )
    except IntegrityError:
        _accounts.clear()
        existing = JournalTransaction.objects.filter(key=key).first()
        if existing is None:
            raise
        return existing
    return txn


def reverse(
    txn: JournalTransaction, *, on: datetime.date, reason: str, actor: Any = None
) -> JournalTransaction:
    """Posts the mirror image of `txn` (debits become credits) on `on`. A transaction is
    reversed once: reversing it again returns the first reversal."""
    already = JournalTransaction.objects.filter(reverses=txn).first()
    if already is not None:
        return already
    if txn.reverses_id is not None:
        raise LedgerError(f"{txn.key} is itself a reversal; post a new transaction instead")
    lines = list(txn.lines.select_related("account"))
    with transaction.atomic():
        rev = JournalTransaction.objects.create(
            key=f"reversal:{txn.key}"[:128],
            posted_on=on,
            description=f"冲销 {txn.description}: {reason}"[:255],
            reverses=txn,
            actor=actor,
        )
        JournalLine.objects.bulk_create(
            [
                JournalLine(
                    transaction=rev,
                    account_id=line.account_id,
                    debit=line.credit,
                    credit=line.debit,
                    posted_on=on,
                    policy_id=line.policy_id,
                    memo=reason[:255],
                )
                for line in lines
            ]
        )
    return rev


_DEBIT_NORMAL = {AccountKind.ASSET, AccountKind.EXPENSE}


def balance(ref: AccountRef | LedgerAccount, *, on: datetime.date | None = None) -> Decimal:
    """The account's balance on its normal side at the end of `on` (all time when None)."""
    code = ref.code
    kind = ref.kind
    lines = JournalLine.objects.filter(account__code=code)
    if on is not None:
        lines = lines.filter(posted_on__lte=on)
    sums = lines.aggregate(d=Sum("debit"), c=Sum("credit"))
    d = sums["d"] or Decimal("0")
    c = sums["c"] or Decimal("0")
    return (d - c) if kind in _DEBIT_NORMAL else (c - d)
