"""Event-triggered payouts (自动理赔): a flight reported delayed beyond a product's threshold or
cancelled, or an order's return reported, pays every insured policy it concerns — no claim filed.

Why a `TriggeredPayout` row and not a `Claim`: a claim is the customer's request, with an insured
who reports, materials, a checklist and an adjudication timeline; an event payout has none of
that, and a flight pays hundreds of policies at once (a claim per traveller would be ~10 writes
each, through the guarded transition). So the event's payout is its own row — linked to the
policy, the insured and the event that caused it, with the benefit explained line by line and
the customer's line (航班延误 5 小时，已自动赔付) — and it goes through the same benefit rules and
ledger (`triggers_ledger.record_benefits`, so the annual limit holds against ordinary claims)
and the same payout port (`payment.payouts.request_payouts`, kind "trigger", reference
"E<event id>:<policy number>").

The payee: the customer's `PayoutAccount` (the account they last gave for an automatic benefit).
Payment keeps nothing of a premium payer's account but a masked number (real gateways pay back
only to the original channel, and only for refunds), so without a stored account the benefit
waits (`awaiting_account`) and the customer is told to claim it (领取) with an account of theirs.

One policy is paid at most once per flight (or order): `TriggeredPayout` is unique per (policy,
key), and an event takes its key's lock first (`_lock_key`), so two sources, a
duplicate, a replay or a corrected event for the same flight queue and the later ones find the
policies paid.

A later event for a flight already paid re-prices each benefit at its delay (`_correct`): a
higher hour band tops up the difference (a `TriggerCorrection` with its own ledger entry
"<reference>:T<event id>" and payout, or waiting with the benefit for the customer's account);
a lower band, or none, records the overpayment (open, for finance; never clawed back from the
customer automatically — the insurer decides whether to ask for it); the same delay again
changes nothing. A correction that changes the cover (a delay into a cancellation) is left to a
person.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from huibao.catalog.claim_terms import ClaimTerms, claim_terms
from huibao.claim import notices, triggers_evidence
from huibao.claim.event_models import (
    EventChannel,
    PayoutAccount,
    TriggerCorrection,
    TriggerCorrectionKind,
    TriggerCorrectionStatus,
    TriggeredPayout,
    TriggeredPayoutStatus,
    TriggerEvent,
    TriggerIndex,
)
from huibao.claim.rules import benefit_as_json
from huibao.claim.selectors import CLAIMABLE_POLICY_STATUSES, coverage_bases
from huibao.claim.tasks import notify_triggered_payouts
from huibao.claim.triggers_ledger import (
    BenefitAsk,
    PolicyRef,
    Recorded,
    record_benefit_entries,
    record_top_up,
)
from huibao.claim.triggers_rules import (
    FLIGHT,
    RETURN,
    SCREEN,
    EventFact,
    TriggerDecision,
    decide,
    flight_key,
    order_key,
    screen_key,
)
from huibao.core import evidence
from huibao.core.audit import batched, record
from huibao.core.bulkcopy import insert_rows
from huibao.core.errors import Conflict, NotFound, ValidationFailed
from huibao.core.fields import lookup_hash
from huibao.core.money import format_cny
from huibao.core.validators import validate_bank_card
from huibao.embedded.services import EmbeddedIssued
from huibao.notification.services import notify
from huibao.payment.models import Payout
from huibao.payment.payouts import ACCOUNT_HASH_CONTEXT, PayoutAsk, request_payout, request_payout_ids
from huibao.policy.models import Policy, PolicyParty
from huibao.policy.schedule import loads as load_schedule
from huibao.policy.services import PoliciesIssued
from huibao.policy.states import PartyRole

log = logging.getLogger(__name__)
PAYOUT_KIND = triggers_evidence.PAYOUT_KIND
SUBJECT_FIELDS = {FLIGHT: "flight_number", RETURN: "order_number", SCREEN: "imei"}


# --- the index: which policies an event pays ----------------------------------------------------


def _trigger_kind(claims_doc: Any) -> str:
    trigger = (claims_doc or {}).get("trigger") if isinstance(claims_doc, dict) else None
    kind = str((trigger or {}).get("kind", ""))
    return kind if kind in SUBJECT_FIELDS else ""


def index_key(kind: str, subject: dict[str, str], effective_at: datetime.datetime) -> str:
    """The trigger key of a policy from its subject: the flight on the day cover starts (a flight
    policy is one 航段, effective the day of departure), or the order number."""
    value = subject.get(SUBJECT_FIELDS[kind], "").strip()
    if not value:
        return ""
    if kind == FLIGHT:
        return flight_key(value, timezone.localdate(effective_at))
    if kind == SCREEN:
        return screen_key(value)
    return order_key(value)


def _insured(parties: Iterable[PolicyParty]) -> PolicyParty | None:
    by_role = {p.role: p for p in parties}
    return by_role.get(PartyRole.INSURED) or by_role.get(PartyRole.HOLDER)


def on_policies_issued(event: PoliciesIssued) -> None:
    """policy.policies_issued: index the event-triggered policies just issued (same transaction)."""
    rows = []
    for issued in event.issued:
        policy = issued.policy
        kind = _trigger_kind(policy.product_version.claims)
        if not kind:
            continue
        key = index_key(kind, {s.code: s.value for s in issued.subject}, policy.effective_at)
        insured = _insured(issued.parties)
        if not key or insured is None:
            log.warning("policy %s: no %s to index", policy.number, SUBJECT_FIELDS[kind])
            continue
        rows.append(
            TriggerIndex(policy=policy, insured=insured, kind=kind, key=key, plan_code=policy.plan.code)
        )
    if rows:
        TriggerIndex.objects.bulk_create(rows, ignore_conflicts=True)


def on_embedded_issued(event: EmbeddedIssued) -> None:
    """embedded.embedded_issued: the policies of a channel's call, indexed as any issued ones."""
    on_policies_issued(PoliciesIssued(issued=event.issued))


