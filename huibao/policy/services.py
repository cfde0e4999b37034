"""Policy use-cases: issuance, recovery, status sweeps, verification and NPS.

`issue_policies` runs inside the transaction that confirms the payment (the application's paid
hook), on typed values (`issuance.IssuanceRequest`) the application builds from its rows; the
policy never imports the application. The caller holds the application's row lock, so concurrent
or repeated calls issue each item once (the one-to-one `Policy.item` is the last guard), takes
numbers from `PolicyNumberSequence` (one `UPDATE … RETURNING` per insurer: row
locks taken in insurer order, no deadlock between bundles of several insurers), writes the
policy, its parties, beneficiaries and first status-history row (one insert per table for all
the items), its insurer
delivery and the audit entry, and — only after commit — enqueues the e-policy
rendering and the delivery to the insurer. A crash after commit loses at most those tasks, which
`recover_issuance` finds again.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from huibao.billing import rules as billing_rules
from huibao.billing import services as billing
from huibao.billing.models import Instalment
from huibao.billing.services import InstalmentEvent, ScheduleEvent
from huibao.billing.states import UNPAID_STATUSES
from huibao.catalog.documents import coverages_of_plans, is_frozen, version_documents
from huibao.catalog.models import Coverage, Insurer, ProductVersion
from huibao.catalog.servicing import servicing_rules
from huibao.core import audit
from huibao.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from huibao.core.hooks import Hook
from huibao.core.money import to_fen
from huibao.core.taskqueue import Call, enqueue_all
from huibao.core.validators import text_problem
from huibao.notification.services import batched as notification_batched
from huibao.policy import lifecycle, reinstatement, rules
from huibao.policy import schedule as schedule_mod
from huibao.policy.connector import connector_for
from huibao.policy.issuance import IssuanceRequest, ItemToIssue, SubjectValue
from huibao.policy.lifecycle import Reason
from huibao.policy.models import (
    Endorsement,
    InsurerDelivery,
    NpsResponse,
    Policy,
    PolicyBeneficiary,
    PolicyNumberSequence,
    PolicyParty,
    PolicyStatusChange,
)
from huibao.policy.notices import known_policies
from huibao.policy.states import COVERED_STATUSES, Channel, PartyRole, PolicyStatus, Relation
from huibao.rating import services as rating
from huibao.rating.models import Quote

logger = logging.getLogger(__name__)

OBJ_TYPE = "policy"
SYSTEM = "system"
SEQUENCE_ATTEMPTS = 8


# --- numbers -----------------------------------------------------------------------------------


@dataclass(slots=True)
class NumberBlock:
    """Policy numbers taken from an insurer's sequence for one issuance, handed out in order."""

    prefix: str
    year: int
    next: int
    last: int

    def take(self) -> str:
        if self.next > self.last:
            raise Conflict("more policies than numbers taken", code="sequence_exhausted")
        number = rules.format_number(self.prefix, self.year, self.next)
        self.next += 1
        return number


def take_numbers(insurer: Insurer, year: int, count: int) -> NumberBlock:
    """`count` numbers from the insurer's sequence row for `year`, in one statement
    (`UPDATE … RETURNING`, PostgreSQL and SQLite ≥ 3.35): the row stays locked until the end of
    the transaction, from this statement on.

    The first policy of a year creates the row. Two transactions may try that at once: on
    PostgreSQL the second insert waits for the first to commit, then fails on the unique
    constraint inside its own savepoint, and the loop simply takes numbers from the row the first
    one made. The same happens when the prefix this insurer wants was just taken by another
    insurer: the next candidate prefix is tried."""
    for _ in range(SEQUENCE_ATTEMPTS):
        block = _take_existing(insurer, year, count)
        if block is not None:
            return block
        previous = (
            PolicyNumberSequence.objects.filter(insurer=insurer)
            .order_by("-year")
            .values_list("prefix", flat=True)
        )
        taken = set(PolicyNumberSequence.objects.exclude(insurer=insurer).values_list("prefix", flat=True))
        candidates = [p for p in previous[:1] if p and p not in taken] + [
            p for p in rules.number_prefix_candidates(insurer.code, insurer.pk) if p not in taken
        ]
        if not candidates:
            raise Conflict(
                f"no free policy number prefix for insurer {insurer.code}", code="no_number_prefix"
            )
        try:
            with transaction.atomic():
                PolicyNumberSequence.objects.create(insurer=insurer, year=year, prefix=candidates[0])
        except IntegrityError:
            continue
    raise Conflict(f"could not create the policy number sequence of {insurer.code}", code="sequence_busy")


def _take_existing(insurer: Insurer, year: int, count: int) -> NumberBlock | None:
    """`count` numbers from the insurer's existing row for `year` (one `UPDATE … RETURNING`), or
    None when the year has no row yet."""
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_SQL, [count, insurer.pk, year])
        row = cursor.fetchone()
    if row is None:
        return None
    prefix, last = row[0], int(row[1])
    return NumberBlock(prefix=prefix, year=year, next=last - count + 1, last=last)


_TAKE_SQL = (
    'UPDATE "policy_policynumbersequence" SET "last" = "last" + %s '
    'WHERE "insurer_id" = %s AND "year" = %s RETURNING "prefix", "last"'
)


