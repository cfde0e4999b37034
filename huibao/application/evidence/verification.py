"""The check of a returned evidence file against the audit chain: unchanged, complete, and
exported by the platform."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from huibao.application.evidence.export import EXPORT_STEP
from huibao.application.evidence.timeline import audit_entries
from huibao.application.models import Application
from huibao.core import audit
from huibao.core.models import GENESIS_HASH, AuditEntry


def verify_evidence(data: Mapping[str, Any]) -> list[str]:
    """Checks an exported JSON file on its own: every entry's hash is recomputed from its fields
    (as the platform computes it) and consecutive entries are linked. Returns the problems."""
    problems: list[str] = []
    records = list(data.get("entries") or [])
    by_seq = {int(r["seq"]): r for r in records}
    for record in records:
        entry = audit.entry_from_record(record)
        if audit.compute_entry_hash(entry) != record["entry_hash"]:
            problems.append(f"entry {record['seq']}: hash mismatch")
        previous = by_seq.get(int(record["seq"]) - 1)
        if previous is not None and previous["entry_hash"] != record["prev_hash"]:
            problems.append(f"entry {record['seq']}: not linked to entry {previous['seq']}")
        if int(record["seq"]) == 1 and record["prev_hash"] != GENESIS_HASH:
            problems.append("entry 1: not linked to the genesis hash")
    return problems


def verify_export(application: Application, raw: bytes) -> list[str]:
    """Checks an exported JSON file of `application` against the audit chain; returns the problems
    (none: the file is exactly as exported and matches the chain).

    Beyond `verify_evidence` (each entry's hash recomputed, consecutive entries linked): every
    entry in the file must be the entry the chain holds at its seq (an entry rewritten with a
    recomputed hash is found), every entry of the application up to the file's last one must be
    in it (a removed entry is found), and the file's SHA-256 must be that of a recorded export of
    this application (any changed byte — also in the timeline, facts or documents — is found)."""
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        problems = verify_evidence(data)
        exported = {int(r["seq"]): str(r["entry_hash"]) for r in data.get("entries") or []}
    except (ValueError, KeyError, TypeError) as exc:
        return [f"not an evidence file of this platform: {exc}"]
    facts = data.get("application")
    app_id = facts.get("public_id") if isinstance(facts, dict) else None
    if app_id != str(application.public_id):
        problems.append(f"the file is the evidence of application {app_id}, not {application.public_id}")
    stored = dict(AuditEntry.objects.filter(seq__in=list(exported)).values_list("seq", "entry_hash"))
    for seq, entry_hash in sorted(exported.items()):
        if stored.get(seq) != entry_hash:
            problems.append(f"entry {seq}: differs from the audit chain")
    last = max(exported, default=0)
    for entry in audit_entries(application):
        seq = audit.chain_fields(entry)[0]
        if seq <= last and seq not in exported:
            problems.append(f"entry {seq}: in the audit chain but missing from the file")
    digest = hashlib.sha256(raw).hexdigest()
    recorded = AuditEntry.objects.filter(
        object_type="application",
        object_id=str(application.public_id),
        action=f"application.{EXPORT_STEP}",
        after__sha256=digest,
    )
    if not recorded.exists():
        problems.append(f"file SHA-256 {digest} is not that of any recorded export: the file was changed")
    return problems