def backfill_index(*, batch: int = 500) -> int:
    """Indexes the event-triggered policies issued before the index existed; returns how many
    rows it added (0 when run again)."""
    added = 0
    policies = (
        Policy.objects.filter(product_version__claims__has_key="trigger")
        .select_related("product_version", "plan")
        .order_by("pk")
    )
    last = 0
    while True:
        chunk = list(policies.filter(pk__gt=last)[:batch])
        if not chunk:
            return added
        last = chunk[-1].pk
        parties: dict[int, list[PolicyParty]] = {}
        for party in PolicyParty.objects.filter(policy__in=chunk):
            parties.setdefault(party.policy_id, []).append(party)
        rows = []
        for policy in chunk:
            kind = _trigger_kind(policy.product_version.claims)
            subject = {
                str(f["code"]): str(f["value"]) for f in load_schedule(policy.schedule).get("subject", [])
            }
            key = index_key(kind, subject, policy.effective_at) if kind else ""
            insured = _insured(parties.get(policy.pk, []))
            if key and insured is not None:
                rows.append(
                    TriggerIndex(
                        policy=policy, insured=insured, kind=kind, key=key, plan_code=policy.plan.code
                    )
                )
        with transaction.atomic():
            before = TriggerIndex.objects.filter(policy__in=chunk).count()
            TriggerIndex.objects.bulk_create(rows, ignore_conflicts=True)
            added += TriggerIndex.objects.filter(policy__in=chunk).count() - before


# --- receiving an event ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Receipt:
    """What receiving one event did: `duplicate` when (source, event id) was received before
    with the same content (it paid nobody again)."""

    event: TriggerEvent
    duplicate: bool
    payouts: int