def reserve_numbers(insurer: Insurer, year: int, count: int) -> NumberBlock:
    """`count` numbers from the insurer's sequence in a short transaction of their OWN, committed
    before this returns (block reservation): the sequence row is locked for this one statement,
    not for the rest of the issuing transaction, so concurrent issuers of one insurer do not
    wait for each other's commits. Numbers stay unique (the row only grows), but they may have
    gaps: a block whose issuing transaction then fails, or whose sales turn out to be replays,
    is never handed out again. Used by the embedded path only (`embedded.services.issue`), whose
    numbering docs/embedded.md documents as unique, not gapless; the consumer flow keeps
    `take_numbers` inside its transaction (gapless).

    Must be called outside any transaction (an `atomic` block would make the reservation part
    of it, and hold the row until it commits)."""
    if connection.in_atomic_block:
        raise RuntimeError("reserve_numbers() must run outside a transaction (it commits its own)")
    # Outside a transaction the one `UPDATE … RETURNING` is a transaction of its own (autocommit):
    # one round trip, without a BEGIN and a COMMIT around it. Only the first reservation of a
    # year (no row yet) needs the atomic block, for the savepoint of its insert.
    block = _take_existing(insurer, year, count)
    if block is not None:
        return block
    with transaction.atomic():
        return take_numbers(insurer, year, count)


# --- issuance ----------------------------------------------------------------------------------


def _coverages(item: ItemToIssue) -> list[tuple[Coverage, Decimal]]:
    plan = item.plan
    # A frozen version's from the per-process cache (its plans' coverages never change).
    rows = coverages_of_plans({plan.pk: is_frozen(item.product_version)})[plan.pk]
    return [(c, rules.scaled_sum(c.sum_insured, plan.max_sum_insured, item.sum_insured)) for c in rows]


def _parties(policy: Policy, request: IssuanceRequest, item: ItemToIssue) -> list[PolicyParty]:
    """The holder and the insured of `policy` (the holder again, as "self", when the item has no
    insured person of its own)."""
    holder = request.holder
    insured = item.insured
    rows = [
        PolicyParty(
            policy=policy,
            role=PartyRole.HOLDER,
            name=holder.name,
            id_number=holder.id_number,
            id_hash=holder.id_hash,
            birth_date=holder.birth_date,
            sex=holder.sex,
            relation=Relation.SELF,
            phone=holder.phone,
            email=holder.email,
        )
    ]
    if insured is None:
        rows.append(
            PolicyParty(
                policy=policy,
                role=PartyRole.INSURED,
                name=holder.name,
                id_number=holder.id_number,
                id_hash=holder.id_hash,
                birth_date=holder.birth_date,
                sex=holder.sex,
                relation=Relation.SELF,
            )
        )
    else:
        rows.append(
            PolicyParty(
                policy=policy,
                role=PartyRole.INSURED,
                name=insured.name,
                id_number=insured.id_number,
                id_hash=insured.id_hash,
                birth_date=insured.birth_date,
                sex=insured.sex,
                relation=insured.relation,
                phone=insured.phone,
                occupation=insured.occupation,
                occupation_class=insured.occupation_class,
            )
        )
    return rows


def _beneficiaries(policy: Policy, request: IssuanceRequest, item: ItemToIssue) -> list[PolicyBeneficiary]:
    if not request.named_beneficiaries or item.insured is None:
        return []
    return [
        PolicyBeneficiary(
            policy=policy,
            name=b.name,
            id_number=b.id_number,
            id_hash=b.id_hash,
            relation=b.relation,
            order=b.order,
            share_percent=b.share_percent,
        )
        for b in item.beneficiaries
    ]


def policy_row(
    request: IssuanceRequest,
    item: ItemToIssue,
    *,
    numbers: NumberBlock,
    now: datetime.datetime,
    renewed_from: Policy | None = None,
) -> Policy:
    """The policy of `item`, not saved yet: its number (the next of `numbers`), term, cover
    dates, coverages, cooling-off, retention and frozen schedule. The one place a policy's
    columns are computed, for one issuance (`_issue_item`) or many at once (`bulk`)."""
    version = item.product_version
    insurer = version.product.insurer
    insured = item.insured
    holder = request.holder
    local_now = timezone.localtime(now)
    effective_at = timezone.localtime(item.effective_at)
    term = rules.choose_term(version.term_options or [], item.term)
    birth = insured.birth_date if insured is not None else holder.birth_date
    expires_at = rules.contract_end(term, effective_at, birth)
    coverages = _coverages(item)
    death_benefit = rules.death_benefit((c.code, c.name, amount) for c, amount in coverages)
    cooling_off_until = rules.cooling_off_until(local_now.date(), version.cooling_off_days)
    documents = version_documents(version)
    number = numbers.take()
    premium_years = rules.premium_years(term, effective_at, expires_at, _pay_years(item))
    schedule = schedule_mod.build_schedule(
        number=number,
        request=request,
        item=item,
        term=term,
        premium_years=premium_years,
        year_premiums=_year_premiums(item, premium_years, effective_at.date()),
        issued_at=local_now,
        effective_at=effective_at,
        expires_at=expires_at,
        cooling_off_until=cooling_off_until,
        coverages=coverages,
        death_benefit=death_benefit,
        documents=documents,
    )
    return Policy(
        number=number,
        insurer=insurer,
        application_id=request.application_id,
        application_number=request.application_number,
        application_public_id=request.application_public_id,
        item_id=item.item_id,
        renewed_from=renewed_from,
        seller_id=renewed_from.seller_id if renewed_from is not None else request.seller_id,
        product_version=version,
        plan=item.plan,
        quote_id=item.quote_id,
        customer_id=request.customer_id,
        channel=request.channel,
        status=PolicyStatus.PENDING_START if effective_at > now else PolicyStatus.IN_FORCE,
        holder_name=holder.name,
        holder_id_hash=holder.id_hash,
        insured_name=insured.name if insured is not None else holder.name,
        insured_id_hash=insured.id_hash if insured is not None else holder.id_hash,
        beneficiary_mode=schedule["beneficiary_mode"],
        schedule=schedule_mod.dumps(schedule),
        premium=item.premium,
        sum_insured=item.sum_insured,
        death_benefit=death_benefit,
        effective_at=effective_at,
        expires_at=expires_at,
        issued_at=now,
        cooling_off_until=cooling_off_until,
        retention_until=rules.retention_until(effective_at, expires_at, birth),
    )


