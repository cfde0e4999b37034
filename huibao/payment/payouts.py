"""Payout use-cases: money out to a customer's bank account (claim payments, event-triggered
benefits), through the payout port (`provider.PayoutProvider`).

- `request_payout` is idempotent on (kind, reference): the same call returns the payout already
  made (even from another process: the unique constraint decides), a different amount for the
  same reference is refused (409). It runs in the caller's transaction and queues the first
  submission when that commits.
- `submit_payout` (the task `tasks.submit_payout_task`, and the sweep `retry_due_payouts`) sends
  one attempt under the payout's row lock: accepted → submitted; refused at once → failed.
- `handle_payout_notification` is the one entry for the provider's signed result notifications:
  a bad signature is refused (nothing changes but a forensic row); a notify id already taken is
  a duplicate; a result of an earlier attempt, or one arriving after the payout was settled,
  changes nothing.
- A retryable failure is submitted again with back-off (`rules.payout_retry_delay`) while
  attempts remain; a final failure moves the payout to given_up and announces `payout_failed`
  (once: the guard allows given_up only once). `payout_succeeded` is announced on the move to
  succeeded. Both are `KeyedHook`s by kind, run inside the transaction of the move.
- `query_stale_payouts` asks the provider about submitted payouts with no result yet.
- `retry_by_hand` lets finance send a failed payout now, with an audit row naming them.

Every change writes an audit entry (`payout.<status>`, `payout.requested`, …); an event's bulk
request (`request_payout_ids(audit_each=False)`) is proven by the event's evidence root instead.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from huibao.core import audit
from huibao.core.bulkcopy import insert_rows
from huibao.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from huibao.core.fields import lookup_hash
from huibao.core.hooks import KeyedHook
from huibao.core.inserts import insert_unless_taken
from huibao.core.masking import mask_name
from huibao.core.money import as_decimal, to_fen, to_fen_int
from huibao.core.receipts import notify_id_of
from huibao.core.states import check_transition
from huibao.core.taskqueue import enqueue_all, enqueue_on_commit
from huibao.core.validators import text_problem, validate_bank_card
from huibao.payment import rules
from huibao.payment.errors import InvalidAmount, InvalidSignature
from huibao.payment.models import Payout, PayoutAttempt, PayoutNotification
from huibao.payment.provider import (
    PayoutAccepted,
    PayoutProviderUnavailable,
    PayoutRefused,
    PayoutRequest,
    PayoutResult,
    default_payout_provider_name,
    get_payout_provider,
)
from huibao.payment.states import PAYOUT_TRANSITIONS, PayoutAttemptStatus, PayoutStatus

log = logging.getLogger(__name__)

ACCOUNT_HASH_CONTEXT = "payment.payout_account_number"
# After the provider could not be reached, the same attempt is sent again this much later.
UNAVAILABLE_RETRY = datetime.timedelta(minutes=1)

# Announced inside the transaction that moves a payout of its kind to succeeded (once per payout).
payout_succeeded: KeyedHook[Payout, None] = KeyedHook("payment.payout_succeeded")
# Announced inside the transaction that gives a payout of its kind up (once per payout): no more
# attempts will be made; the owner decides what follows (a new payout under a new reference).
payout_failed: KeyedHook[Payout, None] = KeyedHook("payment.payout_failed")


class PayoutConflict(Conflict):
    code = "payout_reference_conflict"


class PayoutNotRetryable(Conflict):
    code = "payout_not_retryable"


@dataclass(frozen=True, slots=True)
class PayoutOutcome:
    """What the notify endpoint answers: `acknowledge` → 'success' (the provider stops sending)."""

    acknowledge: bool
    code: str
    payout_id: int | None = None
    message: str = ""
    http_status: int = 200


def _move(
    payout: Payout, target: str, *, actor: str = "system", detail: dict[str, Any] | None = None
) -> None:
    """Moves a locked payout to `target` through the guard, saving it and writing the audit row."""
    check_transition(PAYOUT_TRANSITIONS, payout.status, target, what="payout")
    before = payout.status
    payout.status = target
    payout.save()
    audit.record(
        f"payout.{target}",
        "payout",
        str(payout.public_id),
        actor=actor,
        before={"status": before},
        after={
            "status": target,
            "kind": payout.kind,
            "reference": payout.reference,
            "amount": payout.amount,
            "attempts": payout.attempts,
            "out_biz_no": payout.out_biz_no,
            "provider_trade_no": payout.provider_trade_no,
            "failure_code": payout.failure_code,
            "failure_reason": payout.failure_reason,
            **(detail or {}),
        },
    )


def _enqueue_submit(payout_id: int) -> None:
    """The payout's first submission, queued after commit (with the transaction's other tasks
    inside `taskqueue.batched()`)."""
    from huibao.payment.tasks import submit_payout_task

    enqueue_on_commit([(submit_payout_task, (payout_id,), {})])


def _clean_request(
    amount: Decimal,
    kind: str,
    reference: str,
    payee_name: str,
    account_number: str,
    bank_name: str,
    memo: str,
    seen: dict[tuple[str, str], Any] | None = None,
) -> tuple[Decimal, str, str, str, str]:
    """The ask's values as a payout keeps them, or ValidationFailed naming each bad field.
    `seen`: a batch's memo of the checks of each distinct text (a flight's travellers share the
    payee's bank, often a card; the checks are pure functions of the text)."""
    memo_of = seen if seen is not None else {}

    def once(check: str, text: str, run: Any) -> Any:
        key = (check, text)
        if key not in memo_of:
            memo_of[key] = run()
        return memo_of[key]

    errors: list[FieldError] = []
    try:
        value = to_fen(as_decimal(amount))
    except (ValueError, ArithmeticError):
        value = Decimal(0)
    if value <= 0:
        raise InvalidAmount(
            "amount must be positive", errors=[FieldError("amount", "positive", "付款金额必须大于0")]
        )
    if not kind.strip() or len(kind) > 40:
        errors.append(FieldError("kind", "required", "请填写付款类型（不超过40个字符）"))
    if not reference.strip() or len(reference) > 64:
        errors.append(FieldError("reference", "required", "请填写付款业务编号（不超过64个字符）"))
    name = payee_name.strip()
    problem = once("payee", name, lambda: text_problem(name, max_length=100))
    if not name:
        errors.append(FieldError("payee_name", "required", "请填写收款人姓名"))
    elif problem:
        errors.append(FieldError("payee_name", problem[0], "收款人姓名" + problem[1]))
    account = ""

    def card() -> tuple[str, list[FieldError]]:
        try:
            return validate_bank_card(account_number, field="account_number"), []
        except ValidationFailed as exc:
            return "", list(exc.errors)

    account, card_errors = once("card", account_number, card)
    errors.extend(card_errors)
    for field, label, text, limit in (
        ("bank_name", "开户行", bank_name, 60),
        ("memo", "付款备注", memo, 100),
    ):
        problem = once(
            field, text, lambda text=text, limit=limit: text_problem(text.strip(), max_length=limit)
        )
        if problem:
            errors.append(FieldError(field, problem[0], label + problem[1]))
    if errors:
        raise ValidationFailed("; ".join(e.message for e in errors), errors=errors)
    return value, name, account, bank_name.strip(), memo.strip()