def receive_event(
    *,
    source: str,
    event_id: str,
    fact: EventFact,
    payload_sha256: str,
    channel: str = EventChannel.API,
    now: datetime.datetime | None = None,
) -> Receipt:
    """Stores the event (once per source and event id) and pays what it triggers, in one
    transaction. The same event again answers the first one's receipt; the same id with other
    content is refused (409): a source corrects by sending a new event id."""
    now = now or timezone.now()
    with transaction.atomic():
        existing = TriggerEvent.objects.filter(source=source, event_id=event_id).first()
        if existing is None:
            try:
                with transaction.atomic():
                    event = TriggerEvent.objects.create(
                        source=source,
                        event_id=event_id,
                        channel=channel,
                        kind=fact.kind,
                        key=fact.key,
                        payload_sha256=payload_sha256,
                        received_at=now,
                        flight_number=fact.flight_number,
                        flight_date=fact.flight_date,
                        status=fact.status,
                        delay_minutes=fact.delay_minutes,
                        order_number=fact.order_number,
                        returned_at=fact.returned_at,
                        imei=fact.imei,
                        repaired_at=fact.repaired_at,
                        repair_amount=fact.repair_amount,
                    )
            except IntegrityError:
                existing = TriggerEvent.objects.get(source=source, event_id=event_id)
        if existing is not None:
            if existing.payload_sha256 != payload_sha256:
                raise Conflict(
                    f"事件 {event_id} 已收到，内容不同：更正请使用新的事件编号",
                    code="event_id_reused",
                )
            return Receipt(event=existing, duplicate=True, payouts=0)
        record("claim.trigger_event_received", "trigger_event", str(event.public_id), after=_fact_json(event))
        made = pay_event(event, fact, now=now)
        return Receipt(event=event, duplicate=False, payouts=made)


def _fact_json(event: TriggerEvent) -> dict[str, Any]:
    return {
        "source": event.source,
        "event_id": event.event_id,
        "key": event.key,
        "status": event.status,
        "delay_minutes": event.delay_minutes,
        "sha256": event.payload_sha256,
    }


def _terms(policy: Policy, cache: dict[tuple[int, int, Decimal | None], ClaimTerms]) -> ClaimTerms:
    # Policies of one version, plan and sum insured have the same coverages: one schedule read
    # per kind, not per traveller.
    cache_key = (policy.product_version_id, policy.plan_id, policy.sum_insured)
    if cache_key not in cache:
        version = policy.product_version
        cache[cache_key] = claim_terms(version.claims, coverage_bases(policy), line=version.product.line)
    return cache[cache_key]


def payout_reference(event: TriggerEvent, policy: Policy, attempt: int = 1) -> str:
    base = triggers_evidence.leaf_ref(event.pk, policy.number)
    return base if attempt == 1 else f"{base}:{attempt}"


def _lock_key(key: str) -> None:
    """Events of one trigger key are paid one after another, in the order they take this lock: a
    transaction-scoped advisory lock on the key (PostgreSQL; SQLite serialises writers itself).
    It replaces the row locks of the key's index rows, which wrote a lock into each of a
    flight's 10,000 rows (and their pages into the WAL) to serialise the same events."""
    if connection.vendor != "postgresql":
        return
    lock_id = int.from_bytes(hashlib.sha256(f"claim.trigger:{key}".encode()).digest()[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])


@dataclass(frozen=True, slots=True)
class _Traveller:
    """One index row of the event's key with what paying it needs of its policy."""

    ref: PolicyRef
    insured_id: int
    plan_code: str
    number: str
    status: str
    customer_id: int | None
    group: tuple[int, int, Decimal | None]  # (version, plan, sum insured): the terms' key


