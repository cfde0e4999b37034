"""Reads: the history queries the rules need (one indexed query each, bounded), the active
rules, the blacklist check, and the analysts' queue and case reads.

A history query is registered under the name a `RuleSpec.query` gives; it answers at most
`EVIDENCE_LIMIT` (or the rule's own count) `Match`es for the subject, never the subject itself.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from huibao.core.errors import NotFound
from huibao.fraud import rules
from huibao.fraud.models import (
    BlacklistEntry,
    FraudCase,
    FraudHold,
    FraudPolicy,
    FraudRule,
    ScreenedClaim,
    ScreenedInvoice,
)
from huibao.fraud.rules import (
    DEFAULT_THRESHOLDS,
    EVIDENCE_LIMIT,
    ActiveRule,
    ClaimSubject,
    Match,
    Route,
    Thresholds,
)
from huibao.fraud.states import OPEN_STATUSES, HoldStatus, InvoiceKind, PolicyStatus

HistoryQuery = Callable[[Any, Mapping[str, Any]], tuple[Match, ...]]
QUERIES: dict[str, HistoryQuery] = {}


def register_query(name: str) -> Callable[[HistoryQuery], HistoryQuery]:
    def decorator(query: HistoryQuery) -> HistoryQuery:
        QUERIES[name] = query
        return query

    return decorator


def _claim_matches(rows: QuerySet[ScreenedClaim], limit: int) -> tuple[Match, ...]:
    fields = ("reference", "policy_reference", "insurer_code", "amount", "reported_at")
    return tuple(
        Match(r["reference"], r["policy_reference"], r["insurer_code"], r["amount"], r["reported_at"])
        for r in rows.order_by("-reported_at").values(*fields)[:limit]
    )


def _invoice_matches(subject: ClaimSubject, kind: str, values: tuple[str, ...]) -> tuple[Match, ...]:
    if not values:
        return ()
    rows = (
        ScreenedInvoice.objects.filter(kind=kind, value__in=values)
        .exclude(claim__reference=subject.reference)
        .values(
            "value", "claim__reference", "claim__policy_reference", "claim__insurer_code", "claim__amount"
        )
        .order_by("claim__reference")[:EVIDENCE_LIMIT]
    )
    return tuple(
        Match(
            r["claim__reference"],
            r["claim__policy_reference"],
            r["claim__insurer_code"],
            r["claim__amount"],
            value=r["value"],
        )
        for r in rows
    )


@register_query("invoice_numbers")
def invoice_numbers(subject: ClaimSubject, params: Mapping[str, Any]) -> tuple[Match, ...]:
    values = tuple(sorted({rules.normalise_invoice(n) for n in subject.invoice_numbers if n.strip()}))
    return _invoice_matches(subject, InvoiceKind.NUMBER, values)


@register_query("file_digests")
def file_digests(subject: ClaimSubject, params: Mapping[str, Any]) -> tuple[Match, ...]:
    return _invoice_matches(
        subject, InvoiceKind.DIGEST, tuple(sorted({d.lower() for d in subject.file_digests}))
    )


def _window(subject: ClaimSubject, params: Mapping[str, Any]) -> QuerySet[ScreenedClaim]:
    since = subject.reported_at - datetime.timedelta(days=int(params["days"]))
    return ScreenedClaim.objects.filter(reported_at__gte=since, reported_at__lte=subject.reported_at).exclude(
        reference=subject.reference
    )


def _frequency_limit(params: Mapping[str, Any]) -> int:
    # Enough rows to tell "more than max_claims" (this claim counts too), bounded for evidence.
    return min(int(params["max_claims"]), 1000)


@register_query("same_insured")
def same_insured(subject: ClaimSubject, params: Mapping[str, Any]) -> tuple[Match, ...]:
    return _claim_matches(
        _window(subject, params).filter(insured_id_hash=subject.insured_id_hash), _frequency_limit(params)
    )


@register_query("same_region")
def same_region(subject: ClaimSubject, params: Mapping[str, Any]) -> tuple[Match, ...]:
    if not subject.region_code:
        return ()
    return _claim_matches(
        _window(subject, params).filter(region_code=subject.region_code), _frequency_limit(params)
    )


@register_query("same_institution")
def same_institution(subject: ClaimSubject, params: Mapping[str, Any]) -> tuple[Match, ...]:
    key = rules.normalise_institution(subject.medical_institution)
    if not key:
        return ()
    return _claim_matches(_window(subject, params).filter(institution_key=key), _frequency_limit(params))


@register_query("just_under")
def just_under(subject: ClaimSubject, params: Mapping[str, Any]) -> tuple[Match, ...]:
    low, top = rules.just_under_band(subject, params)
    if not (low <= subject.amount_claimed <= top):
        return ()  # this claim is not in the band: the rule cannot fire, no query
    rows = _window(subject, params).filter(
        insured_id_hash=subject.insured_id_hash, amount__gte=low, amount__lte=top
    )
    return _claim_matches(rows, int(params["count"]))


def active_blacklist(on: datetime.date | None = None) -> QuerySet[BlacklistEntry]:
    on = on or timezone.localdate()
    return BlacklistEntry.objects.filter(removed_at__isnull=True, valid_from__lte=on).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=on)
    )


def is_blacklisted(id_hash: str, *, on: datetime.date | None = None) -> bool:
    """True when the person with this ID hash is on the shared blacklist today (or `on`)."""
    return bool(id_hash) and active_blacklist(on).filter(id_hash=id_hash).exists()


@register_query("blacklist")
def blacklist(subject: ClaimSubject, params: Mapping[str, Any]) -> tuple[Match, ...]:
    hashes = {h for h in (subject.claimant_id_hash, subject.insured_id_hash) if h}
    rows = (
        active_blacklist()  # as the list stands now, when the claim is screened
        .filter(id_hash__in=hashes)
        .values("public_id", "id_hash", "source", "insurer_code")[:EVIDENCE_LIMIT]
    )
    return tuple(
        Match(str(r["public_id"]), insurer_code=r["insurer_code"] or r["source"], value=r["id_hash"])
        for r in rows
    )


@register_query("related_open_cases")
def related_open_cases(subject: ClaimSubject, params: Mapping[str, Any]) -> tuple[Match, ...]:
    """The open cases of other claims by the same claimant or insured (one indexed query)."""
    hashes = sorted({h for h in (subject.claimant_id_hash, subject.insured_id_hash) if h})
    if not hashes:
        return ()
    rows = (
        FraudCase.objects.filter(status__in=OPEN_STATUSES)
        .filter(Q(claim__insured_id_hash__in=hashes) | Q(claim__claimant_id_hash__in=hashes))
        .exclude(claim__reference=subject.reference)
        .values(
            "public_id", "claim__reference", "claim__policy_reference", "claim__insurer_code", "claim__amount"
        )
        .order_by("created_at")[:EVIDENCE_LIMIT]
    )
    return tuple(
        Match(
            r["claim__reference"],
            r["claim__policy_reference"],
            r["claim__insurer_code"],
            r["claim__amount"],
            value=str(r["public_id"]),
        )
        for r in rows
    )


def thresholds_in_force(at: datetime.datetime | None = None) -> Thresholds:
    """The route thresholds at `at` (now): the approved FraudPolicy version with the latest
    `effective_from` up to it, or the defaults in code (one query)."""
    at = at or timezone.now()
    row = (
        FraudPolicy.objects.filter(status=PolicyStatus.APPROVED, effective_from__lte=at)
        .order_by("-effective_from", "-version")
        .values("version", "review_at", "block_at", "hold_enabled")
        .first()
    )
    if row is None:
        return DEFAULT_THRESHOLDS
    return Thresholds(row["version"], row["review_at"], row["block_at"], row["hold_enabled"])


def policy_versions() -> QuerySet[FraudPolicy]:
    return FraudPolicy.objects.select_related("proposed_by", "decided_by").order_by("-version")


def pending_policy() -> FraudPolicy | None:
    return FraudPolicy.objects.filter(status=PolicyStatus.PROPOSED).select_related("proposed_by").first()


def policy_by_version(version: int) -> FraudPolicy:
    found = FraudPolicy.objects.filter(version=version).first()
    if found is None:
        raise NotFound("风控阈值版本不存在", code="policy_not_found")
    return found


def open_case_exists(reference: str) -> bool:
    """True while the analysts' case of the subject `reference` is open: its money must not move."""
    return FraudCase.objects.filter(claim__reference=reference, status__in=OPEN_STATUSES).exists()


