"""Billing use-cases: schedules at issuance, mandates, collection, overdue, lapse, reinstatement.

Billing is an engine: a schedule belongs to an opaque reference (`reference_kind`,
`reference_id`), and what happens to it is announced on keyed hooks under that kind
(`instalment_paid["policy"]`…), whose listeners run in the announcing transaction. Charges are
payments of kind `COLLECTION_KIND` made through the payment port's stored authorisation
(`payment.services.charge_mandate`); their outcome arrives by the provider's signed notification
and reaches billing through the payment engine's `payment_paid` / `payment_failed` hooks.

Idempotency: one `Collection` per instalment and day (`rules.out_trade_no`, unique), at most one
pending per instalment (a partial unique constraint), taken under the instalment's row lock — a
retried, resumed or concurrent `collect_due` charges an instalment at most once a day and never
while a charge is outstanding. The daily sweeps (`run_daily`) may be run again for the same date,
or for a past one, and change nothing twice.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from huibao.billing import rules, selectors
from huibao.billing.errors import NoActiveMandate, NotPayable, NotReinstatable
from huibao.billing.models import Collection, Instalment, InstalmentChange, PaymentMandate, PremiumSchedule
from huibao.billing.states import (
    COLLECTION_TRANSITIONS,
    INSTALMENT_TRANSITIONS,
    MANDATE_TRANSITIONS,
    SCHEDULE_TRANSITIONS,
    UNPAID_STATUSES,
    CollectionStatus,
    InstalmentStatus,
    MandateStatus,
    ScheduleStatus,
)
from huibao.core import audit
from huibao.core.errors import FieldError
from huibao.core.hooks import KeyedHook
from huibao.core.masking import mask_name
from huibao.core.states import check_transition
from huibao.payment import services as payments
from huibao.payment import states as payment_states
from huibao.payment.models import Payment
from huibao.payment.provider import default_provider_name, get_mandate_provider, takes_mandate_batches

log = logging.getLogger(__name__)

# `checkpoint(last pk done, how many candidates that was)`: a sweep reports per item (1), a
# batched one per batch.
Checkpoint = Callable[..., None]
SWEEP_CHUNK = 1000
# Instalments charged together in one transaction by `collect_due` (their locks held meanwhile).
COLLECT_BATCH = 200
# Instalments marked overdue together in one transaction by `mark_overdue`.
OVERDUE_BATCH = 200

COLLECTION_KIND = "billing_instalment"
# A customer's own payment of instalments at the provider's hosted checkout (pay now, reinstate);
# the reference is `rules.checkout_reference(schedule, numbers)`.
CHECKOUT_KIND = rules.CHECKOUT_KIND
CHECKOUT_EXPIRES_IN = datetime.timedelta(minutes=30)
ACTOR = "billing"


@dataclass(frozen=True, slots=True)
class InstalmentEvent:
    reference_kind: str
    reference_id: str
    schedule: str  # public id
    number: int
    due_on: datetime.date
    amount: Decimal
    status: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ScheduleEvent:
    reference_kind: str
    reference_id: str
    schedule: str
    status: str
    on: datetime.date


# Keyed by the schedule's reference kind. Where a customer is to be told (due soon, charge
# failed, overdue, lapsed), the notification app listens here.
instalment_paid: KeyedHook[InstalmentEvent, None] = KeyedHook("billing.instalment_paid")
instalment_overdue: KeyedHook[InstalmentEvent, None] = KeyedHook("billing.instalment_overdue")
# The same marks once per batch of the overdue run (`mark_overdue`): the batch's events of one
# reference kind, in the instalments' order, after each was announced on `instalment_overdue`.
# A listener that locks what the events are about reads them all at once here.
instalments_overdue: KeyedHook[Sequence[InstalmentEvent], None] = KeyedHook("billing.instalments_overdue")
collection_failed: KeyedHook[InstalmentEvent, None] = KeyedHook("billing.collection_failed")
schedule_lapsed: KeyedHook[ScheduleEvent, None] = KeyedHook("billing.schedule_lapsed")
schedule_reinstated: KeyedHook[ScheduleEvent, None] = KeyedHook("billing.schedule_reinstated")


@dataclass(frozen=True, slots=True)
class DailyRun:
    day: datetime.date
    overdue: int
    lapsed: int
    charged: int
    planned: int = 0


@dataclass(frozen=True, slots=True)
class ReinstatementQuote:
    amount: Decimal
    numbers: tuple[int, ...]
    until: datetime.date


def _keyset(query: Any, after: int = 0, chunk: int = SWEEP_CHUNK) -> Iterator[int]:
    """The primary keys of `query` above `after`, in order, read `chunk` at a time (memory flat
    in the number of rows)."""
    while True:
        ids = list(query.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:chunk])
        if not ids:
            return
        yield from ids
        after = ids[-1]


def _keyset_chunks(query: Any, after: int = 0, size: int = SWEEP_CHUNK) -> Iterator[list[int]]:
    """The primary keys of `query` above `after`, in order, `size` at a time."""
    while True:
        ids = list(query.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return
        yield ids
        after = ids[-1]


def _keyset_chunks_of(
    query: Any, field: str, after: int = 0, size: int = SWEEP_CHUNK
) -> Iterator[list[tuple[int, Any]]]:
    """`_keyset_chunks` with one more column of each row: (pk, `field`) pairs, in order."""
    while True:
        rows = list(query.filter(pk__gt=after).order_by("pk").values_list("pk", field)[:size])
        if not rows:
            return
        yield rows
        after = rows[-1][0]


# --- state moves ---------------------------------------------------------------------------------


def _instalment_event(inst: Instalment, schedule: PremiumSchedule, reason: str = "") -> InstalmentEvent:
    return InstalmentEvent(
        reference_kind=schedule.reference_kind,
        reference_id=schedule.reference_id,
        schedule=str(schedule.public_id),
        number=inst.number,
        due_on=inst.due_on,
        amount=inst.amount,
        status=inst.status,
        reason=reason,
    )


def _schedule_event(schedule: PremiumSchedule, on: datetime.date) -> ScheduleEvent:
    return ScheduleEvent(
        reference_kind=schedule.reference_kind,
        reference_id=schedule.reference_id,
        schedule=str(schedule.public_id),
        status=schedule.status,
        on=on,
    )


def _move_instalment(inst: Instalment, target: str, **detail: Any) -> None:
    check_transition(INSTALMENT_TRANSITIONS, inst.status, target, what="instalment")
    before = inst.status
    inst.status = target
    inst.save(update_fields=["status", "paid_at", "payment_reference"])
    audit.record(
        f"billing.instalment_{target}",
        "instalment",
        str(inst.public_id),
        actor=ACTOR,
        before={"status": before},
        after={"status": target, "number": inst.number, "amount": inst.amount, **detail},
    )


def _move_schedule(schedule: PremiumSchedule, target: str, **detail: Any) -> None:
    check_transition(SCHEDULE_TRANSITIONS, schedule.status, target, what="premium schedule")
    before = schedule.status
    schedule.status = target
    schedule.save(update_fields=["status", "lapsed_on", "mandate", "updated_at"])
    audit.record(
        f"billing.schedule_{target}",
        "premium_schedule",
        str(schedule.public_id),
        actor=ACTOR,
        before={"status": before},
        after={"status": target, "reference": f"{schedule.reference_kind}:{schedule.reference_id}", **detail},
    )


def _move_collection(collection: Collection, target: str, *, reason: str = "") -> None:
    check_transition(COLLECTION_TRANSITIONS, collection.status, target, what="collection")
    before = collection.status
    collection.status = target
    collection.reason = reason[:64]
    collection.finished_at = timezone.now()
    collection.save(update_fields=["status", "reason", "finished_at"])
    audit.record(
        f"billing.collection_{target}",
        "collection",
        collection.out_trade_no,
        actor=ACTOR,
        before={"status": before},
        after={"status": target, "amount": collection.amount, "reason": reason},
    )


# --- mandates ------------------------------------------------------------------------------------


def sign_mandate(
    *,
    customer_id: int,
    payer_name: str,
    payer_id_number: str,
    account_number: str,
    provider: str | None = None,
) -> PaymentMandate:
    """Signs a stored payment authorisation (代扣协议) at the provider and keeps its agreement id
    and a masked account (the account number is not stored)."""
    gateway = get_mandate_provider(provider or default_provider_name())
    signed = gateway.create_mandate(
        payer_name=payer_name, payer_id_number=payer_id_number, account_number=account_number
    )
    with transaction.atomic():
        mandate = PaymentMandate.objects.create(
            customer_id=customer_id,
            provider=gateway.name,
            agreement_id=signed.agreement_id,
            masked_account=signed.masked_account,
            payer_name=payer_name.strip(),
            payer_id_number=payer_id_number,
            signed_at=timezone.now(),
        )
        audit.record(
            "billing.mandate_signed",
            "payment_mandate",
            str(mandate.public_id),
            actor=ACTOR,
            after={
                "provider": mandate.provider,
                "account": mandate.masked_account,
                "payer_name": mask_name(mandate.payer_name),
            },
        )
    return mandate


def revoke_mandate(mandate: PaymentMandate) -> PaymentMandate:
    with transaction.atomic():
        locked = PaymentMandate.objects.select_for_update().get(pk=mandate.pk)
        check_transition(MANDATE_TRANSITIONS, locked.status, MandateStatus.REVOKED, what="payment mandate")
        get_mandate_provider(locked.provider).revoke_mandate(locked.agreement_id)
        locked.status = MandateStatus.REVOKED
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["status", "revoked_at"])
        audit.record(
            "billing.mandate_revoked",
            "payment_mandate",
            str(locked.public_id),
            actor=ACTOR,
            before={"status": MandateStatus.ACTIVE},
            after={"status": MandateStatus.REVOKED},
        )
    return locked


def attach_mandate(schedule: PremiumSchedule, mandate: PaymentMandate) -> None:
    """Future instalments of `schedule` are charged through `mandate`."""
    with transaction.atomic():
        locked = PremiumSchedule.objects.select_for_update().get(pk=schedule.pk)
        locked.mandate = mandate
        locked.save(update_fields=["mandate", "updated_at"])
        audit.record(
            "billing.mandate_attached",
            "premium_schedule",
            str(locked.public_id),
            actor=ACTOR,
            after={"mandate": str(mandate.public_id), "account": mandate.masked_account},
        )
    schedule.mandate = mandate


# --- schedules -----------------------------------------------------------------------------------


def create_schedule(
    *,
    reference_kind: str,
    reference_id: str,
    customer_id: int | None,
    mode: str,
    annual_premium: Decimal,
    start: datetime.date,
    first_payment_ref: str,
    paid_at: datetime.datetime,
    line: str = "",
    mandate: PaymentMandate | None = None,
    grace_overrides: Mapping[str, int] | None = None,
    grace_days: int | None = None,
    premium_years: int = 1,
    year_premiums: Sequence[Decimal] = (),
) -> PremiumSchedule:
    """The premium schedule of a year starting on `start`; the first instalment is the one paid
    at checkout (`first_payment_ref`). Idempotent per reference. Runs in the caller's transaction.

    `premium_years`: the premium term (缴费期间) in policy years; the first year is planned now,
    each later one by `roll_forward` shortly before its anniversary (`rules.next_year_on`).

    `grace_days`: the grace period the reference's own terms state (the policy passes its
    product version's); None for the line's default (`rules.grace_days`).

    `year_premiums`: the premium of each policy year when it steps up by year (year 1 first,
    one per year of the term, the first `annual_premium`); empty for a level premium."""
    existing = PremiumSchedule.objects.filter(
        reference_kind=reference_kind, reference_id=str(reference_id)
    ).first()
    if existing is not None:
        return existing
    if year_premiums and (len(year_premiums) != premium_years or year_premiums[0] != annual_premium):
        raise rules.ScheduleError("a stepped premium names one premium per policy year, the first the annual")
    planned = rules.plan(annual_premium, mode, start)
    next_year = rules.next_year_on(start, 1, premium_years)
    schedule = PremiumSchedule.objects.create(
        reference_kind=reference_kind,
        reference_id=str(reference_id),
        customer_id=customer_id,
        mode=mode,
        line=line,
        total=sum((p.amount for p in planned), Decimal(0)),
        grace_days=grace_days if grace_days is not None else rules.grace_days(line, grace_overrides),
        mandate=mandate,
        status=ScheduleStatus.COMPLETED if len(planned) == 1 and next_year is None else ScheduleStatus.ACTIVE,
        premium_years=premium_years,
        start_on=start,
        annual_premium=annual_premium,
        year_premiums=[str(p) for p in year_premiums],
        next_year_on=next_year,
    )
    rows = [
        Instalment(
            schedule=schedule,
            number=p.number,
            due_on=p.due_on,
            amount=p.amount,
            status=InstalmentStatus.PAID if p.number == 1 else InstalmentStatus.DUE,
            paid_at=paid_at if p.number == 1 else None,
            payment_reference=first_payment_ref if p.number == 1 else "",
        )
        for p in planned
    ]
    Instalment.objects.bulk_create(rows)
    audit.record(
        "billing.schedule_created",
        "premium_schedule",
        str(schedule.public_id),
        actor=ACTOR,
        after={
            "reference": f"{reference_kind}:{reference_id}",
            "mode": mode,
            "total": schedule.total,
            "grace_days": schedule.grace_days,
            "premium_years": premium_years,
            "year_premiums": [str(p) for p in year_premiums],
            "instalments": [[p.number, p.due_on, p.amount] for p in planned],
            "first_payment": first_payment_ref,
        },
    )
    return schedule


# --- collection ----------------------------------------------------------------------------------


def _charge_locked(inst: Instalment, schedule: PremiumSchedule, today: datetime.date) -> bool:
    """Charges the locked unpaid instalment through the schedule's mandate, once a day at most."""
    return _charge_many([(inst, schedule)], today) == 1