def pay_event(event: TriggerEvent, fact: EventFact, *, now: datetime.datetime) -> int:
    """Pays each policy indexed on the event's key that it triggers and that no event has paid
    yet, and re-prices those an earlier event paid (`_correct`); returns how many it paid (top-ups
    included). Inside `receive_event`'s transaction."""
    # The key locked: events of one flight are paid one after another. Its index rows read as
    # plain values (a flight's 10,000 travellers, no model instances); one policy of each
    # (version, plan, sum insured) read whole, for the terms they share.
    _lock_key(event.key)
    travellers = [
        _Traveller(
            PolicyRef(pk, effective_at), insured_id, plan_code, number, status, customer_id, (v, p, si)
        )
        for pk, insured_id, plan_code, number, status, customer_id, effective_at, v, p, si in (
            TriggerIndex.objects.filter(key=event.key)
            .order_by("pk")
            .values_list(
                "policy_id",
                "insured_id",
                "plan_code",
                "policy__number",
                "policy__status",
                "policy__customer_id",
                "policy__effective_at",
                "policy__product_version_id",
                "policy__plan_id",
                "policy__sum_insured",
            )
        )
    ]
    paid_already = set(TriggeredPayout.objects.filter(key=event.key).values_list("policy_id", flat=True))
    cache: dict[tuple[int, int, Decimal | None], ClaimTerms] = {}
    first_of: dict[tuple[int, int, Decimal | None], int] = {}
    for t in travellers:
        if t.ref.pk not in paid_already:
            first_of.setdefault(t.group, t.ref.pk)
    for policy in Policy.objects.select_related("plan", "product_version__product").filter(
        pk__in=list(first_of.values())
    ):
        _terms(policy, cache)
    chosen: list[tuple[_Traveller, str, BenefitAsk]] = []
    decisions: dict[tuple[int, str], TriggerDecision] = {}
    refusals: set[str] = set()
    corrected = 0
    if paid_already and fact.kind == FLIGHT:
        # A later report of a flight already paid: a correction of its delay (rare: one by one).
        corrected = _correct(event, fact, [t for t in travellers if t.ref.pk in paid_already], cache, now=now)
    incident = fact.flight_date or timezone.localdate(fact.occurred_at or now)
    for t in travellers:
        if t.ref.pk in paid_already or t.status not in CLAIMABLE_POLICY_STATUSES:
            continue
        terms = cache[t.group]
        # The decision is the terms', the plan's and the fact's: once per (terms, plan).
        decision_key = (id(terms), t.plan_code)
        decision = decisions.get(decision_key)
        if decision is None:
            decision = decisions[decision_key] = decide(terms, t.plan_code, fact)
        if decision.coverage is None or decision.loss is None:
            refusals.add(decision.refusal)
            continue
        reference = triggers_evidence.leaf_ref(event.pk, t.number)
        ask = BenefitAsk(t.ref, decision.coverage, decision.loss, reference, incident)
        chosen.append((t, decision.line, ask))
    made = 0
    with batched():
        # The event's evidence is ONE Merkle root in the audit chain (`triggers_evidence`), not an
        # entry per benefit, payout and automatic benefit.
        recorded = record_benefit_entries([ask for _, _, ask in chosen], audit_each=False)
        payable: list[tuple[_Traveller, str, BenefitAsk, Recorded]] = []
        for (row, line, ask), rec in zip(chosen, recorded, strict=True):
            if rec.benefit.payable <= 0:
                refusals.add(rec.benefit.refusal)
                continue
            payable.append((row, line, ask, rec))
        # The payouts first, so that each automatic benefit is written once, with its payout.
        payouts = _request_payouts(event, payable)
        made = _write_triggered(event, payable, payouts, now=now)
    if made:
        # Each insured is told by a task after the commit (300 messages would triple the time
        # to pay); `notified_at` and the daily sweep make sure none is lost.
        event_pk = event.pk
        transaction.on_commit(lambda: notify_triggered_payouts.enqueue(event_pk))
    event.policies_found = len(travellers)
    event.payouts_made = made + corrected
    event.note = "；".join(sorted(r for r in refusals if r))[:200]
    event.save(update_fields=["policies_found", "payouts_made", "note"])
    return made + corrected


