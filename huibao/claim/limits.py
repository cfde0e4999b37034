"""The remaining-limit ledger: what each coverage of a policy has used per policy year.

`record_benefit` locks the year's `BenefitUsage` row, computes the benefit with the pure
`rules.calculate_benefit` against the locked usage, writes one `BenefitEntry` for the claim and
adds its `usage_added` to the row — all in the caller's transaction, so concurrent claims on
one policy queue on the row and never exceed a limit; a caller that read the usage to decide
(the fast track) locks it with that read (`lock_usage`) and records on the row it holds. It is idempotent per
(claim reference, coverage): a retry answers the benefit already recorded. `release_benefit`
takes a claim's entries back exactly once (a payout that finally failed, an appeal re-decided);
a later `record_benefit` for the same reference then records afresh.

Locks are taken in one order — the usage row first, then entries — by both use-cases, so they
cannot deadlock each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from huibao.catalog.claim_terms import BenefitKind, CoverageTerms
from huibao.claim.models import BenefitEntry, BenefitUsage
from huibao.claim.rules import (
    Benefit,
    Loss,
    UsageSoFar,
    benefit_as_json,
    benefit_from_json,
    calculate_benefit,
    capped_by_adjuster,
    policy_year_bounds,
)
from huibao.core.audit import record
from huibao.core.inserts import insert_unless_taken
from huibao.policy.models import Policy


def policy_year(policy: Policy, incident_date: date) -> tuple[date, date]:
    """The policy year of `policy` holding `incident_date` (local dates, Asia/Shanghai)."""
    return policy_year_bounds(timezone.localdate(policy.effective_at), incident_date)


def usage_for(policy: Policy, coverage_code: str, incident_date: date) -> UsageSoFar:
    """What the policy year of `incident_date` has used of the coverage (a read, no lock)."""
    start, _end = policy_year(policy, incident_date)
    row = BenefitUsage.objects.filter(policy=policy, coverage_code=coverage_code, period_start=start).first()
    return _usage_of(row) if row is not None else UsageSoFar()


@dataclass(frozen=True, slots=True)
class HeldUsage:
    """The usage row of a policy year as this transaction locked it (`lock_usage`): `row` None
    when the year had no row yet (nothing to lock: the first claim creates it)."""

    start: date
    end: date
    row: BenefitUsage | None

    @property
    def so_far(self) -> UsageSoFar:
        return _usage_of(self.row) if self.row is not None else UsageSoFar()


def lock_usage(policy: Policy, coverage_code: str, incident_date: date) -> HeldUsage:
    """What the policy year of `incident_date` has used of the coverage, its row locked until the
    end of the caller's transaction (one query; no row is created) — a read that
    `record_benefit(held=…)` then records on without reading or locking it again."""
    start, end = policy_year(policy, incident_date)
    lookup = {"policy": policy, "coverage_code": coverage_code, "period_start": start}
    return HeldUsage(start, end, _find_locked(lookup))


def record_benefit(
    policy: Policy,
    terms: CoverageTerms,
    loss: Loss,
    *,
    reference: str,
    incident_date: date,
    cap: Decimal | None = None,
    held: HeldUsage | None = None,
    first: bool = False,
) -> Benefit:
    """Computes the benefit of claim `reference` under coverage `terms` against the locked usage
    of its policy year and adds it to the ledger. Idempotent per (reference, coverage). `cap`:
    an adjuster's partial approval (`rules.capped_by_adjuster`), applied under the lock. `held`:
    the year's usage as the caller's transaction locked it (`lock_usage`), not read again.
    `first`: the claim's first approval, under its row lock — it has no entry to find (an entry
    is written only by an approval), so none is looked for."""
    if not reference:
        raise ValueError("record_benefit(): a claim reference is required")
    start, end = policy_year(policy, incident_date)
    live_entry = BenefitEntry.objects.filter(reference=reference, coverage_code=terms.code, released=False)
    if held is None and not first:
        # A retry answers without waiting for the lock (entries are only written under it).
        done = live_entry.first()
        if done is not None:
            return benefit_from_json(done.benefit)
    # A savepoint of its own (a caller may catch a refusal and go on: nothing stays written),
    # but not on the rows a caller locked (`held`: the fast track's decision, which nothing
    # catches — an error ends its whole transaction).
    with transaction.atomic(savepoint=held is None):
        if held is not None and held.start == start:
            usage = held.row if held.row is not None else _created_or_locked(policy, terms.code, start, end)
        else:
            usage = _locked_usage(policy, terms.code, start, end)
        # Again under the lock: a concurrent call for the same claim has committed by now.
        done = None if first else live_entry.first()
        if done is not None:
            return benefit_from_json(done.benefit)
        so_far = _usage_of(usage)
        benefit = calculate_benefit(terms, loss, so_far)
        if cap is not None:
            daily = terms.daily_amount if terms.benefit_kind is BenefitKind.DAILY else None
            benefit = capped_by_adjuster(benefit, cap, daily_amount=daily)
        added = benefit.usage_added
        BenefitEntry.objects.create(
            usage=usage,
            reference=reference,
            coverage_code=terms.code,
            paid=added.paid,
            deductible_used=added.deductible_used,
            item_paid=_items_json(added.item_paid),
            days_paid=added.days_paid,
            benefit=benefit_as_json(benefit),
        )
        _store(usage, so_far.plus(added))
        record(
            "claim.benefit_recorded",
            "claim",
            reference,
            after={
                "coverage": terms.code,
                "period_start": start.isoformat(),
                "payable": str(benefit.payable),
                "paid_in_year": str(usage.paid),
                "refusal": benefit.refusal,
            },
        )
    return benefit


def release_benefit(reference: str, *, coverage_code: str | None = None) -> int:
    """Takes back what claim `reference` (or one coverage of it) added to the ledger; returns how
    many entries it released — 0 on a repeat, so a retried release changes nothing."""
    with transaction.atomic():
        entries = BenefitEntry.objects.filter(reference=reference, released=False)
        if coverage_code is not None:
            entries = entries.filter(coverage_code=coverage_code)
        usage_ids = sorted(set(entries.values_list("usage_id", flat=True)))
        if not usage_ids:
            return 0
        usages = {
            u.pk: u for u in BenefitUsage.objects.select_for_update().filter(pk__in=usage_ids).order_by("pk")
        }
        # Re-read under the usage locks: a concurrent release of the same claim is done by now.
        live = list(entries.select_for_update().order_by("pk"))
        now = timezone.now()
        for entry in live:
            usage = usages[entry.usage_id]
            _store(usage, _usage_of(usage).minus(_entry_usage(entry)))
            entry.released = True
            entry.released_at = now
            entry.save(update_fields=["released", "released_at"])
            record(
                "claim.benefit_released",
                "claim",
                reference,
                before={"coverage": entry.coverage_code, "paid": str(entry.paid)},
                after={"paid_in_year": str(usage.paid)},
            )
        return len(live)


def live_entries(reference: str) -> list[BenefitEntry]:
    """The unreleased entries of claim `reference`, one per coverage it used."""
    return list(BenefitEntry.objects.filter(reference=reference, released=False).order_by("coverage_code"))


def locked_usage(policy: Policy, coverage_code: str, incident_date: date) -> BenefitUsage:
    """The usage row of the policy year holding `incident_date`, locked (created on first use);
    inside the caller's transaction."""
    start, end = policy_year(policy, incident_date)
    return _locked_usage(policy, coverage_code, start, end)


