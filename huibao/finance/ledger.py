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


def account(ref: AccountRef) -> LedgerAccount:
    obj, _created = LedgerAccount.objects.get_or_create(
        code=ref.code,
        defaults={"name": ref.name, "kind": ref.kind, "party_kind": ref.party_kind, "party_id": ref.party_id},
    )
    return obj


def _account_ids(refs: Sequence[AccountRef]) -> dict[str, int]:
    """The ids of the accounts named, created on first use: one query when they all exist. Not
    cached across calls: an id cached from a transaction that rolled back would point nowhere."""
    codes = {ref.code for ref in refs}
    found = dict(LedgerAccount.objects.filter(code__in=codes).values_list("code", "pk"))
    for ref in refs:
        if ref.code not in found:
            found[ref.code] = account(ref).pk
    return found


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
    checked: bool = False,
) -> JournalTransaction:
    """Posts one balanced transaction, or returns the one already posted under `key` (the same
    event delivered twice). Runs in its own savepoint: a refused transaction writes nothing.
    `checked`: the caller has just seen no transaction under `key` (the unique key still decides
    a race)."""
    _check(lines)
    if not checked:
        existing = JournalTransaction.objects.filter(key=key).first()
        if existing is not None:
            return existing
    ids = _account_ids([line.account for line in lines])
    try:
        with transaction.atomic():
            txn = JournalTransaction.objects.create(
                key=key, posted_on=on, description=description[:255], actor=actor
            )
            JournalLine.objects.bulk_create(
                [
                    JournalLine(
                        transaction=txn,
                        account_id=ids[line.account.code],
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
        # Posted concurrently under the same key by another worker: theirs is the one.
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
    try:
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
    except IntegrityError:
        # Reversed concurrently by another worker: its reversal is the one.
        already = JournalTransaction.objects.filter(reverses=txn).first()
        if already is None:
            raise
        return already
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
    d = sums["d"] or Decimal("0.00")
    c = sums["c"] or Decimal("0.00")
    return _signed(kind, d, c)


def _signed(kind: str, debit_total: Decimal, credit_total: Decimal) -> Decimal:
    return (debit_total - credit_total) if kind in _DEBIT_NORMAL else (credit_total - debit_total)


# --- reads: trial balance, statement ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrialBalanceRow:
    account: LedgerAccount
    debit: Decimal  # the sum of the account's debits up to the date
    credit: Decimal
    # The net on the account's own side: a debit balance or a credit balance, one of them zero.
    debit_balance: Decimal
    credit_balance: Decimal

    @property
    def balance(self) -> Decimal:
        """On the account's normal side (what `balance()` answers)."""
        return _signed(self.account.kind, self.debit, self.credit)


@dataclass(frozen=True, slots=True)
class TrialBalance:
    on: datetime.date | None
    rows: tuple[TrialBalanceRow, ...]
    debit: Decimal
    credit: Decimal
    debit_balance: Decimal
    credit_balance: Decimal

    @property
    def balanced(self) -> bool:
        return self.debit == self.credit and self.debit_balance == self.credit_balance


def trial_balance(*, on: datetime.date | None = None) -> TrialBalance:
    """Every account with lines up to the end of `on` (all time when None): its debit and credit
    totals and its net balance, with the column sums. Debits equal credits whenever every
    transaction balances, which `post` guarantees. One grouped query."""
    lines = JournalLine.objects.all()
    if on is not None:
        lines = lines.filter(posted_on__lte=on)
    sums = {
        row["account_id"]: (row["d"] or Decimal("0"), row["c"] or Decimal("0"))
        for row in lines.values("account_id").annotate(d=Sum("debit"), c=Sum("credit")).order_by()
    }
    rows = []
    for acc in LedgerAccount.objects.filter(pk__in=list(sums)).order_by("code"):
        d, c = sums[acc.pk]
        net = d - c
        rows.append(
            TrialBalanceRow(
                account=acc,
                debit=d,
                credit=c,
                debit_balance=net if net > 0 else Decimal("0.00"),
                credit_balance=-net if net < 0 else Decimal("0.00"),
            )
        )
    zero = Decimal("0.00")
    return TrialBalance(
        on=on,
        rows=tuple(rows),
        debit=sum((r.debit for r in rows), zero),
        credit=sum((r.credit for r in rows), zero),
        debit_balance=sum((r.debit_balance for r in rows), zero),
        credit_balance=sum((r.credit_balance for r in rows), zero),
    )


@dataclass(frozen=True, slots=True)
class StatementLine:
    line: JournalLine
    running: Decimal  # the account's balance (normal side) after this line


@dataclass(frozen=True, slots=True)
class Statement:
    account: LedgerAccount
    since: datetime.date | None
    until: datetime.date | None
    opening: Decimal  # the balance at the end of the day before `since`
    lines: tuple[StatementLine, ...]
    closing: Decimal
    truncated: bool  # more lines than `limit` in the period: the closing is still exact


STATEMENT_LIMIT = 2000


def statement(
    acc: LedgerAccount,
    *,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    limit: int = STATEMENT_LIMIT,
) -> Statement:
    """The account's lines in [since, until] in posting order (date, then line id), each with the
    running balance on the account's normal side, from the opening balance before `since`."""
    opening = Decimal("0.00")
    if since is not None:
        opening = balance(acc, on=since - datetime.timedelta(days=1))
    lines = JournalLine.objects.filter(account=acc)
    if since is not None:
        lines = lines.filter(posted_on__gte=since)
    if until is not None:
        lines = lines.filter(posted_on__lte=until)
    shown = list(lines.select_related("transaction", "policy").order_by("posted_on", "id")[: limit + 1])
    truncated = len(shown) > limit
    running = opening
    out = []
    for line in shown[:limit]:
        running += _signed(acc.kind, line.debit, line.credit)
        out.append(StatementLine(line, running))
    closing = running if not truncated else balance(acc, on=until)
    return Statement(acc, since, until, opening, tuple(out), closing, truncated)