def _issue_item(
    request: IssuanceRequest,
    item: ItemToIssue,
    *,
    numbers: NumberBlock,
    now: datetime.datetime,
    renewed_from: Policy | None = None,
) -> tuple[Policy, InsurerDelivery]:
    version = item.product_version
    insurer = version.product.insurer
    policy = policy_row(request, item, numbers=numbers, now=now, renewed_from=renewed_from)
    policy.save(force_insert=True)
    number = policy.number
    effective_at, expires_at = policy.effective_at, policy.expires_at
    death_benefit, cooling_off_until = policy.death_benefit, policy.cooling_off_until
    frozen = schedule_mod.loads(policy.schedule)
    _start_premium_schedule(
        policy,
        item,
        payment_ref=request.payment_ref,
        paid_at=request.paid_at or now,
        # the premium term and the years' premiums the schedule froze (computed once, by `policy_row`)
        premium_years=schedule_mod.premium_years(frozen),
        year_premiums=schedule_mod.year_premiums(frozen),
    )
    delivery = InsurerDelivery.objects.create(
        policy=policy, connector=connector_for(insurer.code), next_attempt_at=now
    )
    audit.record(
        "policy.issued",
        OBJ_TYPE,
        number,
        actor=SYSTEM,
        after={
            "number": number,
            "public_id": policy.public_id,
            "application": request.application_number,
            "renewed_from": request.renewed_from_number,
            "item": item.position,
            "insurer": insurer.code,
            "product": version.product.code,
            "product_version": version.number,
            "plan": item.plan.code,
            "channel": request.channel,
            "status": policy.status,
            "premium": policy.premium,
            "sum_insured": policy.sum_insured,
            "death_benefit": death_benefit,
            "effective_at": effective_at,
            "expires_at": expires_at,
            "cooling_off_until": cooling_off_until,
            "retention_until": policy.retention_until,
            "schedule_sha256": hashlib.sha256(policy.schedule.encode()).hexdigest(),
        },
    )
    return policy, delivery


def grace_days_of(version: ProductVersion) -> int | None:
    """The grace period (宽限期, days) the version's servicing document states; None when it
    states none, and billing's default for the product line applies (60 days for long-term life
    and health, 30 otherwise — what the catalog's defaults describe)."""
    document = version.servicing or {}
    if "grace_days" not in document:
        return None
    return servicing_rules(document).grace_days


def _pay_years(item: ItemToIssue) -> int | None:
    """The premium term the quote chose, for a product that prices one (`pay_years`, 交费期间);
    read only for such a product (one query), None otherwise."""
    inputs = (item.product_version.pricing or {}).get("inputs") or {}
    if "pay_years" not in inputs or item.quote_id is None:
        return None
    chosen = Quote.objects.filter(id=item.quote_id).values_list("inputs", flat=True).first() or {}
    value = chosen.get("pay_years", inputs["pay_years"].get("default"))
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _year_premiums(item: ItemToIssue, premium_years: int, start: datetime.date) -> list[Decimal]:
    """The premium of each policy year of a premium that steps up by year (the product version's
    `pricing.premium_steps`): the rating engine's price of the quote at the insured's age in each
    year, with the underwriting loading the first year carries; [] for a level premium (no read
    for one: the compiled spec is cached)."""
    if premium_years <= 1 or item.payment_mode == "single" or item.quote_id is None:
        return []
    if not rating.has_stepped_premiums(item.product_version.pk):
        return []
    quote = Quote.objects.get(pk=item.quote_id)
    rated = rating.year_premiums(quote, years=premium_years, start=start)
    loading = Decimal(str(item.loading_percent or 0))
    return [item.premium] + [to_fen(p * (1 + loading / 100)) for p in rated[1:]]


def _start_premium_schedule(
    policy: Policy,
    item: ItemToIssue,
    *,
    payment_ref: str,
    paid_at: datetime.datetime,
    premium_years: int = 1,
    year_premiums: Sequence[Decimal] = (),
) -> None:
    """A policy paid in instalments, or annually over several years (`premium_years`, 缴费期间,
    with `year_premiums` when the premium steps up by year), gets its billing schedule (the
    first instalment is the checkout's payment; the later years are planned by billing's
    roll-forward); a premium paid whole at checkout needs none."""
    mode = item.payment_mode
    if billing_rules.instalment_count(mode) == 1 and (mode == "single" or premium_years <= 1):
        return
    billing.create_schedule(
        reference_kind=OBJ_TYPE,
        reference_id=policy.number,
        customer_id=policy.customer_id,
        mode=mode,
        annual_premium=policy.premium,
        start=timezone.localtime(policy.effective_at).date(),
        first_payment_ref=payment_ref or policy.number,
        paid_at=paid_at,
        line=policy.product_version.product.line,
        grace_days=grace_days_of(policy.product_version),
        premium_years=premium_years if mode != "single" else 1,
        year_premiums=year_premiums if mode != "single" else (),
    )