def _charge_many(locked: Sequence[tuple[Instalment, PremiumSchedule]], today: datetime.date) -> int:
    """Charges each locked unpaid instalment through its schedule's active mandate, once a day at
    most and never while a charge of it is pending; returns how many charges were started.

    In a fixed number of statements for the batch, whatever its size: the attempts already made
    (one read), the new attempts (one insert: the unique `out_trade_no` and the one-pending
    constraint still guard them), the payments (`payments.charge_mandates`, one provider call per
    batch where the provider takes batches), the attempts linked to their payments (one update),
    and their audit entries (with the caller's `audit.batched()`)."""
    todo = [
        (inst, schedule)
        for inst, schedule in locked
        if schedule.mandate is not None and schedule.mandate.status == MandateStatus.ACTIVE
    ]
    if not todo:
        return 0
    numbers = {inst.pk: rules.out_trade_no(inst.pk, today) for inst, _ in todo}
    busy = set(
        Collection.objects.filter(instalment_id__in=list(numbers))
        .filter(Q(status=CollectionStatus.PENDING) | Q(out_trade_no__in=list(numbers.values())))
        .values_list("instalment_id", flat=True)
    )
    todo = [(inst, schedule) for inst, schedule in todo if inst.pk not in busy]
    if not todo:
        return 0
    collections = Collection.objects.bulk_create(
        [
            Collection(
                instalment=inst,
                mandate=schedule.mandate,
                out_trade_no=numbers[inst.pk],
                amount=inst.amount,
            )
            for inst, schedule in todo
        ]
    )
    by_provider: dict[str, list[int]] = {}
    for index, (_, schedule) in enumerate(todo):
        by_provider.setdefault(schedule.mandate.provider, []).append(index)  # type: ignore[union-attr]
    for provider, indexes in by_provider.items():
        charged = payments.charge_mandates(
            [
                payments.MandateCharge(
                    agreement_id=mandate.agreement_id,
                    amount=inst.amount,
                    out_trade_no=numbers[inst.pk],
                    payer_name=mandate.payer_name,
                    payer_id_number=mandate.payer_id_number,
                    reference_kind=COLLECTION_KIND,
                    reference_id=str(inst.public_id),
                )
                for inst, mandate in ((todo[i][0], todo[i][1].mandate) for i in indexes)
                if mandate is not None
            ],
            provider=provider,
        )
        for index, payment in zip(indexes, charged, strict=True):
            collections[index].payment_id = payment.pk
    Collection.objects.bulk_update(collections, ["payment_id"])
    for (inst, _), collection in zip(todo, collections, strict=True):
        audit.record(
            "billing.collection_started",
            "collection",
            collection.out_trade_no,
            actor=ACTOR,
            after={"instalment": str(inst.public_id), "number": inst.number, "amount": inst.amount},
        )
    return len(todo)


