"""Receivables and payables ageing (应收应付账龄) per insurer and per channel or agent, from the
ledger's lines.

Method — FIFO matching per account: the lines that increase the account's balance (credits of a
payable, debits of a receivable) are open items dated by their posting date; the lines that
decrease it (a remittance, a collection, a refund) settle the oldest open items first. What is
left open on the date is aged by its own posting date into 0–30, 31–60, 61–90 and over 90 days.
A decrease larger than everything open (paid in advance, or a refund beyond the premium) is
shown as `unapplied` (negative), not aged. Only lines posted on or before the date count.

`fifo_open` is pure (tests/test_ageing.py is table-driven on it); `ageing` reads the lines of the
party accounts one account at a time, streamed.
"""

from __future__ import annotations

import datetime
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from huibao.finance.models import AccountKind, JournalLine, LedgerAccount

ZERO = Decimal("0.00")

# (label, lowest age in days, highest age in days or None for open-ended)
BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30", 0, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)

# The party accounts aged, by the prefix of their code, and which side they are.
AGED_ACCOUNTS: tuple[tuple[str, str], ...] = (
    ("premium_payable:insurer:", "payable"),
    ("commission_receivable:insurer:", "receivable"),
    ("commission_payable:unit:", "payable"),
)


def bucket_of(age_days: int) -> str:
    for label, low, high in BUCKETS:
        if age_days >= low and (high is None or age_days <= high):
            return label
    return BUCKETS[0][0]  # posted after the date cannot happen (filtered); a negative age: current


@dataclass(frozen=True, slots=True)
class Movement:
    on: datetime.date
    increase: Decimal  # on the account's normal side
    decrease: Decimal


@dataclass(frozen=True, slots=True)
class OpenItems:
    items: tuple[tuple[datetime.date, Decimal], ...]  # (posted on, amount still open), oldest first
    unapplied: Decimal  # decreases with nothing left to settle (≤ 0)


def fifo_open(movements: Iterable[Movement]) -> OpenItems:
    """The open items left when decreases settle the oldest increases first. `movements` in
    posting order."""
    queue: deque[tuple[datetime.date, Decimal]] = deque()
    unapplied = ZERO
    for m in movements:
        amount = m.increase
        if amount > 0 and unapplied < 0:
            # An earlier excess decrease (an advance) is used up by the next increase.
            used = min(amount, -unapplied)
            unapplied += used
            amount -= used
        if amount > 0:
            queue.append((m.on, amount))
        left = m.decrease
        while left > 0 and queue:
            posted_on, open_amount = queue[0]
            if open_amount <= left:
                left -= open_amount
                queue.popleft()
            else:
                queue[0] = (posted_on, open_amount - left)
                left = ZERO
        if left > 0:
            unapplied -= left
    return OpenItems(tuple(queue), unapplied)


@dataclass
class AgeingRow:
    account: LedgerAccount
    side: str  # "receivable" | "payable"
    buckets: dict[str, Decimal] = field(default_factory=lambda: {b[0]: ZERO for b in BUCKETS})
    unapplied: Decimal = ZERO
    oldest: datetime.date | None = None

    @property
    def total(self) -> Decimal:
        return sum(self.buckets.values(), ZERO) + self.unapplied


def age(items: OpenItems, on: datetime.date) -> tuple[dict[str, Decimal], datetime.date | None]:
    buckets = {b[0]: ZERO for b in BUCKETS}
    for posted_on, amount in items.items:
        buckets[bucket_of((on - posted_on).days)] += amount
    return buckets, (items.items[0][0] if items.items else None)


def _movements(acc: LedgerAccount, on: datetime.date) -> Iterator[Movement]:
    debit_normal = acc.kind in (AccountKind.ASSET, AccountKind.EXPENSE)
    lines = (
        JournalLine.objects.filter(account=acc, posted_on__lte=on)
        .order_by("posted_on", "id")
        .values_list("posted_on", "debit", "credit")
    )
    for posted_on, d, c in lines.iterator(chunk_size=2000):
        yield Movement(posted_on, d if debit_normal else c, c if debit_normal else d)


def ageing(*, on: datetime.date, party_kind: str = "") -> list[AgeingRow]:
    """One row per party account (premium payable and commission receivable per insurer,
    commission payable per channel or agent) with anything open on `on`. `party_kind`
    ("insurer" or "sales_unit") narrows it."""
    rows: list[AgeingRow] = []
    accounts = LedgerAccount.objects.exclude(party_kind="").order_by("party_kind", "code")
    if party_kind:
        accounts = accounts.filter(party_kind=party_kind)
    for acc in accounts:
        side = next((s for prefix, s in AGED_ACCOUNTS if acc.code.startswith(prefix)), None)
        if side is None:
            continue
        items = fifo_open(_movements(acc, on))
        buckets, oldest = age(items, on)
        row = AgeingRow(acc, side, buckets, items.unapplied, oldest)
        if row.total != 0 or items.items:
            rows.append(row)
    return rows


def totals(rows: Iterable[AgeingRow]) -> dict[str, Decimal]:
    out = {b[0]: ZERO for b in BUCKETS}
    out["unapplied"] = ZERO
    out["total"] = ZERO
    for row in rows:
        for label, amount in row.buckets.items():
            out[label] += amount
        out["unapplied"] += row.unapplied
        out["total"] += row.total
    return out