def _same_or_conflict(existing: Payout, value: Decimal, account: str) -> Payout:
    if existing.amount != value:
        raise PayoutConflict(
            f"payout {existing.kind}:{existing.reference} exists with amount {existing.amount}",
            errors=[
                FieldError(
                    "amount",
                    "reference_amount_differs",
                    f"该业务编号已有一笔¥{existing.amount:.2f}的付款，金额不同的付款不能重复发起",
                )
            ],
        )
    if existing.account_number_hash != lookup_hash(account, context=ACCOUNT_HASH_CONTEXT):
        raise PayoutConflict(
            f"payout {existing.kind}:{existing.reference} exists to another account",
            errors=[
                FieldError(
                    "account_number", "reference_account_differs", "该业务编号已有一笔付往其他账户的付款"
                )
            ],
        )
    return existing


def request_payout(
    *,
    kind: str,
    reference: str,
    amount: Decimal,
    payee_name: str,
    account_number: str,
    bank_name: str = "",
    memo: str = "",
    provider: str | None = None,
) -> Payout:
    """Asks for `amount` to be paid to the account; the first submission runs after commit.

    Idempotent on (kind, reference): the same reference never makes a second payout — the same
    call returns the existing one; another amount (or account) for it raises `PayoutConflict`."""
    value, name, account, bank, note = _clean_request(
        amount, kind, reference, payee_name, account_number, bank_name, memo
    )
    kind, reference = kind.strip(), reference.strip()
    gateway = get_payout_provider(provider or default_payout_provider_name())
    candidate = Payout(
        kind=kind,
        reference=reference,
        amount=value,
        payee_name=name,
        account_number=account,
        account_number_hash=lookup_hash(account, context=ACCOUNT_HASH_CONTEXT),
        account_last4=account[-4:],
        bank_name=bank,
        memo=note,
        provider=gateway.name,
        max_attempts=rules.PAYOUT_MAX_ATTEMPTS,
        next_attempt_at=timezone.now(),
    )
    # One statement, no savepoint: the insert skips a reference that exists (also one a
    # concurrent request has just committed: it waits for it) and returns the id of a row that
    # went in — ours; else the existing payout is read (the same ask answers it, another amount
    # or account raises PayoutConflict, nothing written).
    with transaction.atomic(savepoint=False):
        ours = bool(insert_unless_taken([candidate]))
        if ours:
            _audit_requested(candidate)
            _enqueue_submit(candidate.pk)
    if not ours:
        # Outside the block: a conflict raised here leaves the caller's transaction usable.
        return _same_or_conflict(Payout.objects.get(kind=kind, reference=reference), value, account)
    return candidate