def collect_candidates(today: datetime.date) -> Any:
    """Unpaid instalments of active schedules with an active mandate, due by `today`."""
    return Instalment.objects.filter(
        status__in=UNPAID_STATUSES,
        due_on__lte=today,
        schedule__status=ScheduleStatus.ACTIVE,
        schedule__mandate__status=MandateStatus.ACTIVE,
    )


def collect_due(
    today: datetime.date,
    *,
    after: int = 0,
    checkpoint: Checkpoint | None = None,
    stop: Callable[[], bool] | None = None,
    batch: int | None = None,
) -> int:
    """Charges every unpaid instalment of an active schedule due by `today` through its mandate;
    returns how many charges were started. Idempotent and resumable (see the module doc; a
    schedule's instalments are charged in their order, which is their primary keys'): `batch`
    instalments (`COLLECT_BATCH`) are locked and charged together in one transaction, and
    `checkpoint(last pk, how many)` is called in it.

    Only where the mandate's provider takes a batch in one call (`BatchMandateProvider`): the
    instalments of a provider called once per charge are charged in batches of one, each in its
    own transaction before the batch's (so no batch's row locks are held across one network call
    per charge; a run stopped between them charges none twice, `_charge_many` skipping a charge
    already started)."""
    batch = batch or COLLECT_BATCH
    charged = 0
    batches: dict[str, bool] = {}
    candidates = collect_candidates(today)
    for rows in _keyset_chunks_of(candidates, "schedule__mandate__provider", after, batch):
        ids = [pk for pk, _ in rows]
        singles = [
            pk for pk, provider in rows if not batches.setdefault(provider, takes_mandate_batches(provider))
        ]
        for pk in singles:
            with transaction.atomic(), audit.batched():
                charged += _charge_many(_locked_for_charge([pk]), today)
        alone = set(singles)
        together = [pk for pk in ids if pk not in alone]
        with transaction.atomic(), audit.batched():
            charged += _charge_many(_locked_for_charge(together), today)
            if checkpoint is not None:
                checkpoint(ids[-1], len(ids))
        if stop is not None and stop():
            break
    return charged