def _locked_usage(policy: Policy, coverage_code: str, start: date, end: date) -> BenefitUsage:
    """The year's row, locked; created on first use (`_created_or_locked`)."""
    row = _find_locked({"policy": policy, "coverage_code": coverage_code, "period_start": start})
    return row if row is not None else _created_or_locked(policy, coverage_code, start, end)


def _created_or_locked(policy: Policy, coverage_code: str, start: date, end: date) -> BenefitUsage:
    """The year's row for a year that had none when looked for: inserted, or — two first claims at
    once — the winner's row locked. The loser's insert waits for the winner's commit and skips
    its row (no IntegrityError, no savepoint); its next read locks that row."""
    fresh = BenefitUsage(policy=policy, coverage_code=coverage_code, period_start=start, period_end=end)
    if insert_unless_taken([fresh]):
        return fresh  # ours, uncommitted: nobody else can lock it before we commit
    row = _find_locked({"policy": policy, "coverage_code": coverage_code, "period_start": start})
    if row is None:
        raise RuntimeError(
            f"benefit usage of policy {policy.pk} {coverage_code} {start}: not created nor found"
        )
    return row


def _find_locked(lookup: Mapping[str, Any]) -> BenefitUsage | None:
    return BenefitUsage.objects.select_for_update().filter(**lookup).first()


def _usage_of(row: BenefitUsage) -> UsageSoFar:
    return UsageSoFar(
        # Decimal(): a row just created holds its int defaults until read back.
        paid=Decimal(row.paid),
        deductible_used=Decimal(row.deductible_used),
        item_paid=_items(row.item_paid),
        days_paid=row.days_paid,
    )


def _entry_usage(entry: BenefitEntry) -> UsageSoFar:
    return UsageSoFar(
        paid=Decimal(entry.paid),
        deductible_used=Decimal(entry.deductible_used),
        item_paid=_items(entry.item_paid),
        days_paid=entry.days_paid,
    )


def _store(row: BenefitUsage, usage: UsageSoFar) -> None:
    row.paid = usage.paid
    row.deductible_used = usage.deductible_used
    row.item_paid = _items_json(usage.item_paid)
    row.days_paid = usage.days_paid
    row.save(update_fields=["paid", "deductible_used", "item_paid", "days_paid", "updated_at"])


def _items(data: Mapping[str, Any]) -> Mapping[str, Decimal]:
    return {k: Decimal(v) for k, v in (data or {}).items()}


def _items_json(items: Mapping[str, Decimal]) -> dict[str, str]:
    return {k: str(v) for k, v in sorted(items.items()) if v}
