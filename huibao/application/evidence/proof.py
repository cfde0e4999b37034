"""The chain proof of an application's entries: each entry's hash recomputed, each linked to the one
before it in the chain, and the whole chain verified."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from huibao.application.evidence.timeline import TimelineEntry, _timeline_from, audit_entries
from huibao.application.models import Application
from huibao.core import audit
from huibao.core.models import GENESIS_HASH, AuditEntry


@dataclass(frozen=True, slots=True)
class EntryProof:
    seq: int
    action: str
    object_type: str
    object_id: str
    occurred_at: datetime.datetime
    entry_hash: str
    prev_hash: str
    recomputed_hash: str
    hash_ok: bool
    link_ok: bool  # prev_hash is the hash of the entry before it in the chain (or genesis)


@dataclass(frozen=True, slots=True)
class ChainProof:
    entries: tuple[EntryProof, ...]
    chain: audit.ChainReport
    problems: tuple[str, ...]

    @property
    def entries_ok(self) -> bool:
        return all(p.hash_ok and p.link_ok for p in self.entries)

    @property
    def ok(self) -> bool:
        return self.entries_ok and self.chain.ok


def _proof_of(entries: Sequence[AuditEntry]) -> ChainProof:
    links = [(e, *audit.chain_fields(e)) for e in entries]
    wanted = {seq - 1 for _, seq, _, _ in links if seq > 1}
    predecessors = dict(AuditEntry.objects.filter(seq__in=wanted).values_list("seq", "entry_hash"))
    proofs: list[EntryProof] = []
    problems: list[str] = []
    for e, seq, prev_hash, entry_hash in links:
        recomputed = audit.compute_entry_hash(e)
        hash_ok = recomputed == entry_hash
        expected_prev = GENESIS_HASH if seq == 1 else predecessors.get(seq - 1)
        link_ok = expected_prev is not None and expected_prev == prev_hash
        if not hash_ok:
            problems.append(f"第{seq}条记录（{e.action}）的内容与其哈希不符：记录已被改动")
        if not link_ok:
            problems.append(f"第{seq}条记录与链上前一条记录的哈希链接不符：记录被删除或调换")
        proofs.append(
            EntryProof(
                seq=seq,
                action=e.action,
                object_type=e.object_type,
                object_id=e.object_id,
                occurred_at=e.occurred_at,
                entry_hash=entry_hash,
                prev_hash=prev_hash,
                recomputed_hash=recomputed,
                hash_ok=hash_ok,
                link_ok=link_ok,
            )
        )
    report = audit.verify_chain()
    if not report.ok:
        problems.append(f"全链校验未通过（第{report.first_bad_seq}条）：{report.problem}")
    return ChainProof(entries=tuple(proofs), chain=report, problems=tuple(problems))


def timeline_with_proof(application: Application) -> tuple[list[TimelineEntry], ChainProof]:
    """`timeline` and `chain_proof` from one read of the entries."""
    entries = audit_entries(application)
    return _timeline_from(application, entries), _proof_of(entries)


def chain_proof(application: Application) -> ChainProof:
    """For each entry of the application: its hashes, the recomputed hash and the link to the
    entry before it; and the verification of the whole chain."""
    return _proof_of(audit_entries(application))