def _locked_for_charge(ids: Sequence[int]) -> list[tuple[Instalment, PremiumSchedule]]:
    """The instalments `ids` locked, in order, with their schedules and mandates, those still
    unpaid of an active schedule (`collect_due`)."""
    if not ids:
        return []
    return [
        (inst, inst.schedule)
        for inst in Instalment.objects.select_for_update(of=("self",))
        .select_related("schedule__mandate")
        .filter(pk__in=ids)
        .order_by("pk")
        if inst.status in UNPAID_STATUSES and inst.schedule.status == ScheduleStatus.ACTIVE
    ]


def _collection_of(payment: Payment) -> Collection | None:
    return (
        Collection.objects.select_for_update(of=("self",))
        .select_related("instalment__schedule")
        .filter(out_trade_no=payment.merchant_ref)
        .first()
    )


def on_collection_paid(payment: Payment) -> None:
    """Paid hook (inside the transaction confirming the charge): the instalment is paid; a
    lapsed schedule with nothing left owed is reinstated; a fully paid one completed."""
    collection = _collection_of(payment)
    if collection is None or collection.status != CollectionStatus.PENDING:
        return
    _move_collection(collection, CollectionStatus.SUCCEEDED)
    inst = Instalment.objects.select_for_update().get(pk=collection.instalment_id)
    schedule = PremiumSchedule.objects.select_for_update().get(pk=inst.schedule_id)
    if inst.status not in UNPAID_STATUSES:
        # Paid meanwhile by other means: the money goes back.
        transaction.on_commit(lambda: payments.refund(payment, payment.amount, "分期保费已缴，重复扣款退回"))
        return
    _settle(inst, schedule, payment)
    _after_paid(schedule, timezone.localdate(inst.paid_at))


def _settle(inst: Instalment, schedule: PremiumSchedule, payment: Payment) -> None:
    """The locked unpaid instalment is paid by `payment`, and announced."""
    inst.paid_at = payment.paid_at or timezone.now()
    inst.payment_reference = payment.merchant_ref
    _move_instalment(inst, InstalmentStatus.PAID, payment=payment.merchant_ref)
    instalment_paid.announce(schedule.reference_kind, _instalment_event(inst, schedule))


def _after_paid(schedule: PremiumSchedule, today: datetime.date) -> None:
    """A lapsed schedule with nothing left owed is reinstated; a fully paid one completed."""
    unpaid = schedule.instalments.filter(status__in=UNPAID_STATUSES)
    if schedule.status == ScheduleStatus.LAPSED and not unpaid.filter(due_on__lte=today).exists():
        schedule.lapsed_on = None
        _move_schedule(schedule, ScheduleStatus.ACTIVE, reinstated_on=today)
        schedule_reinstated.announce(schedule.reference_kind, _schedule_event(schedule, today))
    if schedule.status == ScheduleStatus.ACTIVE and schedule.next_year_on is None and not unpaid.exists():
        _move_schedule(schedule, ScheduleStatus.COMPLETED)


def on_collection_failed(payment: Payment) -> None:
    """Failed hook: the attempt is closed with the provider's reason; the instalment stays unpaid
    and is tried again on a later day while its grace lasts."""
    collection = _collection_of(payment)
    if collection is None or collection.status != CollectionStatus.PENDING:
        return
    _move_collection(collection, CollectionStatus.FAILED, reason=payment.failure_reason)
    inst = collection.instalment
    collection_failed.announce(
        inst.schedule.reference_kind, _instalment_event(inst, inst.schedule, payment.failure_reason)
    )


# --- overdue, lapse ------------------------------------------------------------------------------