def _audit_requested(payout: Payout) -> None:
    audit.record(
        "payout.requested",
        "payout",
        str(payout.public_id),
        actor="system",
        after={
            "kind": payout.kind,
            "reference": payout.reference,
            "amount": payout.amount,
            "payee_name": mask_name(payout.payee_name),
            "account": rules.mask_account(payout.account_last4),
            "bank_name": payout.bank_name,
            "provider": payout.provider,
        },
    )


@dataclass(frozen=True, slots=True)
class PayoutAsk:
    """One payout of a batch (`request_payouts`): the arguments of `request_payout`."""

    kind: str
    reference: str
    amount: Decimal
    payee_name: str
    account_number: str
    bank_name: str = ""
    memo: str = ""


def request_payouts(asks: Sequence[PayoutAsk], *, provider: str | None = None) -> list[Payout]:
    """Many payouts at once, each exactly as `request_payout` would make it — idempotent on
    (kind, reference), another amount or account refused — with one read, one insert (`COPY` on
    PostgreSQL), one audit insert and one enqueue for the whole batch (`tasks.submit_payouts_task`,
    a task per `SUBMIT_BATCH` payouts). All or nothing: one bad ask (its index in the field names)
    or one conflict changes nothing. Returns the payouts in the order of `asks` (an ask repeated
    returns the same payout)."""
    made = _request_many(asks, provider=provider, audit_each=True)
    return [made.payout(key) for key in made.keys]


def request_payout_ids(
    asks: Sequence[PayoutAsk], *, provider: str | None = None, audit_each: bool = True
) -> list[int]:
    """`request_payouts`, answering the payouts' ids only (no model instance is built for the
    new ones: an event paying 10,000 travellers). `audit_each=False`: no `payout.requested`
    entry per payout — for a caller that seals the batch's evidence itself, one root in the
    audit chain for all of them (`claim.triggers_evidence`)."""
    made = _request_many(asks, provider=provider, audit_each=audit_each)
    return [made.ids[key] for key in made.keys]


# The columns a new payout is written with (`_request_many`), the primary key aside.
_NEW_COLUMNS = (
    "public_id",
    "kind",
    "reference",
    "amount",
    "payee_name",
    "account_number",
    "account_number_hash",
    "account_last4",
    "bank_name",
    "memo",
    "status",
    "provider",
    "out_biz_no",
    "provider_trade_no",
    "failure_code",
    "failure_reason",
    "retryable",
    "attempts",
    "max_attempts",
    "next_attempt_at",
    "requested_at",
    "submitted_at",
    "succeeded_at",
    "given_up_at",
    "updated_at",
)
_COL = {name: i for i, name in enumerate(_NEW_COLUMNS)}