_TRIGGERED_COLUMNS = (
    "public_id",
    "policy_id",
    "insured_id",
    "event_id",
    "key",
    "coverage_code",
    "amount",
    "benefit",
    "line",
    "status",
    "payout_id",
    "created_at",
    "notified_at",
    "updated_at",
)


def _write_triggered(
    event: TriggerEvent,
    payable: Sequence[tuple[_Traveller, str, BenefitAsk, Recorded]],
    payouts: dict[int, _Asked],
    *,
    now: datetime.datetime,
) -> int:
    """The automatic benefits' rows (written from tuples: `bulkcopy.insert_rows`) and the event's
    evidence: one leaf per traveller under one root, sealed by one audit entry. Returns how many."""
    if not payable:
        return 0
    rows = []
    leaves: list[tuple[str, bytes]] = []
    event_public = str(event.public_id)
    created = now.astimezone(datetime.UTC).isoformat()
    requested, waiting = TriggeredPayoutStatus.REQUESTED.value, TriggeredPayoutStatus.AWAITING_ACCOUNT.value
    # Shared by the travellers of one memoised benefit: its JSON's digest, its entry, its line.
    shared: dict[int, tuple[str, dict[str, Any], str]] = {}
    for t, line, ask, rec in payable:
        public_id = uuid.uuid4()
        benefit = rec.benefit
        held = shared.get(id(rec.entry))
        if held is None:
            benefit_sha = triggers_evidence.json_digest(rec.benefit_json)
            held = shared[id(rec.entry)] = (
                benefit_sha,
                {**rec.entry, "benefit_sha256": benefit_sha},
                f"{line} {format_cny(benefit.payable)}",
            )
        benefit_sha, entry, text = held
        asked = payouts.get(t.ref.pk)
        rows.append(
            (
                public_id,
                t.ref.pk,
                t.insured_id,
                event.pk,
                event.key,
                ask.terms.code,
                benefit.payable,
                rec.benefit_json,
                text,
                waiting if asked is None else requested,
                None if asked is None else asked.payout_id,
                now,
                None,
                now,
            )
        )
        doc = triggers_evidence.document(
            event=event_public,
            key=event.key,
            policy=t.number,
            reference=ask.reference,
            triggered_payout=str(public_id),
            coverage=ask.terms.code,
            amount=benefit.payable,
            line=text,
            created_at=created,
            benefit_sha256=benefit_sha,
            entry=entry,
            payout=None if asked is None else asked.part,
        )
        leaves.append((ask.reference, triggers_evidence.digest(doc)))
    insert_rows(TriggeredPayout, _TRIGGERED_COLUMNS, rows)
    evidence.seal(triggers_evidence.KIND, triggers_evidence.batch_ref(event.pk), leaves)
    return len(rows)


# --- a corrected flight: top up into a higher band, record an overpayment -------------------------