def overdue_candidates(today: datetime.date) -> Any:
    return Instalment.objects.filter(
        status=InstalmentStatus.DUE, due_on__lt=today, schedule__status=ScheduleStatus.ACTIVE
    )


def mark_overdue(
    today: datetime.date,
    *,
    after: int = 0,
    checkpoint: Checkpoint | None = None,
    stop: Callable[[], bool] | None = None,
    batch: int | None = None,
) -> int:
    """Due instalments of active schedules whose due date has passed unpaid become overdue.
    Resumable: `after` is the last instalment done; `batch` instalments (`OVERDUE_BATCH`) are
    locked and moved together in one transaction — one UPDATE, their audit entries in one
    insert — and each is announced (`instalment_overdue`) in it, then the batch once per
    reference kind (`instalments_overdue`); `checkpoint(last pk, how many)` is called in each
    batch's transaction."""
    moved = 0
    for ids in _keyset_chunks(overdue_candidates(today), after, batch or OVERDUE_BATCH):
        with transaction.atomic(), audit.batched():
            due = [
                inst
                for inst in Instalment.objects.select_for_update(of=("self",))
                .select_related("schedule")
                .filter(pk__in=ids)
                .order_by("pk")
                if inst.status == InstalmentStatus.DUE and rules.is_overdue(inst.due_on, today)
            ]
            for inst in due:
                check_transition(
                    INSTALMENT_TRANSITIONS, inst.status, InstalmentStatus.OVERDUE, what="instalment"
                )
                inst.status = InstalmentStatus.OVERDUE
                audit.record(
                    f"billing.instalment_{InstalmentStatus.OVERDUE}",
                    "instalment",
                    str(inst.public_id),
                    actor=ACTOR,
                    before={"status": InstalmentStatus.DUE},
                    after={"status": InstalmentStatus.OVERDUE, "number": inst.number, "amount": inst.amount},
                )
            if due:
                Instalment.objects.filter(pk__in=[i.pk for i in due]).update(status=InstalmentStatus.OVERDUE)
            by_kind: dict[str, list[InstalmentEvent]] = {}
            for inst in due:
                event = _instalment_event(inst, inst.schedule)
                instalment_overdue.announce(inst.schedule.reference_kind, event)
                by_kind.setdefault(inst.schedule.reference_kind, []).append(event)
            for kind, events in by_kind.items():
                instalments_overdue.announce(kind, events)
            moved += len(due)
            if checkpoint is not None:
                checkpoint(ids[-1], len(ids))
        if stop is not None and stop():
            break
    return moved


def lapse_candidates(today: datetime.date) -> Any:
    """Active schedules with an instalment unpaid for longer than the shortest grace of any
    active schedule (a product may state its own, shorter than the line's default); each is
    checked against its own grace under its lock."""
    active = PremiumSchedule.objects.filter(status=ScheduleStatus.ACTIVE)
    shortest = active.aggregate(m=Min("grace_days"))["m"]
    if shortest is None:
        return active.none()
    earliest = today - datetime.timedelta(days=shortest)
    return active.filter(
        pk__in=Instalment.objects.filter(status__in=UNPAID_STATUSES, due_on__lt=earliest).values(
            "schedule_id"
        ),
    )


