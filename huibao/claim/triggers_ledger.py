"""The benefit ledger for many policies at once: `limits.record_benefit`'s batch form, for an
event that pays every insured traveller on a flight.

Same rows, same rules, same lock order as `limits.py` (the usage rows first, locked in primary-key
order, then the entries), so a claim and an event on one policy queue on the same row and the
annual limit holds between them. Idempotent per (reference, coverage): an entry already live
answers its stored benefit. A few statements for the whole batch instead of eight per policy.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from huibao.catalog.claim_terms import CoverageTerms
from huibao.claim.limits import locked_usage
from huibao.claim.models import BenefitEntry, BenefitUsage
from huibao.claim.rules import (
    Benefit,
    Loss,
    UsageSoFar,
    benefit_as_json,
    benefit_from_json,
    calculate_benefit,
    policy_year_bounds,
)
from huibao.core.audit import record
from huibao.core.bulkcopy import array_literal, insert_rows
from huibao.policy.models import Policy


@dataclass(frozen=True, slots=True)
class PolicyRef:
    """What the batch ledger needs of a policy: its id and when its cover starts (an event reads
    a flight's 10,000 travellers as these, not as model instances)."""

    pk: int
    effective_at: datetime.datetime


@dataclass(frozen=True, slots=True)
class BenefitAsk:
    policy: Policy | PolicyRef
    terms: CoverageTerms
    loss: Loss
    reference: str
    incident_date: date


NOTHING_USED = UsageSoFar()


def _usage_of(row: BenefitUsage) -> UsageSoFar:
    return UsageSoFar(
        paid=Decimal(row.paid),
        deductible_used=Decimal(row.deductible_used),
        item_paid={k: Decimal(v) for k, v in (row.item_paid or {}).items()},
        days_paid=row.days_paid,
    )


@dataclass(frozen=True, slots=True)
class Recorded:
    """One ask as the ledger holds it: its benefit, the benefit's JSON (shared by the asks of one
    memoised benefit) and the values its entry holds (`period_start`, `paid`, `deductible_used`,
    `item_paid`, `days_paid`, as strings and ints) — what the caller's evidence names."""

    benefit: Benefit
    benefit_json: dict[str, Any]
    entry: dict[str, Any]


def entry_values(
    period_start: date, paid: Decimal, deductible_used: Decimal, item_paid: dict[str, str], days_paid: int
) -> dict[str, Any]:
    """An entry's values as `Recorded.entry` names them (amounts to the fen, as strings)."""
    return {
        "period_start": period_start.isoformat(),
        "paid": f"{Decimal(paid):.2f}",
        "deductible_used": f"{Decimal(deductible_used):.2f}",
        "item_paid": dict(item_paid),
        "days_paid": days_paid,
    }


def record_benefits(asks: Sequence[BenefitAsk]) -> list[Benefit]:
    """The benefit of each ask, recorded in the ledger (inside the caller's transaction), with an
    audit entry per benefit."""
    return [r.benefit for r in record_benefit_entries(asks)]


_Key = tuple[int, str, date]
_ENTRY_COLUMNS = (
    "usage_id",
    "reference",
    "coverage_code",
    "paid",
    "deductible_used",
    "item_paid",
    "days_paid",
    "benefit",
    "released",
    "released_at",
    "created_at",
)


def _items(usage: UsageSoFar) -> dict[str, str]:
    return {k: str(v) for k, v in sorted(usage.item_paid.items()) if v}


def _dumped_items(usages: Sequence[UsageSoFar]) -> list[str]:
    """Each usage's `item_paid` as JSON text, once per distinct usage object (the travellers of
    one memoised benefit share theirs)."""
    dumped: dict[int, str] = {}
    out = []
    for usage in usages:
        text = dumped.get(id(usage))
        if text is None:
            text = dumped[id(usage)] = json.dumps(_items(usage))
        out.append(text)
    return out


def record_benefit_entries(asks: Sequence[BenefitAsk], *, audit_each: bool = True) -> list[Recorded]:
    """`record_benefits`, answering what each entry holds too. `audit_each=False`: no
    `claim.benefit_recorded` entry per benefit — for a caller that seals the batch's evidence
    itself (one Merkle root in the audit chain: `claim.triggers_evidence`).

    On PostgreSQL the usage rows a batch is the first to use (a flight's travellers, nearly
    all) are inserted with their sums (`INSERT … ON CONFLICT DO NOTHING`), never updated; only
    the rows that existed (locked first, in primary-key order) are updated, and the rows another
    writer made meanwhile are locked and their asks computed again against them."""
    if not asks:
        return []
    postgres = connection.vendor == "postgresql"
    with transaction.atomic():
        # The policy year of each ask (`limits.policy_year`), once per (cover start, incident).
        bounds: dict[tuple[datetime.datetime, date], tuple[date, date]] = {}
        years = {}
        for a in asks:
            at = (a.policy.effective_at, a.incident_date)
            year = bounds.get(at)
            if year is None:
                year = bounds[at] = policy_year_bounds(timezone.localdate(at[0]), at[1])
            years[id(a)] = year
        keys = [(a.policy.pk, a.terms.code, years[id(a)][0]) for a in asks]
        wanted = {k: years[id(a)][1] for k, a in zip(keys, asks, strict=True)}

        def locked(among: Sequence[_Key]) -> dict[_Key, BenefitUsage]:
            rows = (
                BenefitUsage.objects.select_for_update()
                .filter(
                    policy_id__any_of=sorted({k[0] for k in among}),
                    coverage_code__in=sorted({k[1] for k in among}),
                )
                .order_by("pk")
            )
            return {(r.policy_id, r.coverage_code, r.period_start): r for r in rows}

        usages = locked(list(wanted))
        if not postgres:
            missing = [k for k in wanted if k not in usages]
            if missing:
                # Made with nothing used, then read again, locked (elsewhere than PostgreSQL).
                _create_usages(missing, wanted)
                usages = locked(list(wanted))
        done = {
            (e.reference, e.coverage_code): e
            for e in BenefitEntry.objects.filter(
                reference__any_of=[a.reference for a in asks], released=False
            ).select_related("usage")
        }
        results: list[Recorded | None] = [None] * len(asks)
        fresh: dict[tuple[int, Loss], Benefit] = {}
        # Each benefit's JSON once, each (benefit, year)'s entry values once (a memoised benefit
        # is shared; `fresh` keeps each alive).
        jsons: dict[int, dict[str, Any]] = {}
        values: dict[tuple[int, date], dict[str, Any]] = {}
        state: dict[_Key, UsageSoFar] = {}
        # Per ask index: the key and the benefit, for the entries and the audit (in ask order).
        computed: dict[int, tuple[_Key, Benefit, Decimal]] = {}

        def compute(indexes: Sequence[int]) -> None:
            for i in indexes:
                ask, key = asks[i], keys[i]
                entry = done.get((ask.reference, ask.terms.code))
                if entry is not None:
                    benefit = benefit_from_json(entry.benefit)
                    results[i] = Recorded(
                        benefit,
                        entry.benefit,
                        entry_values(
                            entry.usage.period_start,
                            entry.paid,
                            entry.deductible_used,
                            entry.item_paid,
                            entry.days_paid,
                        ),
                    )
                    continue
                row = usages.get(key)
                so_far = state.get(key)
                if so_far is None:
                    so_far = _usage_of(row) if row is not None else NOTHING_USED
                if so_far == NOTHING_USED:
                    # A year with nothing used yet (a flight's travellers, nearly all): the same
                    # terms and loss give the same benefit, computed once (a pure function).
                    memo_key = (id(ask.terms), ask.loss)
                    benefit = fresh.get(memo_key) or fresh.setdefault(
                        memo_key, calculate_benefit(ask.terms, ask.loss, so_far)
                    )
                else:
                    benefit = calculate_benefit(ask.terms, ask.loss, so_far)
                # Nothing used plus what the benefit adds is what it adds (no sum to build).
                state[key] = (
                    benefit.usage_added if so_far is NOTHING_USED else so_far.plus(benefit.usage_added)
                )
                as_json = jsons.get(id(benefit)) or jsons.setdefault(id(benefit), benefit_as_json(benefit))
                memo = (id(benefit), key[2])
                entry_of = values.get(memo)
                if entry_of is None:
                    added = benefit.usage_added
                    entry_of = values[memo] = entry_values(
                        key[2], added.paid, added.deductible_used, _items(added), added.days_paid
                    )
                results[i] = Recorded(benefit, as_json, entry_of)
                computed[i] = (key, benefit, state[key].paid)

        compute(range(len(asks)))
        ids = {k: r.pk for k, r in usages.items()}
        new_keys = [k for k in state if k not in usages]
        if new_keys:
            made = _insert_usages(new_keys, wanted, state)
            ids.update(made)
            taken = [k for k in new_keys if k not in made]
            if taken:
                # Another writer made these rows first: theirs, locked, and their asks again.
                usages.update(locked(taken))
                again = set(taken)
                for k in taken:
                    state.pop(k, None)
                redo = [i for i in computed if keys[i] in again]
                for i in redo:
                    del computed[i]
                compute(redo)
                ids.update({k: usages[k].pk for k in taken})
        now = timezone.now()
        entries = []
        for i in sorted(computed):
            ask = asks[i]
            key, benefit, _ = computed[i]
            added = benefit.usage_added
            recorded = results[i]
            assert recorded is not None
            entries.append(
                (
                    ids[key],
                    ask.reference,
                    ask.terms.code,
                    added.paid,
                    added.deductible_used,
                    recorded.entry["item_paid"],
                    added.days_paid,
                    recorded.benefit_json,
                    False,
                    None,
                    now,
                )
            )
        if audit_each:
            _audit(asks, computed, years)
        if entries:
            insert_rows(BenefitEntry, _ENTRY_COLUMNS, entries)
            _update_usages([(usages[k].pk, after, now) for k, after in state.items() if k in usages])
    return [r for r in results if r is not None]


def _audit(
    asks: Sequence[BenefitAsk],
    computed: dict[int, tuple[_Key, Benefit, Decimal]],
    years: dict[int, tuple[date, date]],
) -> None:
    """One `claim.benefit_recorded` entry per benefit recorded, in ask order."""
    for i in sorted(computed):
        ask = asks[i]
        _, benefit, paid_in_year = computed[i]
        record(
            "claim.benefit_recorded",
            "claim",
            ask.reference,
            after={
                "coverage": ask.terms.code,
                "period_start": years[id(ask)][0].isoformat(),
                "payable": str(benefit.payable),
                "paid_in_year": str(paid_in_year),
                "refusal": benefit.refusal,
            },
        )


def _create_usages(keys: Sequence[_Key], ends: dict[_Key, date]) -> None:
    """The usage rows of `keys`, with nothing used, except those another writer has made
    (`bulk_create(ignore_conflicts=True)`; the caller reads them all again, locked)."""
    BenefitUsage.objects.bulk_create(
        [
            BenefitUsage(policy_id=p, coverage_code=c, period_start=s, period_end=ends[(p, c, s)])
            for p, c, s in keys
        ],
        ignore_conflicts=True,
    )


def _insert_usages(
    keys: Sequence[_Key], ends: dict[_Key, date], sums: dict[_Key, UsageSoFar]
) -> dict[_Key, int]:
    """PostgreSQL: the usage rows of `keys` inserted with their sums, in ONE `INSERT … SELECT
    FROM unnest(…) ON CONFLICT DO NOTHING RETURNING` (one array per column); answers the ids of
    the rows inserted (ours until the commit: nobody else can lock them). A key missing from the
    answer is a row another writer made first."""
    now = timezone.now()
    table = BenefitUsage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (policy_id, coverage_code, period_start, period_end, paid, '  # noqa: S608 (the table name only)
            "deductible_used, item_paid, days_paid, updated_at) "
            "SELECT v.p, v.c, v.s, v.e, v.paid, v.ded, v.items::jsonb, v.days, %s "
            "FROM unnest(%s::bigint[], %s::text[], %s::date[], %s::date[], %s::numeric[], %s::numeric[], "
            "%s::text[], %s::integer[]) AS v(p, c, s, e, paid, ded, items, days) "
            "ON CONFLICT DO NOTHING RETURNING id, policy_id, coverage_code, period_start",
            [
                now,
                *(
                    array_literal(column)
                    for column in (
                        [k[0] for k in keys],
                        [k[1] for k in keys],
                        [k[2] for k in keys],
                        [ends[k] for k in keys],
                        [sums[k].paid for k in keys],
                        [sums[k].deductible_used for k in keys],
                        _dumped_items([sums[k] for k in keys]),
                        [sums[k].days_paid for k in keys],
                    )
                ),
            ],
        )
        return {(p, c, s): pk for pk, p, c, s in cursor.fetchall()}


def record_top_up(ask: BenefitAsk, *, own: str, paid_total: Decimal) -> tuple[Benefit, Decimal]:
    """A corrected event's benefit for a policy it has paid already: the benefit of the corrected
    loss against the year's usage without this benefit's own entries (the reference `own` and its
    top-ups `own:…`), and the top-up — what it pays beyond `paid_total` — recorded as an entry of
    reference `ask.reference` (nothing when it is not above). Under the usage row's lock, so the
    annual limit holds against concurrent claims. Returns (the corrected benefit, the top-up)."""
    assert isinstance(ask.policy, Policy), "a top-up is asked with the policy itself"
    with transaction.atomic():
        usage = locked_usage(ask.policy, ask.terms.code, ask.incident_date)
        mine = BenefitEntry.objects.filter(usage=usage, coverage_code=ask.terms.code, released=False).filter(
            Q(reference=own) | Q(reference__startswith=f"{own}:")
        )
        so_far = _usage_of(usage)
        for entry in mine:
            so_far = so_far.minus(UsageSoFar(paid=Decimal(entry.paid), days_paid=entry.days_paid))
        benefit = calculate_benefit(ask.terms, ask.loss, so_far)
        top_up = benefit.payable - paid_total
        if top_up <= 0:
            return benefit, Decimal("0")
        BenefitEntry.objects.create(
            usage=usage,
            reference=ask.reference,
            coverage_code=ask.terms.code,
            paid=top_up,
            benefit=benefit_as_json(benefit),
        )
        usage.paid = Decimal(usage.paid) + top_up
        usage.save(update_fields=["paid", "updated_at"])
        record(
            "claim.benefit_recorded",
            "claim",
            ask.reference,
            after={"coverage": ask.terms.code, "top_up": str(top_up), "paid_in_year": str(usage.paid)},
        )
    return benefit, top_up


def _update_usages(rows: list[tuple[int, UsageSoFar, datetime.datetime]]) -> None:
    """The locked rows' new sums, (id, usage after, time): one `UPDATE … FROM unnest(…)` on
    PostgreSQL, each column ONE array parameter (Django's `bulk_update` builds a CASE per column
    and row: ten times slower at 300 rows; a `VALUES` list of 60,000 placeholders took seconds
    to compose at 10,000); `bulk_update` elsewhere."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        objs = [
            BenefitUsage(
                id=pk,
                paid=after.paid,
                deductible_used=after.deductible_used,
                item_paid=_items(after),
                days_paid=after.days_paid,
                updated_at=when,
            )
            for pk, after, when in rows
        ]
        BenefitUsage.objects.bulk_update(
            objs, ["paid", "deductible_used", "item_paid", "days_paid", "updated_at"]
        )
        return
    table = BenefitUsage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{table}" AS u SET paid = v.paid, deductible_used = v.deductible_used, '  # noqa: S608 (the table name only)
            "item_paid = v.item_paid::jsonb, days_paid = v.days_paid, updated_at = v.updated_at "
            "FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[], %s::text[], %s::integer[], "
            "%s::timestamptz[]) AS v(id, paid, deductible_used, item_paid, days_paid, updated_at) "
            "WHERE u.id = v.id",
            [
                array_literal([pk for pk, _, _ in rows]),
                array_literal([after.paid for _, after, _ in rows]),
                array_literal([after.deductible_used for _, after, _ in rows]),
                array_literal(_dumped_items([after for _, after, _ in rows])),
                array_literal([after.days_paid for _, after, _ in rows]),
                [when for _, _, when in rows],
            ],
        )