def _correct(
    event: TriggerEvent,
    fact: EventFact,
    travellers: Sequence[_Traveller],
    cache: dict[tuple[int, int, Decimal | None], ClaimTerms],
    *,
    now: datetime.datetime,
) -> int:
    """Each benefit already made on the flight, re-priced at the corrected delay: a higher band
    tops up the difference (a ledger entry and a payout of its own), a lower one (or none) records
    the overpayment; the same delay again changes nothing. Returns the top-ups paid."""
    policies = Policy.objects.select_related("plan", "product_version__product").in_bulk(
        [t.ref.pk for t in travellers]
    )
    by_policy = {
        tp.policy_id: tp
        for tp in TriggeredPayout.objects.select_for_update(of=("self",))
        .filter(key=event.key, policy_id__in=list(policies))
        .select_related("event")
    }
    topped = 0
    for t in travellers:
        tp = by_policy.get(t.ref.pk)
        if tp is None:
            continue
        policy = tp.policy = policies[t.ref.pk]
        decision = decide(_terms(policy, cache), t.plan_code, fact)
        if decision.coverage is not None and decision.coverage.code != tp.coverage_code:
            # A delay corrected into a cancellation (or back) changes the cover: a person decides.
            log.info("trigger event %s: policy %s changes cover, not corrected", event.pk, policy.number)
            continue
        corrections = list(tp.corrections.all())
        paid_total = Decimal(tp.amount) + sum(
            (Decimal(c.amount) for c in corrections if c.kind == TriggerCorrectionKind.TOP_UP), Decimal("0")
        )
        open_over = [
            c
            for c in corrections
            if c.kind == TriggerCorrectionKind.OVERPAYMENT and c.status == TriggerCorrectionStatus.OPEN
        ]
        own = payout_reference(tp.event, policy)
        if decision.coverage is None or decision.loss is None:
            new_total, benefit_json, top_up = Decimal("0"), {}, Decimal("0")
        else:
            incident = fact.flight_date or timezone.localdate(now)
            ask = BenefitAsk(policy, decision.coverage, decision.loss, f"{own}:T{event.pk}", incident)
            benefit, top_up = record_top_up(ask, own=own, paid_total=paid_total)
            new_total, benefit_json = benefit.payable, benefit_as_json(benefit)
        owed_back = max(Decimal("0"), paid_total - new_total)
        if top_up <= 0 and sum((Decimal(c.amount) for c in open_over), Decimal("0")) == owed_back:
            continue  # the same delay again (or the same overpayment): nothing changes
        for c in open_over:
            c.status = TriggerCorrectionStatus.SUPERSEDED
            c.save(update_fields=["status", "updated_at"])
        if top_up > 0:
            _top_up(tp, event, top_up, new_total, benefit_json, decision.line, now=now)
            topped += 1
        elif owed_back > 0:
            TriggerCorrection.objects.create(
                triggered_payout=tp,
                event=event,
                kind=TriggerCorrectionKind.OVERPAYMENT,
                amount=owed_back,
                total_after=new_total,
                benefit=benefit_json,
                line=f"航班信息更正：应赔 {format_cny(new_total)}，多付 {format_cny(owed_back)}"[:200],
                status=TriggerCorrectionStatus.OPEN,
                created_at=now,
            )
            record(
                "claim.trigger_overpaid",
                "triggered_payout",
                str(tp.public_id),
                after={"event": str(event.public_id), "overpaid": str(owed_back), "total": str(new_total)},
            )
    return topped


def _top_up(
    tp: TriggeredPayout,
    event: TriggerEvent,
    amount: Decimal,
    total: Decimal,
    benefit_json: dict[str, Any],
    line: str,
    *,
    now: datetime.datetime,
) -> TriggerCorrection:
    """The top-up's row, and its payout to the customer's stored account when the first benefit's
    money has been asked for; otherwise it waits and is paid with the benefit (`claim_money`)."""
    correction = TriggerCorrection(
        triggered_payout=tp,
        event=event,
        kind=TriggerCorrectionKind.TOP_UP,
        amount=amount,
        total_after=total,
        benefit=benefit_json,
        line=f"航班信息更正：{line}，补付 {format_cny(amount)}"[:200],
        status=TriggerCorrectionStatus.AWAITING_ACCOUNT,
        created_at=now,
    )
    account = (
        PayoutAccount.objects.filter(user_id=tp.policy.customer_id).first() if tp.policy.customer_id else None
    )
    if account is not None and tp.status in (TriggeredPayoutStatus.REQUESTED, TriggeredPayoutStatus.PAID):
        correction.payout = request_payout(
            kind=PAYOUT_KIND,
            reference=top_up_reference(tp, event),
            amount=amount,
            payee_name=account.payee_name,
            account_number=account.account_number,
            bank_name=account.bank_name,
            memo=f"保单{tp.policy.number}自动理赔补付"[:100],
        )
        correction.status = TriggerCorrectionStatus.REQUESTED
    correction.save()
    record(
        "claim.trigger_topped_up",
        "triggered_payout",
        str(tp.public_id),
        after={"event": str(event.public_id), "top_up": str(amount), "total": str(total)},
    )
    return correction