@dataclass(slots=True)
class _Batch:
    """What `_request_many` made: the keys of the asks in order, each key's payout id, the new
    rows' values (by key) and the payouts that existed before (by key)."""

    keys: list[tuple[str, str]]
    ids: dict[tuple[str, str], int]
    new: dict[tuple[str, str], tuple[Any, ...]]
    existing: dict[tuple[str, str], Payout]

    def payout(self, key: tuple[str, str]) -> Payout:
        if key in self.existing:
            return self.existing[key]
        return _payout_of(self.ids[key], self.new[key])


def _payout_of(pk: int | None, values: tuple[Any, ...]) -> Payout:
    payout = Payout(id=pk, **dict(zip(_NEW_COLUMNS, values, strict=True)))
    if pk is not None:
        payout._state.adding = False
    return payout


def _request_many(asks: Sequence[PayoutAsk], *, provider: str | None, audit_each: bool) -> _Batch:
    gateway = get_payout_provider(provider or default_payout_provider_name())
    cleaned: dict[tuple[str, str], tuple[Any, ...]] = {}
    keys: list[tuple[str, str]] = []
    # The keyed hash of each account once (a family's travellers share one).
    hashes: dict[str, str] = {}
    seen: dict[tuple[str, str], Any] = {}
    now = timezone.now()
    requested, max_attempts = PayoutStatus.REQUESTED.value, rules.PAYOUT_MAX_ATTEMPTS
    for index, ask in enumerate(asks):
        try:
            value, name, account, bank, note = _clean_request(
                ask.amount,
                ask.kind,
                ask.reference,
                ask.payee_name,
                ask.account_number,
                ask.bank_name,
                ask.memo,
                seen,
            )
        except ValidationFailed as exc:
            errors = [FieldError(f"{index}.{e.field}", e.code, e.message) for e in exc.errors]
            raise ValidationFailed(exc.message, code=exc.code, errors=errors) from exc
        key = (ask.kind.strip(), ask.reference.strip())
        keys.append(key)
        if key in cleaned:
            _same_or_conflict(_payout_of(None, cleaned[key]), value, account)
            continue
        account_hash = hashes.get(account)
        if account_hash is None:
            account_hash = hashes[account] = lookup_hash(account, context=ACCOUNT_HASH_CONTEXT)
        # In `_NEW_COLUMNS`' order: the values `Payout(...)` would be saved with.
        cleaned[key] = (
            uuid.uuid4(),
            key[0],
            key[1],
            value,
            name,
            account,
            account_hash,
            account[-4:],
            bank,
            note,
            requested,
            gateway.name,
            "",
            "",
            "",
            "",
            False,
            0,
            max_attempts,
            now,
            now,
            None,
            None,
            None,
            now,
        )
    if not cleaned:
        return _Batch([], {}, {}, {})

    def stored() -> dict[tuple[str, str], Payout]:
        return _stored(cleaned.keys())

    with transaction.atomic(), audit.batched():
        before = stored()
        fresh = [key for key in cleaned if key not in before]
        ids = _insert_all(fresh, cleaned)
        if ids is not None:
            existing = before
            made = dict(zip(fresh, ids, strict=True))
        else:
            # A concurrent batch inserted some of the same references first: theirs stand.
            Payout.objects.bulk_create([_payout_of(None, cleaned[k]) for k in fresh], ignore_conflicts=True)
            found = stored()
            public_id = _COL["public_id"]
            made = {k: found[k].pk for k in fresh if found[k].public_id == cleaned[k][public_id]}
            existing = {k: p for k, p in found.items() if k not in made}
        for key, row in existing.items():
            values = cleaned[key]
            _same_or_conflict(row, values[_COL["amount"]], values[_COL["account_number"]])
        if audit_each:
            for key, pk in made.items():
                _audit_requested(_payout_of(pk, cleaned[key]))
        ours = list(made.values())
        if ours:
            transaction.on_commit(lambda: _enqueue_submits(ours))
    return _Batch(
        keys=keys,
        ids={**{k: p.pk for k, p in existing.items()}, **made},
        new={k: cleaned[k] for k in made},
        existing=existing,
    )


def _stored(keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], Payout]:
    """The payouts already made for these (kind, reference) keys (a plain read, as `_existing`)."""
    rows = Payout.objects.filter(kind__in={k for k, _ in keys}, reference__any_of=[r for _, r in keys])
    return {(p.kind, p.reference): p for p in rows if (p.kind, p.reference) in keys}


