"""Reads: the history queries the rules need (one indexed query each, bounded), the active
rules, the blacklist check, and the analysts' queue and case reads.

A history query is registered under the name a `RuleSpec.query` gives; it answers at most
`EVIDENCE_LIMIT` (or the rule's own count) `Match`es for the subject, never the subject itself.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import CharField, DateTimeField, DecimalField, F, Q, QuerySet, Value
from django.db.models.functions import Cast, Coalesce, NullIf
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


# A history query whose answer is rows of one shape (the `Match` fields, see `_shaped`), ordered
# and bounded: it runs alone, or with the others of a screening in one UNION ALL (`run_together`).
RowsQuery = Callable[[Any, Mapping[str, Any]], "HistoryRows | None"]
ROWS_QUERIES: dict[str, RowsQuery] = {}


@dataclass(frozen=True, slots=True)
class HistoryRows:
    rows: QuerySet[Any]  # `_shaped`, ordered, not sliced
    limit: int
    # Columns holding a UUID cast to text (hex on SQLite, hyphenated on PostgreSQL): answered as
    # `str(UUID)` either way.
    uuids: tuple[str, ...] = ()


def register_rows_query(name: str) -> Callable[[RowsQuery], RowsQuery]:
    """Registers a rows query under `name`, also as a plain history query (run alone)."""

    def decorator(build: RowsQuery) -> RowsQuery:
        ROWS_QUERIES[name] = build
        QUERIES[name] = lambda subject, params: _answer(build(subject, params))
        return build

    return decorator


_TEXT = CharField()


def _shaped(
    rows: QuerySet[Any], *, reference: Any, policy: Any, insurer: Any, amount: Any, at: Any, value: Any
) -> QuerySet[Any]:
    """Rows as `Match` columns, all named apart from the model's fields and in one order, so that
    any of them line up in a UNION (a field name, or an expression)."""

    def column(given: Any) -> Any:
        return F(given) if isinstance(given, str) else given

    return rows.values(
        m_reference=column(reference),
        m_policy=column(policy),
        m_insurer=column(insurer),
        m_amount=column(amount),
        m_at=column(at),
        m_value=column(value),
    )


def _match(r: Mapping[str, Any], uuids: tuple[str, ...]) -> Match:
    if uuids:
        r = {k: str(uuid.UUID(str(v))) if k in uuids and v else v for k, v in r.items()}
    return Match(
        r["m_reference"], r["m_policy"], r["m_insurer"], r["m_amount"], r["m_at"], r["m_value"] or ""
    )


def _matches(rows: list[Mapping[str, Any]], asked: HistoryRows) -> tuple[Match, ...]:
    return tuple(_match(r, asked.uuids) for r in rows)


def _answer(asked: HistoryRows | None) -> tuple[Match, ...]:
    return _matches(_run_alone(asked), asked) if asked is not None else ()


def _run_alone(asked: HistoryRows | None) -> list[Mapping[str, Any]]:
    if asked is None or asked.limit <= 0:
        return []
    return list(asked.rows[: asked.limit])


def run_together(asks: Mapping[str, HistoryRows | None]) -> dict[str, tuple[Match, ...]]:
    """Every rows query of a screening in one round trip: a UNION ALL of the queries, each
    ordered and limited as it is alone, tagged with its place (PostgreSQL); one query each where
    the database cannot order and limit the parts of a UNION (SQLite). Same answers either way."""
    found: dict[str, tuple[Match, ...]] = {key: () for key in asks}
    live = [(key, asked) for key, asked in asks.items() if asked is not None and asked.limit > 0]
    if len(live) < 2 or not connection.features.supports_slicing_ordering_in_compound:
        for key, asked in live:
            found[key] = _matches(_run_alone(asked), asked)
        return found
    parts = [asked.rows.annotate(m_part=Value(i))[: asked.limit] for i, (_key, asked) in enumerate(live)]
    rows: dict[int, list[Mapping[str, Any]]] = {}
    for r in parts[0].union(*parts[1:], all=True):
        rows.setdefault(r["m_part"], []).append(r)
    for i, (key, asked) in enumerate(live):
        # A part's own order (the UNION keeps no order of its own across parts).
        found[key] = _matches(_ordered(rows.get(i, []), asked), asked)
    return found


def _ordered(rows: list[Mapping[str, Any]], asked: HistoryRows) -> list[Mapping[str, Any]]:
    order = asked.rows.query.order_by
    if order == ("-reported_at",):
        return sorted(rows, key=lambda r: r["m_at"], reverse=True)
    if order == ("claim__reference",):
        return sorted(rows, key=lambda r: r["m_reference"])
    # Related cases (by when they opened), blacklist entries (newest first): the rows do not
    # carry what they are ordered by; kept as read (PostgreSQL appends the parts in turn).
    return rows


def _claim_rows(rows: QuerySet[ScreenedClaim], limit: int) -> HistoryRows:
    shaped = _shaped(
        rows,
        reference="reference",
        policy="policy_reference",
        insurer="insurer_code",
        amount="amount",
        at="reported_at",
        value=Value("", output_field=_TEXT),
    )
    return HistoryRows(shaped.order_by("-reported_at"), limit)


def _invoice_rows(subject: ClaimSubject, kind: str, values: tuple[str, ...]) -> HistoryRows | None:
    if not values:
        return None
    rows = ScreenedInvoice.objects.filter(kind=kind, value__in=values).exclude(
        claim__reference=subject.reference
    )
    shaped = _shaped(
        rows,
        reference="claim__reference",
        policy="claim__policy_reference",
        insurer="claim__insurer_code",
        amount="claim__amount",
        at=Value(None, output_field=DateTimeField()),
        value=F("value"),
    )
    return HistoryRows(shaped.order_by("claim__reference"), EVIDENCE_LIMIT)


@register_rows_query("invoice_numbers")
def invoice_numbers(subject: ClaimSubject, params: Mapping[str, Any]) -> HistoryRows | None:
    values = tuple(sorted({rules.normalise_invoice(n) for n in subject.invoice_numbers if n.strip()}))
    return _invoice_rows(subject, InvoiceKind.NUMBER, values)


@register_rows_query("file_digests")
def file_digests(subject: ClaimSubject, params: Mapping[str, Any]) -> HistoryRows | None:
    return _invoice_rows(
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


@register_rows_query("same_insured")
def same_insured(subject: ClaimSubject, params: Mapping[str, Any]) -> HistoryRows | None:
    return _claim_rows(
        _window(subject, params).filter(insured_id_hash=subject.insured_id_hash), _frequency_limit(params)
    )


@register_rows_query("same_region")
def same_region(subject: ClaimSubject, params: Mapping[str, Any]) -> HistoryRows | None:
    if not subject.region_code:
        return None
    return _claim_rows(
        _window(subject, params).filter(region_code=subject.region_code), _frequency_limit(params)
    )


@register_rows_query("same_institution")
def same_institution(subject: ClaimSubject, params: Mapping[str, Any]) -> HistoryRows | None:
    key = rules.normalise_institution(subject.medical_institution)
    if not key:
        return None
    return _claim_rows(_window(subject, params).filter(institution_key=key), _frequency_limit(params))


@register_rows_query("just_under")
def just_under(subject: ClaimSubject, params: Mapping[str, Any]) -> HistoryRows | None:
    low, top = rules.just_under_band(subject, params)
    if not (low <= subject.amount_claimed <= top):
        return None  # this claim is not in the band: the rule cannot fire, no query
    rows = _window(subject, params).filter(
        insured_id_hash=subject.insured_id_hash, amount__gte=low, amount__lte=top
    )
    return _claim_rows(rows, int(params["count"]))


def active_blacklist(on: datetime.date | None = None) -> QuerySet[BlacklistEntry]:
    on = on or timezone.localdate()
    return BlacklistEntry.objects.filter(removed_at__isnull=True, valid_from__lte=on).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=on)
    )


def is_blacklisted(id_hash: str, *, on: datetime.date | None = None) -> bool:
    """True when the person with this ID hash is on the shared blacklist today (or `on`)."""
    return bool(id_hash) and active_blacklist(on).filter(id_hash=id_hash).exists()


@register_rows_query("blacklist")
def blacklist(subject: ClaimSubject, params: Mapping[str, Any]) -> HistoryRows | None:
    hashes = {h for h in (subject.claimant_id_hash, subject.insured_id_hash) if h}
    if not hashes:
        return None
    rows = active_blacklist().filter(id_hash__in=hashes)  # as the list stands now, when screened
    shaped = _shaped(
        rows,
        reference=Cast("public_id", output_field=_TEXT),
        policy=Value("", output_field=_TEXT),
        # Who listed the person: the insurer, or the source (a shared list) when none.
        insurer=Coalesce(NullIf("insurer_code", Value("")), "source", output_field=_TEXT),
        amount=Value(None, output_field=DecimalField()),
        at=Value(None, output_field=DateTimeField()),
        value=F("id_hash"),
    )
    return HistoryRows(shaped.order_by("-created_at", "-id"), EVIDENCE_LIMIT, uuids=("m_reference",))


@register_rows_query("related_open_cases")
def related_open_cases(subject: ClaimSubject, params: Mapping[str, Any]) -> HistoryRows | None:
    """The open cases of other claims by the same claimant or insured (one indexed query)."""
    hashes = sorted({h for h in (subject.claimant_id_hash, subject.insured_id_hash) if h})
    if not hashes:
        return None
    rows = (
        FraudCase.objects.filter(status__in=OPEN_STATUSES)
        .filter(Q(claim__insured_id_hash__in=hashes) | Q(claim__claimant_id_hash__in=hashes))
        .exclude(claim__reference=subject.reference)
    )
    shaped = _shaped(
        rows,
        reference="claim__reference",
        policy="claim__policy_reference",
        insurer="claim__insurer_code",
        amount="claim__amount",
        at=Value(None, output_field=DateTimeField()),
        value=Cast("public_id", output_field=_TEXT),
    )
    return HistoryRows(shaped.order_by("created_at"), EVIDENCE_LIMIT, uuids=("m_value",))


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
