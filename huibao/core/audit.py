"""The audit log: append entries to the hash chain, snapshot models, verify the chain.

`record()` is the one way to append. It writes the entry inside the caller's transaction when
there is one — the entry commits or rolls back with the change it describes — and takes no lock:
the entry has no place in the chain yet. A sealer (`seal_pending()`, run in a loop by
`manage.py seal_audit --loop`, and by the sweeps) locks the single `AuditHead` row for as long as
it takes to give every committed unsealed entry its `seq`, `prev_hash`, `sealed_at` and
`entry_hash`, in the order they were written, many entries per lock. Business transactions never
wait for each other on the chain and pay nothing for it beyond the insert (before, each took the
head with its first entry and held it until its commit: the platform's one serialisation point
under load). Every reader of the chain — verification, replay, evidence export — seals first, so
what it shows is always the whole chain. Until an entry is sealed, PostgreSQL's trigger refuses
any change of it but the sealing itself.

`entry_hash` = SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8) of every field of
the entry, `prev_hash` included (and `sealed_at`, for entries sealed by a sealer); the first entry
links to `GENESIS_HASH`.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import decimal
import enum
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Max, Q
from django.db.models.fields.files import FieldFile
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import Promise

from huibao.core.bulkcopy import copy_create
from huibao.core.errors import ValidationFailed
from huibao.core.fields import EncryptedTextField
from huibao.core.http import client_ip
from huibao.core.masking import mask_bank_card, mask_email, mask_id_number, mask_phone
from huibao.core.models import GENESIS_HASH, AuditEntry, AuditHead
from huibao.core.validators import validate_bank_card, validate_mobile, validate_resident_id

ENCRYPTED_PLACEHOLDER = "<encrypted>"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
REDACTED_PLACEHOLDER = "<redacted>"
# Field names whose values never enter a snapshot, whatever their type.
ALWAYS_REDACTED = frozenset({"password"})
USER_AGENT_MAX = 512
# Entries sealed per lock of the head; a larger backlog takes several turns.
SEAL_BATCH = 2000
logger = logging.getLogger(__name__)


def json_safe(value: Any) -> Any:
    """`value` as plain JSON types: Decimal, dates, UUIDs and lazy strings become strings."""
    if value is None or isinstance(value, bool | int | str):
        return value if not isinstance(value, enum.Enum) else value.value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, decimal.Decimal | uuid.UUID | Promise):
        return str(value)
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = value.astimezone(datetime.UTC)
        return value.isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value.total_seconds())
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [json_safe(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, models.Model):
        return json_safe(value.pk)
    return str(value)


def _masked_personal_value(value: str) -> str:
    """The masked form of an ID number, mobile, card number or e-mail address; a placeholder for
    anything else."""
    try:
        return mask_id_number(validate_resident_id(value).number)
    except ValidationFailed:
        pass
    try:
        return mask_phone(validate_mobile(value))
    except ValidationFailed:
        pass
    try:
        return mask_bank_card(validate_bank_card(value))
    except ValidationFailed:
        pass
    if _EMAIL.fullmatch(value.strip()):
        return mask_email(value)
    return ENCRYPTED_PLACEHOLDER


def snapshot(instance: models.Model, exclude: set[str] | None = None) -> dict[str, Any]:
    """The instance's concrete fields (and many-to-many pks) as JSON-safe values.

    Foreign keys appear as the related pk under the field name. Encrypted fields never appear in
    plaintext: an ID/mobile/card number is stored masked, anything else as '<encrypted>'.
    """
    exclude = exclude or set()
    data: dict[str, Any] = {}
    opts = instance._meta
    for field in opts.concrete_fields:
        if field.name in exclude:
            continue
        value = getattr(instance, field.attname)
        if field.name in ALWAYS_REDACTED:
            data[field.name] = REDACTED_PLACEHOLDER if value else ""
        elif isinstance(field, EncryptedTextField):
            data[field.name] = (
                _masked_personal_value(str(value)) if value else (value if value is None else "")
            )
        elif isinstance(value, FieldFile):
            data[field.name] = value.name or ""
        else:
            data[field.name] = json_safe(value)
    if instance.pk is not None:
        for m2m in opts.many_to_many:
            if m2m.name in exclude:
                continue
            manager = getattr(instance, m2m.attname)
            data[m2m.name] = sorted(json_safe(pk) for pk in manager.values_list("pk", flat=True))
    return data


def canonical_json(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _timestamp(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).isoformat(timespec="microseconds")


def _hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    payload = {
        "seq": entry.seq,
        "occurred_at": _timestamp(entry.occurred_at),
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "before": entry.before,
        "after": entry.after,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "prev_hash": entry.prev_hash,
    }
    # Entries chained as they were written (before sealing moved after commit) have no seal time;
    # their hash stays what it was.
    if entry.sealed_at is not None:
        payload["sealed_at"] = _timestamp(entry.sealed_at)
    return payload


def compute_entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(canonical_json(_hashed_fields(entry)).encode()).hexdigest()


def entry_record(entry: AuditEntry) -> dict[str, Any]:
    """The entry as a JSON record that anyone can check: the fields its hash covers (`sealed_at`
    null when it has none) and the hash; `entry_from_record` reads it back."""
    return {"sealed_at": None, **_hashed_fields(entry), "entry_hash": entry.entry_hash}


def entry_from_record(record: Mapping[str, Any]) -> AuditEntry:
    """The (unsaved) entry of a record made by `entry_record`: `compute_entry_hash` of it is the
    hash the record must carry. Raises KeyError or ValueError for a record that is not one."""
    sealed_at = record.get("sealed_at")
    return AuditEntry(
        seq=record["seq"],
        occurred_at=datetime.datetime.fromisoformat(record["occurred_at"]),
        actor_id=record["actor_id"],
        actor_label=record["actor_label"],
        action=record["action"],
        object_type=record["object_type"],
        object_id=record["object_id"],
        before=record["before"],
        after=record["after"],
        ip=record["ip"],
        user_agent=record["user_agent"],
        prev_hash=record["prev_hash"],
        sealed_at=datetime.datetime.fromisoformat(sealed_at) if sealed_at else None,
    )


def _actor_fields(actor: Any) -> tuple[int | None, str]:
    if actor is None or getattr(actor, "is_anonymous", False):
        return None, ""
    if isinstance(actor, bool):
        raise TypeError("actor must be a user, an id or a label")
    if isinstance(actor, int):
        return actor, ""
    if isinstance(actor, str):
        return None, actor[:150]
    pk = getattr(actor, "pk", None)
    label = actor.get_username() if hasattr(actor, "get_username") else str(actor)
    return (int(pk) if isinstance(pk, int) else None), str(label)[:150]


def _locked_head(*, skip_locked: bool = False) -> AuditHead | None:
    """The head row, locked; None when `skip_locked` and another sealer holds it."""
    head = AuditHead.objects.select_for_update(skip_locked=skip_locked).filter(pk=1).first()
    if head is not None:
        return head
    if skip_locked and AuditHead.objects.filter(pk=1).exists():
        return None
    # First seal on an empty database (or after a test flush): continue from the last entry.
    last = AuditEntry.objects.filter(seq__isnull=False).order_by("-seq").first()
    last_seq, _, last_hash = chain_fields(last) if last else (0, "", GENESIS_HASH)
    newest = AuditEntry.objects.filter(seq__isnull=False).aggregate(at=Max("occurred_at"))["at"]
    try:
        with transaction.atomic():
            AuditHead.objects.create(
                pk=1,
                seq=last_seq,
                last_hash=last_hash,
                last_at=(last.sealed_at or last.occurred_at) if last else None,
                newest_occurred_at=newest,
            )
    except IntegrityError:
        pass  # another writer created it first
    return AuditHead.objects.select_for_update().get(pk=1)


# The entries recorded inside `batched()`, not inserted yet (None outside it).
_batch: contextvars.ContextVar[list[AuditEntry] | None] = contextvars.ContextVar("audit_batch", default=None)


@contextlib.contextmanager
def batched() -> Iterator[None]:
    """Inside a transaction: the entries recorded in the block are inserted together when it ends,
    in the order they were recorded, with one INSERT or `COPY` (one round trip instead of one per
    entry; `core.bulkcopy.copy_create`).
    Their times are those of their `record` calls. If the block raises, they are dropped: the
    transaction they belong to is rolled back with them. Nested blocks join the outermost.
    Use it inside the `transaction.atomic()` it belongs to, for use-cases that write several
    entries and never read them back before the block ends (the entries have no `pk` until then)."""
    if _batch.get() is not None:
        yield
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.batched() belongs inside a transaction")
    pending: list[AuditEntry] = []
    token = _batch.set(pending)
    try:
        yield
    finally:
        _batch.reset(token)
    if pending:
        # `COPY` on PostgreSQL for a large batch (an event's 10,000 entries), `bulk_create` else.
        copy_create(AuditEntry, pending)


def record(
    action: str,
    obj_type: str,
    obj_id: str,
    *,
    actor: Any | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEntry:
    """Appends one entry to the chain (at the end of `batched()` when inside one). `actor`
    defaults to `request.user`."""
    if not action or not obj_type:
        raise ValueError("record(): action and obj_type are required")
    if actor is None and request is not None:
        actor = getattr(request, "user", None)
    actor_id, actor_label = _actor_fields(actor)
    ip = client_ip(request) if request is not None else None
    user_agent = request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX] if request is not None else ""
    entry = AuditEntry(
        # Microseconds are what every database keeps, so the hash is over what is stored.
        occurred_at=timezone.now(),
        actor_id=actor_id,
        actor_label=actor_label,
        action=action,
        object_type=obj_type,
        object_id=str(obj_id),
        before=json_safe(before) if before is not None else None,
        after=json_safe(after) if after is not None else None,
        ip=ip,
        user_agent=user_agent,
    )
    pending = _batch.get()
    if pending is not None:
        pending.append(entry)
        return entry
    # No savepoint inside a caller's transaction (two round trips fewer per entry): if the insert
    # fails, the caller's whole transaction fails with it, as it must.
    with transaction.atomic(savepoint=False):
        entry.save()
    return entry


def _write_seals(entries: Sequence[AuditEntry]) -> None:
    """One UPDATE per entry, sent as a batch (a pipeline on PostgreSQL), and only on rows still
    unsealed: the one write the model refuses to make (its queryset refuses every update)."""
    ops = connection.ops
    sql = (
        "UPDATE core_auditentry SET seq = %s, prev_hash = %s, entry_hash = %s, sealed_at = %s "
        "WHERE id = %s AND seq IS NULL"
    )
    rows = [
        (e.seq, e.prev_hash, e.entry_hash, ops.adapt_datetimefield_value(e.sealed_at), e.pk) for e in entries
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
        if cursor.rowcount not in (-1, len(rows)):
            raise IntegrityError(f"audit: {len(rows)} entries to seal, {cursor.rowcount} sealed")


def max_clock_skew() -> datetime.timedelta:
    """How far an entry's time may lie before the newest sealed entry's, or after the sealer's
    clock (`settings.AUDIT_MAX_CLOCK_SKEW` seconds): the clock difference between servers plus
    the longest transaction that records an entry (an entry is dated when written, sealed when
    its transaction commits)."""
    return datetime.timedelta(seconds=settings.AUDIT_MAX_CLOCK_SKEW)


@dataclass(frozen=True, slots=True)
class RefusedEntry:
    """A committed entry the sealer will not give a place in the chain: its time is too far
    before the newest sealed entry's, or too far after the sealer's clock (a server's clock is
    wrong, or the entry was backdated). It stays unsealed, in the table, until someone looks."""

    id: int
    occurred_at: datetime.datetime
    problem: str


def _sealable(newest: datetime.datetime | None, now: datetime.datetime, skew: datetime.timedelta) -> Q:
    window = Q(occurred_at__lte=now + skew)
    return window & Q(occurred_at__gte=newest - skew) if newest is not None else window


def _refusal(
    entry_at: datetime.datetime,
    newest: datetime.datetime | None,
    now: datetime.datetime,
    skew: datetime.timedelta,
) -> str | None:
    if newest is not None and entry_at < newest - skew:
        seconds = (newest - entry_at).total_seconds()
        return (
            f"dated {entry_at.isoformat()}, {seconds:.0f} s before the newest sealed entry "
            f"({newest.isoformat()}); at most {skew.total_seconds():.0f} s are allowed (AUDIT_MAX_CLOCK_SKEW)"
        )
    if entry_at > now + skew:
        seconds = (entry_at - now).total_seconds()
        return (
            f"dated {entry_at.isoformat()}, {seconds:.0f} s after the sealer's clock "
            f"({now.isoformat()}); at most {skew.total_seconds():.0f} s are allowed (AUDIT_MAX_CLOCK_SKEW)"
        )
    return None


def refused_entries(limit: int = 100) -> list[RefusedEntry]:
    """The committed unsealed entries the sealer refuses (see `RefusedEntry`), oldest first."""
    head = AuditHead.objects.filter(pk=1).first()
    newest = head.newest_occurred_at if head is not None else None
    now, skew = timezone.now(), max_clock_skew()
    outside = AuditEntry.objects.filter(seq__isnull=True).exclude(_sealable(newest, now, skew))
    refused = []
    for pk, occurred_at in outside.order_by("id").values_list("id", "occurred_at")[:limit]:
        problem = _refusal(occurred_at, newest, now, skew)
        if problem is not None:
            refused.append(RefusedEntry(id=pk, occurred_at=occurred_at, problem=problem))
    return refused


# Refusals already logged by this process (id -> time), so a looping sealer says it once.
_logged_refusals: dict[int, datetime.datetime] = {}


def _log_refusals() -> None:
    for entry in refused_entries():
        if _logged_refusals.get(entry.id) == entry.occurred_at:
            continue
        _logged_refusals[entry.id] = entry.occurred_at
        logger.warning("audit entry %s left unsealed: %s", entry.id, entry.problem)


def seal_pending(*, wait: bool = True) -> int:
    """Gives every committed unsealed entry its place in the chain; returns how many it sealed.

    Cheap when there is nothing to seal (one indexed query, no lock). Otherwise one short
    transaction per batch holds the head row: the entries are read in written order, each gets
    the next seq, the previous entry's hash, a seal time never earlier than the previous one,
    and its own hash; the rows and the head are written together. It looks again after each
    batch, until nothing committed is left unsealed.

    An entry dated more than `max_clock_skew()` before the newest entry already sealed, or after
    the sealer's own clock, is refused: it is left unsealed and logged (once per process), and
    `verify_chain` reports it. So the times along the chain never go back by more than the skew,
    and one server with a wrong clock cannot date entries into the past of the chain (nor push
    its newest time ahead, which would have every correct server's entries refused).

    `wait=False` (the looping sealer) does not queue behind another sealer holding the head:
    that one looks again after its batch and sees what was committed meanwhile.
    """
    sealed = 0
    skew = max_clock_skew()
    refusals = False
    while AuditEntry.objects.filter(seq__isnull=True).exists():
        with transaction.atomic():
            head = _locked_head(skip_locked=not wait)
            if head is None:
                break  # another sealer is at work and will look again after its batch
            now = timezone.now()
            newest = head.newest_occurred_at
            pending = list(
                AuditEntry.objects.filter(Q(seq__isnull=True) & _sealable(newest, now, skew)).order_by("id")[
                    :SEAL_BATCH
                ]
            )
            if not pending:
                refusals = True  # what is left unsealed is refused (or a racing sealer took it)
                break
            sealed_at = now
            if head.last_at is not None and sealed_at < head.last_at:
                sealed_at = head.last_at
            seq, prev_hash = head.seq, head.last_hash
            batch = []
            for entry in pending:
                # The first entry is within the skew (the query saw to it); a later one may not be
                # once an earlier one of the batch has moved the newest time on.
                if _refusal(entry.occurred_at, newest, now, skew) is not None:
                    continue
                seq += 1
                entry.seq, entry.prev_hash, entry.sealed_at = seq, prev_hash, sealed_at
                entry.entry_hash = prev_hash = compute_entry_hash(entry)
                newest = entry.occurred_at if newest is None else max(newest, entry.occurred_at)
                batch.append(entry)
            if not batch:
                break
            _write_seals(batch)
            head.seq, head.last_hash, head.last_at, head.newest_occurred_at = (
                seq,
                prev_hash,
                sealed_at,
                newest,
            )
            head.save(update_fields=["seq", "last_hash", "last_at", "newest_occurred_at"])
        sealed += len(batch)
    if refusals:
        _log_refusals()
    return sealed


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_seq: int | None
    problem: str | None
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    # Entries written but not linked when the walk ended (written by transactions still running,
    # or refused by the sealer).
    unsealed: int = 0
    # Entries whose time is off by more than the allowed clock skew: sealed ones dated before an
    # earlier entry of the chain (sealed before the sealer checked times, or by a sealer with a
    # larger skew), and committed ones the sealer refuses (`refused_entries`). Not a break of the
    # chain — every hash still holds — but times that cannot all be true.
    clock_problems: tuple[str, ...] = ()


def chain_fields(entry: AuditEntry) -> tuple[int, str, str]:
    """`seq`, `prev_hash` and `entry_hash` of a sealed entry."""
    if entry.seq is None or entry.prev_hash is None or entry.entry_hash is None:
        raise ValueError(f"audit entry {entry.pk} is not sealed yet")
    return entry.seq, entry.prev_hash, entry.entry_hash


def _link_problem(entry: AuditEntry) -> str:
    """Explains why `entry.prev_hash` is not the previous entry's hash (one query, on failure)."""
    seq, prev_hash, _ = chain_fields(entry)
    target = AuditEntry.objects.filter(entry_hash=prev_hash).values_list("seq", flat=True).first()
    if target is None:
        return f"deleted: entry {entry.seq} links to an entry that is no longer in the log"
    if target >= seq:
        return f"reordered: entry {entry.seq} links to entry {target}, which comes after it"
    return f"deleted or reordered: entry {entry.seq} links to entry {target}, not to the one before it"


def verify_chain() -> ChainReport:
    """Seals what is pending, then walks the log in seq order and reports the first break.

    Finds an altered entry (its hash no longer matches its content), a deleted entry (a gap in
    seq, a link to a missing entry, or a head that names a later entry than the last one) and
    reordered entries (links that point forward, or seal times that go backwards).
    """
    seal_pending()
    checked = 0
    prev_seq = 0
    prev_hash = GENESIS_HASH
    prev_at: datetime.datetime | None = None
    skew = max_clock_skew()
    newest: tuple[int, datetime.datetime] | None = None  # seq and time of the newest entry so far
    clock_problems: list[str] = []

    def bad(seq: int, problem: str) -> ChainReport:
        return ChainReport(ok=False, checked=checked, first_bad_seq=seq, problem=problem)

    for entry in AuditEntry.objects.filter(seq__isnull=False).order_by("seq").iterator(chunk_size=2000):
        seq, entry_prev_hash, entry_hash = chain_fields(entry)
        if seq != prev_seq + 1:
            return bad(seq, f"deleted: seq jumps from {prev_seq} to {seq}")
        if entry_prev_hash != prev_hash:
            return bad(seq, _link_problem(entry))
        entry_at = entry.sealed_at or entry.occurred_at
        if prev_at is not None and entry_at < prev_at:
            return bad(seq, f"reordered: entry {seq} is dated before entry {prev_seq}")
        if compute_entry_hash(entry) != entry_hash:
            return bad(seq, f"altered: entry {seq} no longer matches its hash")
        if newest is not None and entry.occurred_at < newest[1] - skew:
            seconds = (newest[1] - entry.occurred_at).total_seconds()
            clock_problems.append(
                f"entry {seq} (id {entry.pk}) is dated {entry.occurred_at.isoformat()}, {seconds:.0f} s "
                f"before entry {newest[0]}; at most {skew.total_seconds():.0f} s are allowed"
            )
        if newest is None or entry.occurred_at > newest[1]:
            newest = (seq, entry.occurred_at)
        checked += 1
        prev_seq, prev_hash, prev_at = seq, entry_hash, entry_at

    head = AuditHead.objects.filter(pk=1).first()
    if head is not None and (head.seq, head.last_hash) != (prev_seq, prev_hash):
        if head.seq > prev_seq:
            problem = f"deleted: the head names entry {head.seq} but the log ends at {prev_seq}"
        else:
            problem = f"head mismatch: the head names entry {head.seq}, the log ends at {prev_seq}"
        return bad(prev_seq + 1 if head.seq > prev_seq else head.seq, problem)
    unsealed = AuditEntry.objects.filter(seq__isnull=True).count()
    if unsealed:
        clock_problems += [
            f"unsealed entry id {e.id} is refused by the sealer: {e.problem}" for e in refused_entries()
        ]
    return ChainReport(
        ok=True,
        checked=checked,
        first_bad_seq=None,
        problem=None,
        head_seq=prev_seq,
        head_hash=prev_hash,
        unsealed=unsealed,
        clock_problems=tuple(clock_problems),
    )
