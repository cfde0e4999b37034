"""Evidence at volume: a batch of leaves under one Merkle root, one audit-chain entry per batch.

One audit entry per policy would make the chain (and its single sealer) the bottleneck of bulk
issuance. `seal` stores a batch's leaves — (reference, SHA-256 digest of its evidence), e.g.
(policy number, digest of the sale's evidence) — computes their RFC 6962 root
(`huibao.core.merkle`) and records ONE entry carrying kind, batch, size and root. `prove` answers
any one leaf's inclusion proof together with that entry, so anyone can check offline that the leaf
is in the batch whose root the chain holds (`manage.py verify_evidence_proof`), and
`verify_roots` (run by `manage.py verify_audit`) recomputes every batch from its stored leaves.

A leaf of the tree is `encode_leaf(leaf_ref, digest)`: the reference's UTF-8 length as two bytes
big-endian, the reference, the 32-byte digest — so the proof binds the reference to its digest,
and a swapped reference fails as a changed digest does.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from huibao.core import audit, bulkcopy, merkle, partitioning
from huibao.core.bulkcopy import COPY_MIN_ROWS, copy_create
from huibao.core.errors import Conflict, DomainError, FieldError, NotFound, ValidationFailed
from huibao.core.models import AuditEntry, EvidenceLeaf, EvidenceRoot

SEAL_ACTION = "evidence.seal"
OBJECT_TYPE = "core.evidenceroot"
LEAF_ENCODING = "rfc6962-sha256/u16len-ref-digest"
KIND_MAX = EvidenceRoot._meta.get_field("kind").max_length or 40
REF_MAX = EvidenceLeaf._meta.get_field("leaf_ref").max_length or 100
BATCH_MAX = EvidenceRoot._meta.get_field("batch_ref").max_length or 100
# Leaves written per INSERT where there is no COPY (one statement per this many).
INSERT_BATCH = 5000
_LEAF_TABLE = EvidenceLeaf._meta.db_table
_LEAF_COLUMNS = ("root_id", "index", "kind", "leaf_ref", "digest", "created_at")


class EvidenceCorrupted(DomainError):
    """Stored leaves no longer hash to the root the audit chain holds: they were changed."""

    code = "evidence_corrupted"
    http_status = 500


def encode_leaf(leaf_ref: str, digest: bytes) -> bytes:
    ref = leaf_ref.encode()
    return len(ref).to_bytes(2, "big") + ref + digest


def _checked(kind: str, batch_ref: str, leaves: Sequence[tuple[str, bytes]]) -> None:
    errors = []
    if not kind or len(kind) > KIND_MAX:
        errors.append(FieldError("kind", "invalid", f"kind：须为1至{KIND_MAX}个字符"))
    if not batch_ref or len(batch_ref) > BATCH_MAX:
        errors.append(FieldError("batch_ref", "invalid", f"batch_ref：须为1至{BATCH_MAX}个字符"))
    if not leaves:
        errors.append(FieldError("leaves", "required", "leaves：至少一项"))
    seen: set[str] = set()
    for i, (ref, digest) in enumerate(leaves):
        if not ref or len(ref) > REF_MAX:
            errors.append(FieldError(f"leaves[{i}].leaf_ref", "invalid", f"leaf_ref：须为1至{REF_MAX}个字符"))
        elif ref in seen:
            errors.append(FieldError(f"leaves[{i}].leaf_ref", "duplicate", f"leaf_ref：{ref} 在本批中重复"))
        seen.add(ref)
        if not isinstance(digest, bytes | bytearray) or len(digest) != merkle.DIGEST_SIZE:
            errors.append(FieldError(f"leaves[{i}].digest", "invalid", "digest：须为32字节的SHA-256摘要"))
        if len(errors) >= 20:
            break
    if errors:
        raise ValidationFailed("证据批次有误：" + "；".join(e.message for e in errors[:3]), errors=errors)


def seal(
    kind: str, batch_ref: str, leaves: Sequence[tuple[str, bytes]], *, fresh: bool = False
) -> EvidenceRoot:
    """Stores `leaves` (in order) under their Merkle root and records one audit entry for it.

    Runs in the caller's transaction (a savepoint-free atomic block when there is none): the batch
    and its entry commit or roll back with the issuance they prove. A `batch_ref` is sealed once
    per kind, a `leaf_ref` once per kind (Conflict otherwise). Queries: two existence checks,
    one insert for the root, one COPY of the leaves (PostgreSQL), one insert for the entry.

    `fresh`: the caller vouches that the batch and its leaves are new — a `batch_ref` it has just
    drawn at random and leaf refs it has just created in this transaction under their own unique
    constraint (the embedded sale's policy numbers) — so the two existence checks are skipped
    (the unique (kind, batch_ref) still refuses a taken batch, as an IntegrityError).
    """
    _checked(kind, batch_ref, leaves)
    refs = [ref for ref, _ in leaves]
    # Cheap guards, not a lock: two batches racing with the same batch_ref meet the unique
    # constraint; with the same leaf_ref (the caller's numbers are unique already) they
    # would both be stored, and `prove` answers the later one. Read before the atomic block: a
    # refusal leaves the caller's transaction usable.
    if not fresh:
        _refuse_sealed(kind, batch_ref, refs)
    with transaction.atomic(savepoint=False):
        head = merkle.root([encode_leaf(ref, bytes(digest)) for ref, digest in leaves])
        now = timezone.now()
        [root] = copy_create(
            EvidenceRoot,
            [EvidenceRoot(kind=kind, batch_ref=batch_ref, size=len(leaves), root=head.hex(), created_at=now)],
        )
        _insert_leaves(root, leaves)
        audit.record(SEAL_ACTION, OBJECT_TYPE, str(root.pk), actor="evidence", after=sealed_fields(root))
    return root


def _refuse_sealed(kind: str, batch_ref: str, refs: list[str]) -> None:
    if EvidenceRoot.objects.filter(kind=kind, batch_ref=batch_ref).exists():
        raise Conflict(f"证据批次 {kind}/{batch_ref} 已封存", code="evidence_batch_sealed")
    taken = _already_sealed(kind, refs)
    if taken:
        raise Conflict(
            f"证据 {kind}/{'、'.join(taken)} 已在其他批次中封存",
            code="evidence_leaf_sealed",
            errors=[FieldError("leaves", "duplicate", f"leaf_ref：{ref} 已封存") for ref in taken],
        )


def _already_sealed(kind: str, refs: list[str]) -> list[str]:
    """Up to three of `refs` sealed before under `kind`."""
    if connection.vendor == "postgresql":
        # One array parameter instead of one per reference: half the time at 1,000 references.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT leaf_ref FROM {_LEAF_TABLE} WHERE kind = %s AND leaf_ref = ANY(%s) LIMIT 3",  # noqa: S608
                [kind, refs],
            )
            return [row[0] for row in cursor.fetchall()]
    rows = EvidenceLeaf.objects.filter(kind=kind, leaf_ref__in=refs).values_list("leaf_ref", flat=True)
    return list(rows[:3])


def _insert_leaves(root: EvidenceRoot, leaves: Sequence[tuple[str, bytes]]) -> None:
    """The batch's leaves, in order: `COPY` on PostgreSQL (1,000 leaves in ≈ 15 ms, where
    `bulk_create` took 200–600 ms on a loaded 2-core machine), one `INSERT … VALUES` for fewer
    than `COPY_MIN_ROWS` (a COPY costs more round trips than one statement), `bulk_create`
    elsewhere (and where `bulkcopy.USE_COPY` is off, as the ORM path of the tests has it)."""
    if connection.vendor == "postgresql" and (len(leaves) < COPY_MIN_ROWS or bulkcopy.USE_COPY):
        columns = ", ".join(connection.ops.quote_name(c) for c in _LEAF_COLUMNS)
        if len(leaves) < COPY_MIN_ROWS:
            one = "(" + ", ".join(["%s"] * len(_LEAF_COLUMNS)) + ")"
            params: list[Any] = []
            for i, (ref, digest) in enumerate(leaves):
                params += [root.pk, i, root.kind, ref, bytes(digest), root.created_at]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {_LEAF_TABLE} ({columns}) VALUES {', '.join([one] * len(leaves))}",  # noqa: S608
                    params,
                )
            return
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {_LEAF_TABLE} ({columns}) FROM STDIN") as copy,
        ):
            for i, (ref, digest) in enumerate(leaves):
                copy.write_row((root.pk, i, root.kind, ref, bytes(digest), root.created_at))
        if connection.queries_logged:
            # The COPY bypasses Django's cursor wrapper: logged by hand (query ceilings count it).
            connection.queries_log.append(
                {
                    "sql": f"COPY {connection.ops.quote_name(_LEAF_TABLE)} -- {len(leaves)} rows",
                    "time": "0.000",
                }
            )
        return
    EvidenceLeaf.objects.bulk_create(
        (
            EvidenceLeaf(
                root_id=root.pk,
                index=i,
                kind=root.kind,
                leaf_ref=ref,
                digest=bytes(digest),
                created_at=root.created_at,
            )
            for i, (ref, digest) in enumerate(leaves)
        ),
        batch_size=INSERT_BATCH,
    )


def sealed_fields(root: EvidenceRoot) -> dict[str, Any]:
    """What the chain entry of a root carries (its `after`)."""
    return {
        "kind": root.kind,
        "batch_ref": root.batch_ref,
        "size": root.size,
        "root": root.root,
        "leaf_encoding": LEAF_ENCODING,
    }


def _leaves_of(root: EvidenceRoot) -> list[tuple[int, str, bytes]]:
    # created_at: the partition key, so PostgreSQL reads one month's partition only.
    rows = EvidenceLeaf.objects.filter(root=root, created_at=root.created_at).order_by("index")
    return [(i, ref, bytes(d)) for i, ref, d in rows.values_list("index", "leaf_ref", "digest")]


def _entry_of(root: EvidenceRoot) -> AuditEntry | None:
    return (
        AuditEntry.objects.filter(object_type=OBJECT_TYPE, object_id=str(root.pk), action=SEAL_ACTION)
        .order_by("id")
        .first()
    )


def prove(kind: str, leaf_ref: str) -> dict[str, Any]:
    """The inclusion proof of one leaf, with the audit entry that seals its root (as
    `audit.entry_record`, so its hash can be recomputed offline). NotFound when never sealed;
    EvidenceCorrupted when the stored batch no longer hashes to the root in the chain."""
    leaf = (
        EvidenceLeaf.objects.filter(kind=kind, leaf_ref=leaf_ref)
        .select_related("root")
        .order_by("-id")
        .first()
    )
    if leaf is None:
        raise NotFound(f"未找到 {kind}/{leaf_ref} 的证据", code="evidence_not_found")
    root = leaf.root
    audit.seal_pending()  # every reader of the chain seals first, so the entry has its seq
    entry = _entry_of(root)
    stored = _leaves_of(root)
    encoded = [encode_leaf(ref, digest) for _, ref, digest in stored]
    chained = entry.after if entry is not None and isinstance(entry.after, dict) else {}
    if (
        entry is None
        or entry.seq is None
        or [i for i, _, _ in stored] != list(range(root.size))
        or merkle.root(encoded).hex() != chained.get("root")
        or chained.get("size") != root.size
    ):
        raise EvidenceCorrupted(f"证据批次 {root.kind}/{root.batch_ref} 与审计链不符")
    index = leaf.index
    path = merkle.inclusion_proof(encoded, index)
    return {
        "kind": root.kind,
        "batch_ref": root.batch_ref,
        "leaf_ref": leaf.leaf_ref,
        "digest": bytes(leaf.digest).hex(),
        "index": index,
        "size": root.size,
        "path": [p.hex() for p in path],
        "root": chained["root"],
        "leaf_encoding": LEAF_ENCODING,
        "audit_seq": entry.seq,
        "audit_entry_hash": entry.entry_hash,
        "audit_entry": audit.entry_record(entry),
    }


@dataclass(frozen=True, slots=True)
class ProofCheck:
    ok: bool
    problems: tuple[str, ...]


def check_proof(proof: Mapping[str, Any]) -> ProofCheck:
    """Checks a proof made by `prove` with nothing but its own content: the path hashes the leaf
    up to the root, the root and size are those of the audit entry, and the entry's hash is the
    hash of its fields. (That the entry is in the chain is `manage.py verify_evidence_proof
    --chain`'s part.)"""
    problems: list[str] = []
    try:
        leaf = encode_leaf(str(proof["leaf_ref"]), bytes.fromhex(proof["digest"]))
        path = [bytes.fromhex(p) for p in proof["path"]]
        root = bytes.fromhex(proof["root"])
        index, size = int(proof["index"]), int(proof["size"])
        record = proof["audit_entry"]
        entry = audit.entry_from_record(record)
    except (KeyError, TypeError, ValueError) as exc:
        return ProofCheck(False, (f"not a proof: {exc!r}",))
    if proof.get("leaf_encoding") != LEAF_ENCODING:
        problems.append(f"unknown leaf encoding {proof.get('leaf_encoding')!r}")
    if len(bytes.fromhex(proof["digest"])) != merkle.DIGEST_SIZE:
        problems.append("the digest is not 32 bytes")
    if not merkle.verify_inclusion(leaf, index, size, path, root):
        problems.append(f"the leaf {proof['leaf_ref']} at {index} of {size} does not hash to the root")
    after = record.get("after") if isinstance(record.get("after"), dict) else {}
    if record.get("action") != SEAL_ACTION or record.get("object_type") != OBJECT_TYPE:
        problems.append("the audit entry is not an evidence seal")
    for name in ("kind", "batch_ref", "size", "root"):
        if after.get(name) != proof.get(name):
            problems.append(f"{name} {proof.get(name)!r} is not the chain's {after.get(name)!r}")
    if audit.compute_entry_hash(entry) != record.get("entry_hash"):
        problems.append("the audit entry does not match its hash")
    if record.get("entry_hash") != proof.get("audit_entry_hash") or record.get("seq") != proof.get(
        "audit_seq"
    ):
        problems.append("audit_seq / audit_entry_hash are not the entry's")
    return ProofCheck(not problems, tuple(problems))


def check_proof_in_chain(proof: Mapping[str, Any]) -> ProofCheck:
    """`check_proof`, and the entry is the one the database's chain holds at that seq (the chain
    itself is `verify_chain`'s to check)."""
    checked = check_proof(proof)
    audit.seal_pending()
    held = AuditEntry.objects.filter(seq=proof.get("audit_seq")).values_list("entry_hash", flat=True).first()
    if held is None:
        return ProofCheck(False, (*checked.problems, f"the chain has no entry {proof.get('audit_seq')}"))
    if held != proof.get("audit_entry_hash"):
        return ProofCheck(
            False, (*checked.problems, f"the chain's entry {proof.get('audit_seq')} has another hash")
        )
    return checked


def _roots() -> Iterator[EvidenceRoot]:
    return EvidenceRoot.objects.order_by("id").iterator(chunk_size=500)


def verify_roots(since: datetime.datetime | None = None) -> list[str]:
    """Recomputes every sealed batch (since `since`) from its stored leaves; the problems found: a
    batch whose leaves no longer hash to its root, a root column that differs from the chain's,
    a batch without its chain entry."""
    problems: list[str] = []
    # Leaves dropped with their month's partition after their retention no longer prove anything;
    # their roots stay (and in the chain).
    kept = partitioning.retention_months().get(EvidenceLeaf._meta.db_table)
    purged_before = (
        partitioning.add_months(partitioning.month_start(timezone.now()), -kept[1]) if kept else None
    )
    for root in _roots():
        if since is not None and root.created_at < since:
            continue
        if purged_before is not None and root.created_at < purged_before:
            continue
        name = f"evidence {root.kind}/{root.batch_ref} (root id {root.pk})"
        entry = _entry_of(root)
        if entry is None:
            problems.append(f"{name}: no audit entry seals it")
            continue
        chained = entry.after if isinstance(entry.after, dict) else {}
        stored = _leaves_of(root)
        if [i for i, _, _ in stored] != list(range(chained.get("size", root.size))):
            problems.append(f"{name}: {len(stored)} leaves stored, the chain sealed {chained.get('size')}")
            continue
        computed = merkle.root([encode_leaf(ref, digest) for _, ref, digest in stored]).hex()
        if computed != chained.get("root"):
            problems.append(f"{name}: the leaves hash to {computed}, the chain holds {chained.get('root')}")
        if root.root != chained.get("root") or root.size != chained.get("size"):
            problems.append(f"{name}: the stored root/size differ from the chain's (changed after sealing)")
    return problems