def top_up_reference(tp: TriggeredPayout, event: TriggerEvent, attempt: int = 1) -> str:
    base = f"{payout_reference(tp.event, tp.policy)}:T{event.pk}"
    return base if attempt == 1 else f"{base}:{attempt}"


@dataclass(frozen=True, slots=True)
class _Asked:
    """A payout asked for a traveller: its id and what the evidence names of it."""

    payout_id: int
    part: dict[str, Any]


def _request_payouts(
    event: TriggerEvent, payable: Sequence[tuple[_Traveller, str, BenefitAsk, Recorded]]
) -> dict[int, _Asked]:
    """Asks the payout of each benefit whose customer has a stored account (the others wait);
    answers them by policy id."""
    customers = {t.customer_id for t, _, _, _ in payable if t.customer_id}
    accounts = {
        user_id: (payee_name, number, bank_name)
        for user_id, payee_name, number, bank_name in PayoutAccount.objects.filter(
            user_id__any_of=customers
        ).values_list("user_id", "payee_name", "account_number", "bank_name")
    }
    asked = [item for item in payable if item[0].customer_id in accounts]
    if not asked:
        return {}
    asks = []
    # Each account's number as the payout keeps it and its keyed hash, and each payee's masked
    # name, once.
    hashes: dict[str, tuple[str, str]] = {}
    parts: list[tuple[str, tuple[str, str]]] = []
    for t, _, ask, rec in asked:
        payee_name, number, bank_name = accounts[t.customer_id or 0]
        asks.append(
            PayoutAsk(
                kind=PAYOUT_KIND,
                reference=ask.reference,
                amount=rec.benefit.payable,
                payee_name=payee_name,
                account_number=number,
                bank_name=bank_name,
                memo=f"保单{t.number}自动理赔"[:100],
            )
        )
        if number not in hashes:
            clean = validate_bank_card(number, field="account_number")
            hashes[number] = (clean, lookup_hash(clean, context=ACCOUNT_HASH_CONTEXT))
        parts.append((payee_name.strip(), hashes[number]))
    ids = request_payout_ids(asks, audit_each=False)
    return {
        t.ref.pk: _Asked(
            payout_id,
            triggers_evidence.payout_part(
                payout_id=payout_id,
                reference=ask.reference,
                amount=rec.benefit.payable,
                account_hash=number[1],
                account_last4=number[0][-4:],
                payee_name=payee,
            ),
        )
        for (t, _, ask, rec), payout_id, (payee, number) in zip(asked, ids, parts, strict=True)
    }


# --- the customer claims a waiting benefit; payout results -------------------------------------


def claim_money(
    user: Any, public_id: Any, *, payee_name: str, account_number: str, bank_name: str = ""
) -> TriggeredPayout:
    """The customer gives an account for a benefit that waits for one (or whose payout failed):
    the account is kept for the next automatic benefit and the payout asked at once."""
    account = validate_bank_card(account_number, field="account_number")
    name = payee_name.strip()
    if not name or len(name) > 30:
        raise ValidationFailed("收款人姓名必填（不超过30个字）", code="payee_name_invalid")
    with transaction.atomic():
        tp = (
            TriggeredPayout.objects.select_for_update(of=("self",))
            .select_related("policy", "event")
            .filter(public_id=public_id, policy__customer=user)
            .first()
        )
        if tp is None:
            raise NotFound("没有这笔自动赔付", code="triggered_payout_not_found")
        if tp.status not in (TriggeredPayoutStatus.AWAITING_ACCOUNT, TriggeredPayoutStatus.FAILED):
            raise Conflict("这笔赔款已发起付款，无需再次领取", code="already_requested")
        PayoutAccount.objects.update_or_create(
            user=user,
            defaults={
                "payee_name": name,
                "account_number": account,
                "account_last4": account[-4:],
                "bank_name": bank_name,
            },
        )
        attempt = (
            1
            if tp.payout_id is None
            else 2
            + Payout.objects.filter(
                kind=PAYOUT_KIND, reference__startswith=payout_reference(tp.event, tp.policy) + ":"
            ).count()
        )
        payout = request_payout(
            kind=PAYOUT_KIND,
            reference=payout_reference(tp.event, tp.policy, attempt),
            amount=tp.amount,
            payee_name=name,
            account_number=account,
            bank_name=bank_name,
            memo=f"保单{tp.policy.number}自动理赔",
        )
        tp.payout = payout
        tp.status = TriggeredPayoutStatus.REQUESTED
        tp.save(update_fields=["payout", "status", "updated_at"])
        _pay_waiting_top_ups(tp, payee_name=name, account_number=account, bank_name=bank_name)
        record("claim.triggered_payout_claimed", "triggered_payout", str(tp.public_id), actor=user)
    return tp