# --- billing → lifecycle -------------------------------------------------------------------------
#
# Billing announces what happens to a policy's premium schedule under the kind "policy" (its
# reference id is the policy number); each listener runs in billing's transaction, locks the
# policy and moves it through `lifecycle.transition`. An event that does not apply to the
# policy's status (a second overdue instalment while already in grace, a paid instalment of a
# policy in force) changes nothing, so a re-run of billing's day moves nothing twice.
#
#   instalment_overdue   in_force | reinstated → in_grace      (instalment_overdue)
#   instalment_paid      in_grace → in_force, once nothing else is overdue (overdue_paid) — also
#                        for a policy reinstated before: the history keeps the reinstatement
#   schedule_lapsed      in_grace → lapsed                     (grace_over)
#   schedule_reinstated  lapsed → reinstated                   (reinstated)

BILLING_ACTOR = "billing"


def _locked_by_number(number: str) -> Policy | None:
    return Policy.objects.select_for_update().filter(number=number).first()


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def on_instalment_overdue(event: InstalmentEvent) -> None:
    """An instalment is unpaid after its due date: the policy is in its grace period from the
    day after the due date."""
    on_instalments_overdue([event])


def on_instalments_overdue(events: Sequence[InstalmentEvent]) -> None:
    """`on_instalment_overdue` for a batch of billing's overdue run, with the outcome of one call
    per event in their order: the batch's policies are locked in one read (in primary-key
    order), and those in force or reinstated move to grace together (`lifecycle.transition_many`),
    each from the day after the due date of its first overdue instalment in the batch; a later
    event of the same policy, or one of a policy not in force, changes nothing."""
    first: dict[str, InstalmentEvent] = {}
    for event in events:
        first.setdefault(event.reference_id, event)
    if not first:
        return
    locked = {
        p.number: p for p in Policy.objects.select_for_update().filter(number__in=list(first)).order_by("pk")
    }
    moving = [
        (locked[number], event)
        for number, event in first.items()
        if number in locked and locked[number].status in (PolicyStatus.IN_FORCE, PolicyStatus.REINSTATED)
    ]
    lifecycle.transition_many(
        [(policy, _day_start(event.due_on + datetime.timedelta(days=1))) for policy, event in moving],
        PolicyStatus.IN_GRACE,
        reason=Reason.INSTALMENT_OVERDUE,
        actor=BILLING_ACTOR,
        details=[{"instalment": e.number, "due_on": e.due_on, "amount": e.amount} for _, e in moving],
    )


def on_instalment_paid(event: InstalmentEvent) -> None:
    """An instalment is paid: a policy in grace with no other instalment overdue is in force."""
    policy = _locked_by_number(event.reference_id)
    if policy is None or policy.status != PolicyStatus.IN_GRACE:
        return
    today = timezone.localdate()
    still_overdue = Instalment.objects.filter(
        schedule__public_id=event.schedule, status__in=UNPAID_STATUSES, due_on__lt=today
    ).exists()
    if still_overdue:
        return
    lifecycle.transition(
        policy,
        PolicyStatus.IN_FORCE,
        reason=Reason.OVERDUE_PAID,
        actor=BILLING_ACTOR,
        detail={"instalment": event.number, "amount": event.amount},
    )


def on_schedule_lapsed(event: ScheduleEvent) -> None:
    """The grace period is over with premiums unpaid: the policy lapses (效力中止) on the day
    billing lapsed its schedule. A policy billing never reported overdue passes through its
    grace period first, so the history says why."""
    policy = _locked_by_number(event.reference_id)
    if policy is None:
        return
    at = _day_start(event.on)
    if policy.status in (PolicyStatus.IN_FORCE, PolicyStatus.REINSTATED):
        lifecycle.transition(
            policy, PolicyStatus.IN_GRACE, reason=Reason.INSTALMENT_OVERDUE, actor=BILLING_ACTOR, at=at
        )
    if policy.status != PolicyStatus.IN_GRACE:
        return
    lifecycle.transition(
        policy,
        PolicyStatus.LAPSED,
        reason=Reason.GRACE_OVER,
        actor=BILLING_ACTOR,
        at=at,
        detail={"schedule": event.schedule, "lapsed_on": event.on},
    )


def on_schedule_reinstated(event: ScheduleEvent) -> None:
    """Everything owed is paid within the reinstatement period: the policy is reinstated."""
    policy = _locked_by_number(event.reference_id)
    if policy is None or policy.status != PolicyStatus.LAPSED:
        return
    lifecycle.transition(
        policy,
        PolicyStatus.REINSTATED,
        reason=Reason.REINSTATED,
        actor=BILLING_ACTOR,
        detail={"schedule": event.schedule, "reinstated_on": event.on},
    )
    # An approved referral has served its purpose (and a waiting one is moot).
    reinstatement.close_referrals(policy, actor=BILLING_ACTOR)