def open_case_for(reference: str) -> FraudCase | None:
    return (
        FraudCase.objects.filter(claim__reference=reference, status__in=OPEN_STATUSES)
        .select_related("screening")
        .first()
    )


def hold_queue(*, status: str = HoldStatus.HELD) -> QuerySet[FraudHold]:
    holds = FraudHold.objects.select_related("claim", "screening", "released_by")
    return holds.filter(status=status).order_by("created_at", "id")


def hold_by_public_id(public_id: Any) -> FraudHold:
    found = FraudHold.objects.select_related("claim", "screening").filter(public_id=public_id).first()
    if found is None:
        raise NotFound("暂缓案件不存在", code="hold_not_found")
    return found


def active_rules(kind: str) -> list[ActiveRule]:
    """The current, enabled rules of a kind that are registered in code (one query)."""
    found = []
    for row in FraudRule.objects.filter(subject_kind=kind, is_current=True, enabled=True).order_by("code"):
        spec = rules.RULES.get(row.code)
        if spec is not None:
            found.append(ActiveRule(spec, row.version, row.parameters, row.score, Route(row.route)))
    return found


def current_rule(code: str) -> FraudRule:
    row = FraudRule.objects.filter(code=code, is_current=True).first()
    if row is None:
        raise NotFound(f"风控规则{code}不存在", code="rule_not_found")
    return row