def _insert_all(
    fresh: list[tuple[str, str]], values: dict[tuple[str, str], tuple[Any, ...]]
) -> list[int] | None:
    """Inserts the new payouts from their values (`bulkcopy.insert_rows`: `COPY` on PostgreSQL)
    in a savepoint of its own; their ids, or None, with nothing written, when one of them is
    already taken (a concurrent batch committed it first: `COPY` cannot skip a row, so the caller
    inserts again skipping the taken ones)."""
    if not fresh:
        return []
    try:
        with transaction.atomic():
            return insert_rows(Payout, _NEW_COLUMNS, [values[k] for k in fresh])
    except IntegrityError:
        return None


def _enqueue_submits(payout_ids: list[int]) -> None:
    from huibao.payment.tasks import SUBMIT_BATCH, submit_payout_task, submit_payouts_task

    if len(payout_ids) == 1:
        submit_payout_task.enqueue(payout_ids[0])
        return
    enqueue_all(
        [
            (submit_payouts_task, (payout_ids[i : i + SUBMIT_BATCH],), {})
            for i in range(0, len(payout_ids), SUBMIT_BATCH)
        ]
    )


def _fail(
    payout: Payout, code: str, reason: str, retryable: bool, *, now: datetime.datetime, actor: str
) -> str:
    """The current attempt failed: to failed, then given up (announced) or a retry scheduled."""
    payout.failure_code = code[:40]
    payout.failure_reason = rules.payout_reason(code, reason)[:200]
    payout.retryable = retryable
    delay = rules.payout_retry_delay(payout.attempts, max_attempts=payout.max_attempts) if retryable else None
    payout.next_attempt_at = now + delay if delay is not None else None
    _move(payout, PayoutStatus.FAILED, actor=actor)
    if delay is None:
        payout.given_up_at = now
        _move(
            payout,
            PayoutStatus.GIVEN_UP,
            actor=actor,
            detail={"why": "not_retryable" if not retryable else "attempts_spent"},
        )
        payout_failed.announce(payout.kind, payout)
        return "given_up"
    return "retry_scheduled"


def _succeed(payout: Payout, *, now: datetime.datetime, actor: str, detail: dict[str, Any]) -> str:
    payout.succeeded_at = now
    payout.next_attempt_at = None
    payout.failure_code = ""
    payout.failure_reason = ""
    _move(payout, PayoutStatus.SUCCEEDED, actor=actor, detail=detail)
    payout_succeeded.announce(payout.kind, payout)
    return "succeeded"


def _submit_locked(payout: Payout, *, now: datetime.datetime, actor: str) -> str:
    gateway = get_payout_provider(payout.provider)
    number = payout.attempts + 1
    out_biz_no = rules.out_biz_no(payout.public_id.hex, number)
    request = PayoutRequest(
        out_biz_no=out_biz_no,
        amount_fen=to_fen_int(payout.amount),
        payee_name=payout.payee_name,
        account_number=payout.account_number,
        bank_name=payout.bank_name,
        memo=payout.memo,
    )
    try:
        answer = gateway.submit_payout(request)
    except PayoutProviderUnavailable as exc:
        # Unknown whether it was taken: the same attempt (same out_biz_no) goes again later.
        log.warning(
            "payout %s: provider unavailable (%s); attempt %s again later", payout.public_id, exc, number
        )
        payout.next_attempt_at = now + UNAVAILABLE_RETRY
        payout.save(update_fields=["next_attempt_at", "updated_at"])
        return "provider_unavailable"
    payout.attempts = number
    payout.out_biz_no = out_biz_no
    attempt = PayoutAttempt(payout=payout, number=number, out_biz_no=out_biz_no, requested_by=actor)
    if isinstance(answer, PayoutAccepted):
        attempt.status = PayoutAttemptStatus.SUBMITTED
        attempt.provider_trade_no = answer.provider_trade_no
        attempt.save()
        payout.provider_trade_no = answer.provider_trade_no
        payout.submitted_at = now
        payout.next_attempt_at = None
        _move(payout, PayoutStatus.SUBMITTED, actor=actor)
        return "submitted"
    assert isinstance(answer, PayoutRefused)
    attempt.status = PayoutAttemptStatus.REFUSED
    attempt.failure_code = answer.code[:40]
    attempt.failure_reason = rules.payout_reason(answer.code, answer.reason)[:200]
    attempt.finished_at = now
    attempt.save()
    payout.provider_trade_no = ""
    return _fail(payout, answer.code, answer.reason, answer.retryable, now=now, actor=actor)