def _enqueue_after_commit(issued: list[tuple[int, int]], then: Sequence[Call] = ()) -> None:
    """After the commit, each issued policy's e-policy rendering and insurer delivery (policy and
    delivery ids), then the jobs the listeners of `policies_issued` asked for (`then`): one
    insert for all of them on the database backend."""

    def enqueue() -> None:
        from huibao.policy.tasks import deliver_policy, render_epolicy_task

        calls: list[Call] = []
        for policy_id, delivery_id in issued:
            calls.append((render_epolicy_task, (policy_id,), {}))
            calls.append((deliver_policy, (delivery_id,), {}))
        calls.extend(then)
        enqueue_all(calls)

    transaction.on_commit(enqueue)


@dataclass(frozen=True, slots=True)
class IssuedPolicy:
    """One policy just issued, with what its request said of it: its parties (holder, insured)
    and its insured subject (a flight number, an order number…), so listeners need not decrypt
    the schedule again."""

    policy: Policy
    parties: tuple[PolicyParty, ...]
    subject: tuple[SubjectValue, ...]


@dataclass(frozen=True, slots=True)
class PoliciesIssued:
    """Policies issued in one transaction (an application's items, or one renewal), and the
    merchant reference of the payment that paid for them ("" when none: the finance ledger
    books that payment's premium against these policies)."""

    issued: tuple[IssuedPolicy, ...]
    payment_ref: str = ""


# Announced inside the issuing transaction, after the parties are written (the claim app indexes
# event-triggered products here: which flight or order a policy pays on). A listener answers the
# background jobs it wants once the issuance commits (finance: the booking of the premium and the
# commissions), or None; they are queued with the e-policy and the delivery, in one insert.
policies_issued: Hook[PoliciesIssued, Sequence[Call] | None] = Hook("policy.policies_issued")


def _announce_issued(event: PoliciesIssued) -> list[Call]:
    """Announces `event`; the jobs its listeners asked for, in their order."""
    return [call for answer in policies_issued.announce(event) if answer for call in answer]


def issue_policies(request: IssuanceRequest, *, now: datetime.datetime | None = None) -> list[Policy]:
    """Issues one policy per item of `request`; returns all the application's policies (item
    order). Items that already have a policy are skipped, so calling it again — or concurrently,
    under the application's lock the caller holds — issues nothing twice.

    Must run inside the caller's transaction (the one confirming the payment): no savepoint of its
    own, an error aborts it. The parties and beneficiaries of all the new policies are written
    with one insert per table."""
    now = now or timezone.now()
    with transaction.atomic(savepoint=False):
        return _issue_policies(request, now)


def _issue_policies(request: IssuanceRequest, now: datetime.datetime) -> list[Policy]:
    if request.application_id is None:
        raise ValueError("issue_policies(): an application's request (a renewal: issue_renewal)")
    positions = {item.item_id: item.position for item in request.items}
    # The application's policies so far (each of one of its items): one read for the items
    # already done and for the answer — none when the caller knows there is none.
    policies = (
        [] if request.none_issued else list(Policy.objects.filter(application_id=request.application_id))
    )
    done = {p.item_id for p in policies}
    todo = [item for item in request.items if item.item_id not in done]
    if todo:
        year = timezone.localtime(now).year
        insurers = sorted({i.product_version.product.insurer for i in todo}, key=lambda ins: ins.pk)
        counts = Counter(i.product_version.product.insurer_id for i in todo)
        blocks = {insurer.pk: take_numbers(insurer, year, counts[insurer.pk]) for insurer in insurers}
        parties: list[PolicyParty] = []
        beneficiaries: list[PolicyBeneficiary] = []
        histories: list[PolicyStatusChange] = []
        issued: list[tuple[int, int]] = []
        announced: list[IssuedPolicy] = []
        for item in todo:
            policy, delivery = _issue_item(
                request, item, numbers=blocks[item.product_version.product.insurer_id], now=now
            )
            own = _parties(policy, request, item)
            parties.extend(own)
            announced.append(IssuedPolicy(policy=policy, parties=tuple(own), subject=tuple(item.subject)))
            beneficiaries.extend(_beneficiaries(policy, request, item))
            histories.append(lifecycle.issued_change(policy, at=now))
            issued.append((policy.pk, delivery.pk))
            policies.append(policy)
        PolicyParty.objects.bulk_create(parties)
        PolicyStatusChange.objects.bulk_create(histories)
        if beneficiaries:
            PolicyBeneficiary.objects.bulk_create(beneficiaries)
        then = _announce_issued(PoliciesIssued(issued=tuple(announced), payment_ref=request.payment_ref))
        _enqueue_after_commit(issued, then)
    policies.sort(key=lambda p: (positions.get(p.item_id, 0), p.pk))
    return policies