def _pay_waiting_top_ups(
    tp: TriggeredPayout, *, payee_name: str, account_number: str, bank_name: str
) -> None:
    """The top-ups of a corrected flight that waited for the benefit's account are paid with it."""
    waiting = tp.corrections.select_related("event").filter(
        kind=TriggerCorrectionKind.TOP_UP,
        status__in=[TriggerCorrectionStatus.AWAITING_ACCOUNT, TriggerCorrectionStatus.FAILED],
    )
    for correction in waiting:
        base = top_up_reference(tp, correction.event)
        attempt = (
            1
            if correction.payout_id is None
            else 2 + Payout.objects.filter(kind=PAYOUT_KIND, reference__startswith=base + ":").count()
        )
        correction.payout = request_payout(
            kind=PAYOUT_KIND,
            reference=top_up_reference(tp, correction.event, attempt),
            amount=correction.amount,
            payee_name=payee_name,
            account_number=account_number,
            bank_name=bank_name,
            memo=f"保单{tp.policy.number}自动理赔补付",
        )
        correction.status = TriggerCorrectionStatus.REQUESTED
        correction.save(update_fields=["payout", "status", "updated_at"])


def on_payout_succeeded(payout: Payout) -> None:
    """payment.payout_succeeded["trigger"]."""
    tp = TriggeredPayout.objects.filter(payout=payout).select_related("policy__customer").first()
    if tp is None:
        TriggerCorrection.objects.filter(payout=payout).update(
            status=TriggerCorrectionStatus.PAID, updated_at=timezone.now()
        )
        return
    tp.status = TriggeredPayoutStatus.PAID
    tp.save(update_fields=["status", "updated_at"])


def on_payout_failed(payout: Payout) -> None:
    """payment.payout_failed["trigger"]: the payout was given up; the customer may give another
    account (the benefit stays recorded in the ledger: it is still owed)."""
    tp = TriggeredPayout.objects.filter(payout=payout).select_related("policy__customer").first()
    if tp is None:
        TriggerCorrection.objects.filter(payout=payout).update(
            status=TriggerCorrectionStatus.FAILED, updated_at=timezone.now()
        )
        return
    tp.status = TriggeredPayoutStatus.FAILED
    tp.save(update_fields=["status", "updated_at"])
    if tp.policy.customer is not None:
        notify(
            user=tp.policy.customer,
            template=notices.TRIGGER_FAILED,
            context={"policy_number": tp.policy.number, "amount": format_cny(tp.amount)},
            dedup_key=f"trigger-failed:{payout.public_id}",
            reference=tp.policy.number,
        )


def payouts_of(user: Any) -> list[TriggeredPayout]:
    """The customer's automatic benefits, newest first."""
    return list(
        TriggeredPayout.objects.filter(policy__customer=user).select_related("policy", "event", "payout")
    )