def submit_payout(payout_id: int, *, now: datetime.datetime | None = None) -> str:
    """Sends the payout's next attempt if one is due (requested, or failed and due again);
    returns what happened. Safe to call twice at once: the row lock and the status decide."""
    now = now or timezone.now()
    with transaction.atomic(), audit.batched():
        payout = Payout.objects.select_for_update().filter(pk=payout_id).first()
        if payout is None:
            return "missing"
        if payout.status not in (PayoutStatus.REQUESTED, PayoutStatus.FAILED):
            return "not_due"
        if payout.next_attempt_at is None or payout.next_attempt_at > now:
            return "not_due"
        return _submit_locked(payout, now=now, actor="system")


def due_payouts(now: datetime.datetime) -> list[int]:
    return list(
        Payout.objects.filter(
            status__in=[PayoutStatus.REQUESTED, PayoutStatus.FAILED], next_attempt_at__lte=now
        ).values_list("pk", flat=True)
    )


def retry_due_payouts(now: datetime.datetime | None = None) -> int:
    """Sweep: submits every payout whose next attempt is due; returns how many were submitted."""
    now = now or timezone.now()
    return sum(1 for pk in due_payouts(now) if submit_payout(pk, now=now) == "submitted")


def retry_by_hand(payout: Payout, *, user: Any, request: Any = None) -> str:
    """Finance sends a failed payout now, without waiting for its back-off (one of its attempts)."""
    now = timezone.now()
    with transaction.atomic(), audit.batched():
        locked = Payout.objects.select_for_update().get(pk=payout.pk)
        if locked.status != PayoutStatus.FAILED:
            raise PayoutNotRetryable(
                f"payout is {locked.status}: only a failed one waiting for its retry can be sent again",
                errors=[FieldError("status", "not_retryable", "仅“付款失败待重试”的付款可以手动重试")],
            )
        label = getattr(user, "get_username", lambda: str(user))()
        audit.record(
            "payout.retry_requested",
            "payout",
            str(locked.public_id),
            actor=user,
            request=request,
            after={"attempts": locked.attempts, "failure_code": locked.failure_code},
        )
        return _submit_locked(locked, now=now, actor=f"staff:{label}")


def _apply_result(payout: Payout, result: PayoutResult, *, source: str, now: datetime.datetime) -> str:
    """Applies a verified result to the locked payout; returns the outcome code."""
    attempt = PayoutAttempt.objects.filter(payout=payout, out_biz_no=result.out_biz_no).first()
    if attempt is None:
        return "unknown_attempt"
    if result.status == "processing":
        return "processing"
    if attempt.status in (
        PayoutAttemptStatus.SUCCEEDED,
        PayoutAttemptStatus.FAILED,
        PayoutAttemptStatus.REFUSED,
    ):
        return "duplicate_result"
    detail = {
        "source": source,
        "out_biz_no": result.out_biz_no,
        "provider_trade_no": result.provider_trade_no,
    }
    attempt.finished_at = now
    if result.status == "success":
        attempt.status = PayoutAttemptStatus.SUCCEEDED
        attempt.save(update_fields=["status", "finished_at"])
        if payout.status == PayoutStatus.SUCCEEDED:
            # Another attempt had already paid: money went out twice. Never silently.
            log.error(
                "payout %s: attempt %s succeeded after the payout had", payout.public_id, attempt.out_biz_no
            )
            audit.record(
                "payout.paid_twice",
                "payout",
                str(payout.public_id),
                actor=f"payment:{payout.provider}",
                after=detail,
            )
            return "paid_twice"
        if attempt.number != payout.attempts or payout.status != PayoutStatus.SUBMITTED:
            # An earlier attempt paid after all (its failure was not final at the bank): the
            # money went out, so the payout is paid — from failed, through the guard.
            log.warning("payout %s: earlier attempt %s succeeded late", payout.public_id, attempt.out_biz_no)
            if payout.status == PayoutStatus.GIVEN_UP:
                audit.record(
                    "payout.paid_after_given_up",
                    "payout",
                    str(payout.public_id),
                    actor=f"payment:{payout.provider}",
                    after=detail,
                )
                return "paid_after_given_up"
            payout.provider_trade_no = attempt.provider_trade_no
            if payout.status == PayoutStatus.FAILED:
                _move(payout, PayoutStatus.SUBMITTED, actor=f"payment:{payout.provider}", detail=detail)
        return _succeed(payout, now=now, actor=f"payment:{payout.provider}", detail=detail)
    attempt.status = PayoutAttemptStatus.FAILED
    attempt.failure_code = result.failure_code[:40]
    attempt.failure_reason = rules.payout_reason(result.failure_code, result.reason)[:200]
    attempt.save(update_fields=["status", "failure_code", "failure_reason", "finished_at"])
    if attempt.number != payout.attempts or payout.status != PayoutStatus.SUBMITTED:
        return "stale_attempt"  # an earlier attempt's failure: the current one decides
    return _fail(
        payout,
        result.failure_code,
        result.reason,
        result.retryable,
        now=now,
        actor=f"payment:{payout.provider}",
    )