def issue_renewal(
    request: IssuanceRequest, *, renewed_from: Policy, now: datetime.datetime | None = None
) -> Policy:
    """Issues the renewal (续保) of `renewed_from` for its next term from `request` (one item, no
    application): a new number, the parties and beneficiaries of the request (the expiring
    policy's, copied by the caller), its own schedule, history, insurer delivery and e-policy,
    as `issue_policies` issues. The caller holds the row lock of `renewed_from` in its
    transaction; a policy renewed already returns its renewal (the one-to-one
    `Policy.renewed_from` is the last guard)."""
    now = now or timezone.now()
    if len(request.items) != 1 or request.application_id is not None:
        raise ValueError("issue_renewal(): one item and no application")
    with transaction.atomic(savepoint=False):
        existing = Policy.objects.filter(renewed_from=renewed_from).first()
        if existing is not None:
            return existing
        item = request.items[0]
        insurer = item.product_version.product.insurer
        numbers = take_numbers(insurer, timezone.localtime(now).year, 1)
        policy, delivery = _issue_item(request, item, numbers=numbers, now=now, renewed_from=renewed_from)
        own = _parties(policy, request, item)
        PolicyParty.objects.bulk_create(own)
        beneficiaries = _beneficiaries(policy, request, item)
        if beneficiaries:
            PolicyBeneficiary.objects.bulk_create(beneficiaries)
        lifecycle.issued_change(policy, at=now).save(force_insert=True)
        then = _announce_issued(
            PoliciesIssued(
                issued=(IssuedPolicy(policy=policy, parties=tuple(own), subject=tuple(item.subject)),),
                payment_ref=request.payment_ref,
            )
        )
        _enqueue_after_commit([(policy.pk, delivery.pk)], then)
    return policy


# --- recovery ----------------------------------------------------------------------------------

RECOVERY_BATCH = 500


@dataclass(frozen=True, slots=True)
class IssuanceRecovery:
    """A recovery run (`recover_issuance`): each listener issues what was paid but not issued
    and answers the numbers of what it issued."""

    now: datetime.datetime


issuance_recovery: Hook[IssuanceRecovery, list[str]] = Hook("policy.issuance_recovery")


def missing_epolicies(limit: int = RECOVERY_BATCH) -> list[int]:
    """Policies whose e-policy was never rendered; not those sold inside a partner's checkout
    (`bulk.issue_bulk`: no application, no renewal, the partner channel), which the channel
    documents at its checkout and the platform renders on request only."""
    return list(
        Policy.objects.filter(epolicy__isnull=True)
        .exclude(channel=Channel.PARTNER, application__isnull=True, renewed_from__isnull=True)
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )


def recover_issuance(now: datetime.datetime | None = None) -> dict[str, Any]:
    """Finishes whatever a crash or a lost task left undone, idempotently:

    (a) issues paid-but-unissued applications (the listeners of `issuance_recovery`: the
    application app registers its recovery there), (b) renders every missing e-policy (up to
    `RECOVERY_BATCH` per run), (c)
    re-enqueues the insurer deliveries that are pending, failed or unacknowledged and due.
    Each part runs on its own, so one failing does not stop the others."""
    from huibao.policy import delivery, documents
    from huibao.policy.tasks import deliver_policy

    now = now or timezone.now()
    result: dict[str, Any] = {"issued": [], "epolicies_rendered": 0, "deliveries_enqueued": 0, "errors": []}
    try:
        for issued in issuance_recovery.announce(IssuanceRecovery(now=now)):
            result["issued"].extend(issued)
    except Exception as exc:
        logger.exception("recovery of paid applications failed")
        result["errors"].append(f"issue: {exc}")
    for policy_id in missing_epolicies():
        try:
            documents.render_epolicy(Policy.objects.get(pk=policy_id))
            result["epolicies_rendered"] += 1
        except Exception as exc:
            logger.exception("rendering the e-policy of policy %s failed", policy_id)
            result["errors"].append(f"epolicy {policy_id}: {exc}")
    for delivery_id in delivery.due_deliveries(now):
        deliver_policy.enqueue(delivery_id)
        result["deliveries_enqueued"] += 1
    return result


# --- statuses ----------------------------------------------------------------------------------


# --- premium reminders ---------------------------------------------------------------------------

DUE_REMINDER_DAYS = 3
REMINDER_BATCH = 500


