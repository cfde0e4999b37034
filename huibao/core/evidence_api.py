"""`GET /api/v1/evidence/{kind}/{leaf_ref}/proof`: the inclusion proof of one piece of sealed
evidence (`huibao.core.evidence.prove`), for any signed-in caller — staff, a partner's client, the
policyholder's own tooling. It holds hashes, the reference and the sealing audit entry, no
personal data; `manage.py verify_evidence_proof FILE.json` checks what it answers."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.security import django_auth

from huibao.core import evidence
from huibao.core.api_schemas import errors

router = Router(tags=["evidence"])


class AuditEntryOut(Schema):
    seq: int
    occurred_at: str
    sealed_at: str | None
    actor_id: int | None
    actor_label: str
    action: str
    object_type: str
    object_id: str
    before: Any
    after: Any
    ip: str | None
    user_agent: str
    prev_hash: str
    entry_hash: str


class ProofOut(Schema):
    kind: str
    batch_ref: str
    leaf_ref: str
    digest: str = Field(description="the SHA-256 digest of the evidence, hex")
    index: int = Field(description="the leaf's place in its batch, from 0")
    size: int = Field(description="the number of leaves of the batch")
    path: list[str] = Field(description="RFC 6962 audit path, siblings from the leaf up, hex")
    root: str = Field(description="the batch's Merkle root as the audit chain holds it, hex")
    leaf_encoding: str = Field(
        description="a leaf is u16 big-endian length of leaf_ref (UTF-8) || leaf_ref || digest",
        examples=[evidence.LEAF_ENCODING],
    )
    audit_seq: int
    audit_entry_hash: str
    audit_entry: AuditEntryOut = Field(description="the entry sealing the root; its hash can be recomputed")


@router.get(
    "/evidence/{kind}/{leaf_ref}/proof",
    response={200: ProofOut, **errors(404, 500)},
    auth=django_auth,
    summary="Inclusion proof of sealed evidence",
)
def evidence_proof(request: HttpRequest, kind: str, leaf_ref: str) -> dict[str, Any]:
    return evidence.prove(kind, leaf_ref)