def handle_payout_notification(
    provider_name: str, headers: Mapping[str, str], body: bytes, *, now: datetime.datetime | None = None
) -> PayoutOutcome:
    """The provider's signed result notification; see the module's docstring."""
    now = now or timezone.now()
    try:
        gateway = get_payout_provider(provider_name)
        notice = gateway.parse_payout_notification(headers, body)
    except InvalidSignature as exc:
        notify_id = notify_id_of(headers)
        PayoutNotification.objects.create(
            provider=provider_name[:20],
            notify_id=notify_id[:64],
            raw_body=body.decode("utf-8", "replace"),
            signature_ok=False,
            outcome=exc.code,
        )
        return PayoutOutcome(acknowledge=False, code=exc.code, message=exc.message, http_status=400)
    if rules.is_stale(notice.sent_at, now):
        return PayoutOutcome(
            acknowledge=False, code="stale", message="notification timestamp is stale", http_status=400
        )
    recorded = False
    try:
        with transaction.atomic(), audit.batched():
            # First statement: a duplicate notify id rolls back before anything else happened.
            row = PayoutNotification.objects.create(
                provider=gateway.name, notify_id=notice.notify_id, raw_body=body.decode(), signature_ok=True
            )
            recorded = True
            attempt = (
                PayoutAttempt.objects.filter(
                    out_biz_no=notice.result.out_biz_no, payout__provider=gateway.name
                )
                .values_list("payout_id", flat=True)
                .first()
            )
            payout = Payout.objects.select_for_update().filter(pk=attempt).first() if attempt else None
            if payout is None:
                raise NotFound(f"no payout attempt '{notice.result.out_biz_no}'", code="unknown_payout")
            code = _apply_result(payout, notice.result, source="notification", now=now)
            row.payout = payout
            row.outcome = code
            row.save(update_fields=["payout", "outcome"])
            return PayoutOutcome(acknowledge=True, code=code, payout_id=payout.pk)
    except IntegrityError:
        if recorded:
            raise
        return PayoutOutcome(acknowledge=True, code="duplicate")
    except NotFound as exc:
        # Not acknowledged and nothing kept: a later delivery (after the submission committed) is
        # taken afresh.
        return PayoutOutcome(acknowledge=False, code=exc.code, message=exc.message, http_status=404)


def query_stale_payouts(now: datetime.datetime | None = None) -> dict[str, int]:
    """Asks the provider about every payout submitted more than `PAYOUT_QUERY_AFTER` ago with no
    result yet, and applies what it answers; returns the count per outcome."""
    now = now or timezone.now()
    ids = list(
        Payout.objects.filter(
            status=PayoutStatus.SUBMITTED, submitted_at__lte=now - rules.PAYOUT_QUERY_AFTER
        ).values_list("pk", flat=True)
    )
    counts: dict[str, int] = {}
    for pk in ids:
        with transaction.atomic(), audit.batched():
            payout = Payout.objects.select_for_update().get(pk=pk)
            if payout.status != PayoutStatus.SUBMITTED:
                code = "settled_meanwhile"
            else:
                try:
                    result = get_payout_provider(payout.provider).query_payout(payout)
                except PayoutProviderUnavailable:
                    code = "provider_unavailable"
                else:
                    code = _apply_result(payout, result, source="query", now=now)
        counts[code] = counts.get(code, 0) + 1
    return counts