def send_due_reminders(
    run_date: datetime.date,
    *,
    cursor: int = 0,
    batch: int = REMINDER_BATCH,
    save_cursor: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """The daily reminder (run for the business date `run_date`, a past one for catch-up): each
    unpaid instalment of an active policy schedule due `DUE_REMINDER_DAYS` days after it, to
    the policy's customer. Idempotent (one dedup key per instalment: a second run sends nothing);
    resumable: instalments by id after `cursor`, `batch` per transaction, `save_cursor(last id)`
    called inside each batch's transaction; answers the counts and the last id done."""
    from huibao.billing.states import ScheduleStatus
    from huibao.policy.notices import send_due_reminders as remind

    due_on = run_date + datetime.timedelta(days=DUE_REMINDER_DAYS)
    rows = (
        Instalment.objects.filter(
            status__in=UNPAID_STATUSES,
            due_on=due_on,
            schedule__reference_kind=OBJ_TYPE,
            schedule__status=ScheduleStatus.ACTIVE,
            pk__gt=cursor,
        )
        .select_related("schedule")
        .order_by("pk")
    )
    counts = {"reminded": 0, "cursor": cursor}
    while True:
        chunk = list(rows.filter(pk__gt=counts["cursor"])[:batch])
        if not chunk:
            return counts
        policies = {
            p.number: p
            for p in Policy.objects.select_related("customer", "product_version__product").filter(
                number__in=[i.schedule.reference_id for i in chunk], status__in=COVERED_STATUSES
            )
        }
        with transaction.atomic():
            counts["reminded"] += remind(
                [(policies[i.schedule.reference_id], i) for i in chunk if i.schedule.reference_id in policies]
            )
            if save_cursor is not None:
                save_cursor(chunk[-1].pk)
        counts["cursor"] = chunk[-1].pk


# Statuses that end when the policy's term does (a lapsed one too: nothing is left to reinstate).
ENDING_STATUSES = (
    PolicyStatus.IN_FORCE,
    PolicyStatus.IN_GRACE,
    PolicyStatus.REINSTATED,
    PolicyStatus.LAPSED,
)


STATUS_BATCH = 500

# The two moves of the sweep, in order: (phase, status filter, time field, target, reason).
_STATUS_PHASES: tuple[tuple[str, tuple[str, ...], str, str, str], ...] = (
    ("start", (PolicyStatus.PENDING_START,), "effective_at", PolicyStatus.IN_FORCE, Reason.START),
    ("expiry", ENDING_STATUSES, "expires_at", PolicyStatus.EXPIRED, Reason.EXPIRY),
)


def _status_candidates(phase: int, cutoff: datetime.datetime) -> Any:
    _, statuses, field, _, _ = _STATUS_PHASES[phase]
    return Policy.objects.filter(status__in=statuses, **{f"{field}__lte": cutoff})


def count_policy_status_moves(cutoff: datetime.datetime) -> int:
    """How many policies the sweep would move at `cutoff` (one count per move)."""
    return sum(_status_candidates(i, cutoff).count() for i in range(len(_STATUS_PHASES)))


def update_policy_statuses(
    now: datetime.datetime | None = None,
    *,
    cursor: dict[str, Any] | None = None,
    batch: int = STATUS_BATCH,
    checkpoint: Callable[[dict[str, Any]], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> dict[str, int]:
    """Sweep: policies whose start has come (`effective_at` ≤ `now`) are in force, those past
    their end (`expires_at` ≤ `now`) expired — in force, in grace, reinstated or lapsed; each
    change takes effect at the policy's own start or end.

    Set-based and batched: each batch is the next `batch` candidates by primary key (one
    query: only the policies that change are read), locked together and moved in one
    transaction through `lifecycle.transition`. `cursor` (a dict: phase, last primary key and
    the counts so far) resumes a sweep that stopped; `checkpoint(cursor)` is called inside each
    batch's transaction, so what a daily job saves commits with the batch; `stop()` is checked
    between batches. Idempotent: each policy is re-read under its lock and moved only if it
    still should be."""
    now = now or timezone.now()
    state = {"phase": 0, "after": 0, "in_force": 0, "expired": 0, **(cursor or {})}
    counted = {"start": "in_force", "expiry": "expired"}
    while state["phase"] < len(_STATUS_PHASES):
        name, statuses, field, target, reason = _STATUS_PHASES[state["phase"]]
        ids = list(
            _status_candidates(state["phase"], now)
            .filter(pk__gt=state["after"])
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            state = {**state, "phase": state["phase"] + 1, "after": 0}
            continue
        with transaction.atomic(), audit.batched(), notification_batched():
            locked = list(
                Policy.objects.select_for_update(of=("self",))
                .select_related("customer", "product_version__product")
                .filter(pk__in=ids)
                .order_by("pk")
            )
            moves = [
                (policy, at)
                for policy in locked
                if policy.status in statuses and (at := getattr(policy, field)) is not None and at <= now
            ]
            # The status notices' listener takes the batch's policies as read here.
            with known_policies(p for p, _ in moves):
                lifecycle.transition_many(moves, target, reason=reason, actor=SYSTEM)
            moved = len(moves)
            state = {**state, "after": ids[-1], counted[name]: state[counted[name]] + moved}
            if checkpoint is not None:
                checkpoint(state)
        if stop is not None and stop():
            break
    return {"in_force": state["in_force"], "expired": state["expired"]}


# --- verification (public) -----------------------------------------------------------------------


def policy_by_code(code: str) -> Policy | None:
    """The policy a verification code belongs to, or None (not a genuine policy)."""
    code = (code or "").strip()
    if not code or len(code) > Policy._meta.get_field("verification_code").max_length:  # type: ignore[operator]
        return None
    return (
        Policy.objects.select_related("insurer", "product_version__product", "plan")
        .filter(verification_code=code)
        .first()
    )


def policy_by_number_and_code(number: str, code: str) -> Policy | None:
    """Both must match; a wrong code says no more than an unknown number."""
    policy = policy_by_code(code)
    if policy is None or policy.number != (number or "").strip().upper():
        return None
    return policy


@dataclass(frozen=True, slots=True)
class PdfCheck:
    """What the verification page says of an uploaded file, one fact per line, each true on its
    own: who signed (`signature_trusted`), whether what was signed is unchanged
    (`signature_intact`), whether anything was added after signing (`covers_whole_file`,
    `updated_after_signing`), and which document the platform issued it is, if any: the
    e-policy of `policy` (`document_kind` "epolicy") or the 批单 `endorsement_number` of
    `policy` ("endorsement")."""

    signature_valid: bool  # intact, platform-signed, covering the whole file
    signature_intact: bool  # the signed bytes are unchanged
    signature_trusted: bool  # signed by a certificate of the platform CA
    covers_whole_file: bool  # nothing follows the signed bytes
    updated_after_signing: bool  # incremental updates follow the signed revision
    signer: str
    problems: tuple[str, ...]
    sha256: str
    policy: Policy | None  # the policy of the issued document with exactly these bytes, if any
    document_kind: str = ""  # esign.SignedDocumentKind of that document: epolicy, endorsement
    endorsement_number: str = ""  # the 批单号 when it is an endorsement


MAX_UPLOAD_BYTES = 5 * 1024 * 1024


def check_pdf(data: bytes) -> PdfCheck:
    """Whether an uploaded PDF carries a valid platform signature, and whether it is, byte for
    byte, an e-policy or a 批单 the platform issued."""
    from huibao.esign.models import SignedDocumentKind
    from huibao.esign.pdf import Coverage, verify_pdf

    digest = hashlib.sha256(data).hexdigest()
    check = verify_pdf(data)
    policies = Policy.objects.select_related("insurer", "product_version__product", "plan")
    policy = policies.filter(epolicy_sha256=digest).first()
    kind, endorsement_number = (SignedDocumentKind.EPOLICY.value if policy else ""), ""
    if policy is None:
        endorsement = (
            Endorsement.objects.filter(document__kind=SignedDocumentKind.ENDORSEMENT, document__sha256=digest)
            .only("number", "policy_id")
            .first()
        )
        if endorsement is not None:
            policy = policies.get(pk=endorsement.policy_id)
            kind, endorsement_number = SignedDocumentKind.ENDORSEMENT.value, endorsement.number
    return PdfCheck(
        signature_valid=check.valid,
        signature_intact=check.intact,
        signature_trusted=check.trusted,
        covers_whole_file=check.coverage is Coverage.ENTIRE_FILE,
        updated_after_signing=check.updated_after_signing,
        signer=check.signer_cn,
        problems=check.problems,
        sha256=digest,
        policy=policy,
        document_kind=kind,
        endorsement_number=endorsement_number,
    )


# --- NPS -----------------------------------------------------------------------------------------


def rated_policies(application_public_id: uuid.UUID | str, user: Any) -> list[Policy]:
    """The customer's policies issued from one application (by its public id), item order: what
    the NPS of that application is about. Empty for anyone else, or before issuance."""
    if not getattr(user, "is_authenticated", False):
        return []
    try:
        reference = uuid.UUID(str(application_public_id))
    except ValueError:
        return []
    return list(
        Policy.objects.filter(application_public_id=reference, customer_id=user.pk)
        .select_related("product_version__product")
        .order_by("issued_at", "id")
    )


def record_nps(
    application_public_id: uuid.UUID | str,
    *,
    score: int,
    comment: str,
    user: Any,
    request: HttpRequest | None = None,
) -> NpsResponse:
    """The customer's rating (0–10 and a comment of at most 500 characters) of the application
    their policies were issued from, once. Raises NotFound (no policy of theirs from it: not
    theirs, or not issued), Conflict (already rated) or ValidationFailed (`score`, `comment`).

    Keyed by the application's reference its policies hold: the application is not read."""
    errors: list[FieldError] = []
    if isinstance(score, bool) or not isinstance(score, int) or not rules.NPS_MIN <= score <= rules.NPS_MAX:
        errors.append(FieldError("score", "out_of_range", "请选择0到10之间的评分"))
    comment = (comment or "").strip()
    if len(comment) > rules.NPS_COMMENT_MAX:
        errors.append(
            FieldError("comment", "too_long", f"评价内容最多{rules.NPS_COMMENT_MAX}字，当前{len(comment)}字")
        )
    elif (problem := text_problem(comment, max_length=rules.NPS_COMMENT_MAX, multiline=True)) is not None:
        errors.append(FieldError("comment", problem[0], "评价内容" + problem[1]))
    if errors:
        raise ValidationFailed("invalid rating", errors=errors)
    with transaction.atomic():
        policies = rated_policies(application_public_id, user)
        if not policies:
            raise NotFound("投保单不存在", code="application_not_found")
        # The first item's policy (the product rated), locked: two ratings of one application
        # are taken one after the other (the one-to-one on the application is the last guard).
        first = min(policies, key=lambda p: (p.issued_at, p.pk))
        if first.application_id is None:  # rated_policies answers an application's policies only
            raise NotFound("投保单不存在", code="application_not_found")
        Policy.objects.select_for_update().filter(pk=first.pk).values_list("pk", flat=True).first()
        if NpsResponse.objects.filter(application_id=first.application_id).exists():
            raise Conflict("您已评价过本次投保，感谢您的反馈", code="already_rated")
        product = first.product_version.product
        try:
            with transaction.atomic():
                response = NpsResponse.objects.create(
                    application_id=first.application_id,
                    application_number=first.application_number,
                    product=product,
                    channel=first.channel,
                    score=score,
                    comment=comment,
                )
        except IntegrityError:
            raise Conflict("您已评价过本次投保，感谢您的反馈", code="already_rated") from None
        audit.record(
            "policy.nps_recorded",
            "application",
            str(first.application_public_id),
            actor=user,
            request=request,
            after={
                "score": score,
                "category": rules.nps_category(score),
                "product": product.code,
                "channel": first.channel,
                "comment_length": len(comment),
            },
        )
    return response


def nps_for(application_id: int | None) -> NpsResponse | None:
    """The rating of the application its policies refer to (`Policy.application_id`), if any."""
    if application_id is None:
        return None
    return NpsResponse.objects.filter(application_id=application_id).first()