def lapse_after_grace(
    today: datetime.date,
    *,
    after: int = 0,
    checkpoint: Checkpoint | None = None,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Active schedules with an instalment unpaid past its grace period lapse (on `today`).
    Resumable as `mark_overdue` (by schedule)."""
    lapsed = 0
    for sid in _keyset(lapse_candidates(today), after):
        with transaction.atomic(), audit.batched():
            schedule = PremiumSchedule.objects.select_for_update().get(pk=sid)
            oldest = (
                schedule.instalments.filter(status__in=UNPAID_STATUSES).order_by("due_on").first()
                if schedule.status == ScheduleStatus.ACTIVE
                else None
            )
            if oldest is not None and rules.lapses(oldest.due_on, today, schedule.grace_days):
                schedule.lapsed_on = today
                _move_schedule(schedule, ScheduleStatus.LAPSED, lapsed_on=today, unpaid_since=oldest.due_on)
                schedule_lapsed.announce(schedule.reference_kind, _schedule_event(schedule, today))
                lapsed += 1
            if checkpoint is not None:
                checkpoint(sid)
        if stop is not None and stop():
            break
    return lapsed


def run_daily(today: datetime.date) -> DailyRun:
    """The day's billing work, in order: the next policy years planned, overdue marks, lapses,
    then the charges due."""
    planned = roll_forward(today)
    overdue = mark_overdue(today)
    lapsed = lapse_after_grace(today)
    charged = collect_due(today)
    return DailyRun(day=today, overdue=overdue, lapsed=lapsed, charged=charged, planned=planned)


# --- policy years after the first ----------------------------------------------------------------


def roll_forward_candidates(today: datetime.date) -> Any:
    """Active schedules whose next policy year is to be planned by `today` (the partial index
    `billing_schedule_roll_forward` holds only active schedules with a year still to plan)."""
    return PremiumSchedule.objects.filter(status=ScheduleStatus.ACTIVE, next_year_on__lte=today)


def roll_forward(
    today: datetime.date,
    *,
    after: int = 0,
    checkpoint: Checkpoint | None = None,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Each candidate schedule gets its next policy year's instalments (the same amounts, due
    from the anniversary on), one year per schedule and run, under the schedule's lock; a
    schedule lapsed or cancelled meanwhile gets none, and a repeated or resumed run plans no
    year twice (the lock, `next_year_on` moved on, the unique instalment numbers). Resumable
    like the other sweeps (`after` the last schedule done, `checkpoint(pk)` in its transaction)."""
    planned = 0
    for pk in _keyset(roll_forward_candidates(today), after):
        with transaction.atomic(), audit.batched():
            schedule = PremiumSchedule.objects.select_for_update().get(pk=pk)
            if _plan_next_year(schedule, today):
                planned += 1
            if checkpoint is not None:
                checkpoint(pk)
        if stop is not None and stop():
            break
    return planned


def _plan_next_year(schedule: PremiumSchedule, today: datetime.date) -> bool:
    """The locked schedule's next year, when it is still due to be planned."""
    if (
        schedule.status != ScheduleStatus.ACTIVE
        or schedule.next_year_on is None
        or schedule.next_year_on > today
    ):
        return False
    start = schedule.start_on or timezone.localdate(schedule.created_at)
    year = schedule.policy_year + 1
    # the year's own premium when it steps up by year, else the level one
    annual = rules.premium_of_year(year, schedule.annual_premium or schedule.total, schedule.year_premiums)
    planned = rules.plan_year(annual, schedule.mode, start, year)
    Instalment.objects.bulk_create(
        [Instalment(schedule=schedule, number=p.number, due_on=p.due_on, amount=p.amount) for p in planned]
    )
    schedule.policy_year = year
    schedule.next_year_on = rules.next_year_on(start, year, schedule.premium_years)
    schedule.total += sum((p.amount for p in planned), Decimal(0))
    schedule.annual_premium = annual
    schedule.save(update_fields=["policy_year", "next_year_on", "total", "annual_premium", "updated_at"])
    audit.record(
        "billing.year_planned",
        "premium_schedule",
        str(schedule.public_id),
        actor=ACTOR,
        after={
            "reference": f"{schedule.reference_kind}:{schedule.reference_id}",
            "policy_year": year,
            "premium_years": schedule.premium_years,
            "annual_premium": annual,
            "instalments": [[p.number, p.due_on, p.amount] for p in planned],
            "next_year_on": schedule.next_year_on,
        },
    )
    return True


# --- reinstatement -------------------------------------------------------------------------------


def _unpaid_plan(schedule: PremiumSchedule) -> list[rules.PlannedInstalment]:
    return [
        rules.PlannedInstalment(number=i.number, due_on=i.due_on, amount=i.amount)
        for i in schedule.instalments.filter(status__in=UNPAID_STATUSES).order_by("number")
    ]


def reinstatement_quote(
    schedule: PremiumSchedule, today: datetime.date, *, years: int = rules.REINSTATEMENT_YEARS
) -> ReinstatementQuote:
    """What reinstating a lapsed schedule costs today: every unpaid instalment fallen due.
    `years`: the reinstatement period the reference's terms state (two by default)."""
    if schedule.status != ScheduleStatus.LAPSED or schedule.lapsed_on is None:
        raise NotReinstatable("只有已失效的缴费计划可以复效")
    until = rules.reinstatement_until(schedule.lapsed_on, years)
    if not rules.can_reinstate(schedule.lapsed_on, today, years):
        raise NotReinstatable(f"已超过复效期（失效后{years}年，至{until:%Y-%m-%d}）")
    owed = rules.owed(_unpaid_plan(schedule), today)
    return ReinstatementQuote(
        amount=sum((p.amount for p in owed), Decimal("0.00")),
        numbers=tuple(p.number for p in owed),
        until=until,
    )


def reinstate(
    schedule: PremiumSchedule, today: datetime.date, *, mandate: PaymentMandate | None = None
) -> ReinstatementQuote:
    """Charges the premiums owed (the quote) through the schedule's mandate — or `mandate`, which
    then replaces it. The schedule is active again once they are all paid (`on_collection_paid`)."""
    quote = reinstatement_quote(schedule, today)
    if mandate is not None:
        attach_mandate(schedule, mandate)
    current = mandate or schedule.mandate
    if current is None or current.status != MandateStatus.ACTIVE:
        raise NoActiveMandate("没有有效的代扣协议，请先签约")
    audit.record(
        "billing.reinstatement_requested",
        "premium_schedule",
        str(schedule.public_id),
        actor=ACTOR,
        after={"amount": quote.amount, "instalments": list(quote.numbers)},
    )
    for number in quote.numbers:
        with transaction.atomic(), audit.batched():
            inst = (
                Instalment.objects.select_for_update(of=("self",))
                .select_related("schedule__mandate")
                .get(schedule=schedule, number=number)
            )
            if inst.status in UNPAID_STATUSES:
                _charge_locked(inst, inst.schedule, today)
    return quote


# --- paying at the hosted checkout ---------------------------------------------------------------


def _open_checkout(
    schedule: PremiumSchedule,
    numbers: tuple[int, ...],
    amount: Decimal,
    *,
    payer_name: str,
    payer_id_number: str,
    return_url: str = "",
) -> Payment:
    """The open checkout payment of these instalments (the same one again on a retry while it is
    open), or a new one. `return_url`: the page the cashier sends the payer back to."""
    reference = rules.checkout_reference(str(schedule.public_id), numbers)
    now = timezone.now()
    existing = (
        Payment.objects.filter(
            reference_kind=CHECKOUT_KIND,
            reference_id=reference,
            status__in=payment_states.OPEN_STATUSES,
            expires_at__gt=now,
            amount=amount,
        )
        .order_by("-created_at")
        .first()
    )
    if existing is not None:
        return existing
    payment = payments.create_payment(
        amount=amount,
        payer_name=payer_name,
        payer_id_number=payer_id_number,
        reference_kind=CHECKOUT_KIND,
        reference_id=reference,
        expires_in=CHECKOUT_EXPIRES_IN,
        return_url=return_url,
    )
    audit.record(
        "billing.checkout_opened",
        "premium_schedule",
        str(schedule.public_id),
        actor=ACTOR,
        after={"instalments": list(numbers), "amount": amount, "payment": str(payment.public_id)},
    )
    return payment


def _not_payable(message: str, code: str) -> NotPayable:
    return NotPayable(message, code=code, errors=[FieldError("instalment", code, message)])


def pay_instalment_now(
    schedule: PremiumSchedule, number: int, *, payer_name: str, payer_id_number: str, return_url: str = ""
) -> Payment:
    """Opens the hosted checkout for instalment `number` of an active schedule: the oldest unpaid
    one (due or overdue), and none charged through the mandate at the moment. Raises
    NotPayable (field `instalment`) otherwise. Runs in the caller's transaction; locks the
    schedule."""
    with transaction.atomic(savepoint=False):
        locked = PremiumSchedule.objects.select_for_update().get(pk=schedule.pk)
        if locked.status == ScheduleStatus.LAPSED:
            raise _not_payable("保单已因欠缴保费失效，请办理复效", "schedule_lapsed")
        if locked.status != ScheduleStatus.ACTIVE:
            raise _not_payable("该缴费计划已缴清或已终止，无需缴费", "schedule_closed")
        inst = locked.instalments.filter(number=number).first()
        if inst is None:
            raise _not_payable(f"第{number}期保费不存在", "instalment_not_found")
        if inst.status not in UNPAID_STATUSES:
            raise _not_payable(f"第{number}期保费已缴，无需重复缴费", "instalment_paid")
        oldest = locked.instalments.filter(status__in=UNPAID_STATUSES).order_by("number").first()
        if oldest is not None and oldest.number != number:
            raise _not_payable(f"请先缴纳第{oldest.number}期保费", "earlier_instalment_unpaid")
        if Collection.objects.filter(instalment=inst, status=CollectionStatus.PENDING).exists():
            raise _not_payable("该期保费正在代扣中，请稍后查看结果", "collection_pending")
        return _open_checkout(
            locked,
            (number,),
            inst.amount,
            payer_name=payer_name,
            payer_id_number=payer_id_number,
            return_url=return_url,
        )


def reinstate_by_checkout(
    schedule: PremiumSchedule,
    today: datetime.date,
    *,
    payer_name: str,
    payer_id_number: str,
    years: int = rules.REINSTATEMENT_YEARS,
    return_url: str = "",
) -> tuple[ReinstatementQuote, Payment]:
    """Opens the hosted checkout for the premiums owed to reinstate a lapsed schedule (the
    quote); once paid the schedule is active again (`on_checkout_paid`). Raises NotReinstatable."""
    with transaction.atomic(savepoint=False):
        locked = PremiumSchedule.objects.select_for_update().get(pk=schedule.pk)
        quote = reinstatement_quote(locked, today, years=years)
        if not quote.numbers:
            raise NotReinstatable("没有应缴的保费", code="nothing_owed")
        payment = _open_checkout(
            locked,
            quote.numbers,
            quote.amount,
            payer_name=payer_name,
            payer_id_number=payer_id_number,
            return_url=return_url,
        )
        audit.record(
            "billing.reinstatement_requested",
            "premium_schedule",
            str(locked.public_id),
            actor=ACTOR,
            after={"amount": quote.amount, "instalments": list(quote.numbers), "via": "checkout"},
        )
    return quote, payment


def on_checkout_paid(payment: Payment) -> None:
    """Paid hook of a checkout payment: each instalment it pays is paid (one still unpaid); what
    was paid meanwhile by other means goes back; then reinstatement or completion."""
    try:
        schedule_id, numbers = rules.parse_checkout_reference(payment.reference_id)
    except rules.ScheduleError:
        log.warning("checkout payment %s has no instalments in its reference", payment.public_id)
        return
    schedule = PremiumSchedule.objects.select_for_update().filter(public_id=schedule_id).first()
    if schedule is None:
        return
    back = Decimal("0.00")
    for inst in (
        Instalment.objects.select_for_update()
        .filter(schedule=schedule, number__in=numbers)
        .order_by("number")
    ):
        if inst.status in UNPAID_STATUSES:
            _settle(inst, schedule, payment)
        else:
            back += inst.amount
    if back > 0:
        transaction.on_commit(lambda: payments.refund(payment, back, "分期保费已缴，重复缴费退回"))
    _after_paid(schedule, timezone.localdate(payment.paid_at or timezone.now()))


# --- re-planning (a premium change) -------------------------------------------------------------


def replan_schedule(
    reference_kind: str,
    reference_id: str,
    *,
    old_annual: Decimal,
    new_annual: Decimal,
    effective_on: datetime.date,
    cause_kind: str,
    cause_id: str,
    settled_apart: Decimal,
    new_year_premiums: Sequence[Decimal] = (),
) -> rules.Replan | None:
    """Re-plans the reference's schedule for `new_annual` from `effective_on` (`rules.replan`):
    unsettled instalments from the current one take their new amounts, settled ones keep theirs,
    and each change is a history row naming its cause. `settled_apart` is what the caller charged
    or refunded apart (the plan's adjustment when it was priced); a difference since — an
    instalment settled meanwhile — is carried to the next instalment (`rules.carry`). Runs in the
    caller's transaction under the schedule's lock; run again for the same cause it changes
    nothing. None without a schedule; rules.ScheduleError when it cannot be re-planned.

    `new_year_premiums`: a stepped premium's new premium of every policy year (year 1 first;
    `new_annual` is the change's year's): later years planned or to plan take theirs."""
    with transaction.atomic(savepoint=False):
        schedule = (
            PremiumSchedule.objects.select_for_update()
            .filter(reference_kind=reference_kind, reference_id=str(reference_id))
            .first()
        )
        if schedule is None:
            return None
        if InstalmentChange.objects.filter(
            instalment__schedule=schedule, cause_kind=cause_kind, cause_id=str(cause_id)
        ).exists():
            return None  # re-planned for this cause already
        if schedule.status not in selectors.REPLANNABLE:
            raise rules.ScheduleError(f"a {schedule.status} schedule is not re-planned")
        rows = {i.number: i for i in Instalment.objects.select_for_update().filter(schedule=schedule)}
        plan_ = rules.replan(
            selectors.instalments_now(schedule),
            mode=schedule.mode,
            start=schedule.start_on or min(i.due_on for i in rows.values()),
            old_annual=old_annual,
            new_annual=new_annual,
            effective_on=effective_on,
            later_annual={n: p for n, p in enumerate(new_year_premiums, start=1)},
        )
        plan_ = rules.carry(plan_, settled_apart)
        changes = []
        for line in plan_.changed:
            inst = rows[line.number]
            if line.new_amount != inst.amount:
                inst.amount = line.new_amount
                inst.save(update_fields=["amount"])
            changes.append(
                InstalmentChange(
                    instalment=inst,
                    cause_kind=cause_kind,
                    cause_id=str(cause_id),
                    effective_on=plan_.effective_on,
                    old_amount=line.old_amount,
                    new_amount=line.new_amount,
                    adjustment=line.adjustment,
                    carried=line.carried,
                )
            )
        InstalmentChange.objects.bulk_create(changes)
        schedule.total = sum((i.amount for i in rows.values()), Decimal(0))
        # The policy years still to plan (`roll_forward`) take the new premium (of their year).
        schedule.annual_premium = new_annual
        if schedule.year_premiums and new_year_premiums:
            schedule.year_premiums = [str(p) for p in new_year_premiums]
        schedule.save(update_fields=["total", "annual_premium", "year_premiums", "updated_at"])
        audit.record(
            "billing.schedule_replanned",
            "premium_schedule",
            str(schedule.public_id),
            actor=ACTOR,
            before={"annual": old_annual},
            after={
                "cause": f"{cause_kind}:{cause_id}",
                "annual": new_annual,
                "effective_on": plan_.effective_on,
                "settled_apart": plan_.adjustment,
                "instalments": [
                    [line.number, line.old_amount, line.new_amount, line.adjustment, line.carried]
                    for line in plan_.changed
                ],
                "total": schedule.total,
            },
        )
    return plan_


# --- cancellation --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CancelledSchedule:
    """What `cancel_schedule` did: the schedule's public id ("" when the reference has none), the
    numbers of the instalments cancelled, the charges still pending (left to settle: money
    collected for a cancelled instalment goes back by `on_collection_paid`), and whether the
    mandate is to be revoked (none of the customer's other schedules uses it)."""

    schedule: str
    cancelled: tuple[int, ...]
    pending_collections: tuple[str, ...]
    mandate_revoked: bool
    paid: Decimal


def _revoke_quietly(mandate_id: int) -> None:
    mandate = PaymentMandate.objects.filter(pk=mandate_id, status=MandateStatus.ACTIVE).first()
    if mandate is None:
        return
    try:
        revoke_mandate(mandate)
    except Exception:  # the schedule is cancelled: nothing charges it; operators see the log
        log.exception("revoking mandate %s after a cancelled schedule failed", mandate.public_id)


def cancel_schedule(reference_kind: str, reference_id: str, on: datetime.date) -> CancelledSchedule:
    """Ends the premium schedule of a reference (a policy cancelled or surrendered on `on`): its
    unpaid instalments are cancelled, the schedule moves to cancelled, a charge already pending is
    left to settle, and the mandate is revoked (after commit, at the provider) unless another
    active schedule still uses it. Runs in the caller's transaction under the schedule's row
    lock; calling it again changes nothing. A reference without a schedule (a single premium):
    nothing to do."""
    schedule = (
        PremiumSchedule.objects.select_for_update()
        .filter(reference_kind=reference_kind, reference_id=str(reference_id))
        .first()
    )
    if schedule is None:
        return CancelledSchedule("", (), (), False, Decimal("0.00"))
    cancelled: list[int] = []
    for inst in (
        Instalment.objects.select_for_update()
        .filter(schedule=schedule, status__in=UNPAID_STATUSES)
        .order_by("number")
    ):
        _move_instalment(inst, InstalmentStatus.CANCELLED, cancelled_on=on)
        cancelled.append(inst.number)
    pending = tuple(
        Collection.objects.filter(instalment__schedule=schedule, status=CollectionStatus.PENDING).values_list(
            "out_trade_no", flat=True
        )
    )
    revoke = False
    if schedule.status in (ScheduleStatus.ACTIVE, ScheduleStatus.LAPSED):
        mandate = schedule.mandate
        schedule.mandate = None
        _move_schedule(schedule, ScheduleStatus.CANCELLED, cancelled_on=on, instalments_cancelled=cancelled)
        if mandate is not None and mandate.status == MandateStatus.ACTIVE:
            others = PremiumSchedule.objects.filter(
                mandate=mandate, status__in=(ScheduleStatus.ACTIVE, ScheduleStatus.LAPSED)
            ).exclude(pk=schedule.pk)
            if not others.exists():
                revoke = True
                mandate_id = mandate.pk
                transaction.on_commit(lambda: _revoke_quietly(mandate_id))
    paid = sum(
        schedule.instalments.filter(status=InstalmentStatus.PAID).values_list("amount", flat=True),
        Decimal("0.00"),
    )
    return CancelledSchedule(str(schedule.public_id), tuple(cancelled), pending, revoke, paid)