def active_rule_rows() -> QuerySet[FraudRule]:
    return FraudRule.objects.filter(is_current=True).order_by("subject_kind", "code")


def rule_versions(code: str) -> QuerySet[FraudRule]:
    return FraudRule.objects.filter(code=code).order_by("-version")


# --- the analysts' reads ---------------------------------------------------------------------


def case_queue(
    *, status: str = "", rule: str = "", insurer: str = "", route: str = ""
) -> QuerySet[FraudCase]:
    cases = FraudCase.objects.select_related("claim", "screening", "assigned_to")
    cases = cases.filter(status=status) if status else cases.filter(status__in=OPEN_STATUSES)
    if insurer:
        cases = cases.filter(claim__insurer_code=insurer)
    if route:
        cases = cases.filter(screening__route=route)
    if rule:
        cases = cases.filter(screening__fired_codes__contains=f",{rule},")
    return cases.order_by("-screening__score", "created_at")


def case_by_public_id(public_id: Any) -> FraudCase:
    found = (
        FraudCase.objects.select_related("claim", "screening", "assigned_to", "resolved_by")
        .filter(public_id=public_id)
        .first()
    )
    if found is None:
        raise NotFound("风控案件不存在", code="case_not_found")
    return found


def earlier_claims(case: FraudCase) -> QuerySet[ScreenedClaim]:
    """The earlier claims the fired rules named, for the case page (one query)."""
    refs = {m["reference"] for f in case.screening.fired for m in f.get("matches", []) if m.get("reference")}
    return ScreenedClaim.objects.filter(reference__in=refs).order_by("-reported_at")[:50]


def blacklist_entries(*, include_removed: bool = False, id_hash: str = "") -> QuerySet[BlacklistEntry]:
    entries = BlacklistEntry.objects.select_related("added_by", "removed_by")
    if not include_removed:
        entries = entries.filter(removed_at__isnull=True)
    if id_hash:
        entries = entries.filter(id_hash=id_hash)
    return entries


def blacklist_entry(public_id: Any) -> BlacklistEntry:
    found = BlacklistEntry.objects.filter(public_id=public_id).first()
    if found is None:
        raise NotFound("黑名单记录不存在", code="blacklist_entry_not_found")
    return found
