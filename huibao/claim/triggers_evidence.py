"""The evidence of an event's payouts: one Merkle root per event in the audit chain.

An event paying a flight of 10,000 travellers used to write three audit entries per traveller
(the benefit recorded, the payout requested, the automatic benefit): 30,000 entries, the largest
write of the event and 30,000 links for the single sealer. Instead, as embedded issuance does for
its batches (`core.evidence`), each traveller's payout is ONE leaf — reference
`E<event>:<policy>` (the payout's reference), digest the SHA-256 of the canonical JSON of
`document(...)` — and the event's leaves go under one RFC 6962 root that ONE audit entry seals
(`evidence.seal(KIND, "E<event>", leaves)`). `manage.py verify_audit` recomputes every root from
its stored leaves (`evidence.verify_roots`), and any one traveller's payout is provable against
the chain: `GET /api/v1/evidence/claim.trigger/E<event>:<policy>/proof` (or `prove`) answers the
inclusion proof, `manage.py verify_evidence_proof` checks it, and `check` also recomputes the
document from the rows as they are now — a changed benefit, entry or payout no longer hashes to
the sealed leaf.

The document names only what does not change after the event: the event, the policy, the
automatic benefit's own values (not its status, which moves on as the payout is paid), its
ledger entry (the benefit JSON by its digest, once per distinct benefit) and the payout first
asked for it (its id, reference, amount, account by its keyed hash and last four digits — no
account number, no name in clear).
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from huibao.claim.event_models import TriggeredPayout
from huibao.claim.models import BenefitEntry
from huibao.claim.triggers_ledger import entry_values
from huibao.core import evidence
from huibao.core.masking import mask_name
from huibao.payment.models import Payout

KIND = "claim.trigger"
# The kind of the payouts an event asks (`triggers.PAYOUT_KIND` is this one).
PAYOUT_KIND = "trigger"


def leaf_ref(event_pk: int, policy_number: str) -> str:
    """A traveller's leaf: its payout's reference, `E<event>:<policy>` (`triggers.payout_reference`)."""
    return f"E{event_pk}:{policy_number}"


def batch_ref(event_pk: int) -> str:
    return f"E{event_pk}"


def canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def json_digest(value: Any) -> str:
    """The SHA-256 (hex) of a JSON value's canonical form (a benefit's explanation)."""
    return hashlib.sha256(canonical(value)).hexdigest()


def payout_part(
    *, payout_id: int, reference: str, amount: Decimal, account_hash: str, account_last4: str, payee_name: str
) -> dict[str, Any]:
    return {
        "id": payout_id,
        "reference": reference,
        "amount": f"{Decimal(amount):.2f}",
        "account_hash": account_hash,
        "account_last4": account_last4,
        "payee": mask_name(payee_name),
    }


def document(
    *,
    event: str,
    key: str,
    policy: str,
    reference: str,
    triggered_payout: str,
    coverage: str,
    amount: Decimal,
    line: str,
    created_at: str,
    benefit_sha256: str,
    entry: dict[str, Any],
    payout: dict[str, Any] | None,
) -> dict[str, Any]:
    """What one traveller's leaf proves (see the module's docstring); `entry` as
    `triggers_ledger.Recorded.entry` holds it, with the digest of its benefit JSON."""
    return {
        "event": event,
        "key": key,
        "policy": policy,
        "reference": reference,
        "triggered_payout": triggered_payout,
        "coverage": coverage,
        "amount": f"{Decimal(amount):.2f}",
        "line": line,
        "created_at": created_at,
        "benefit_sha256": benefit_sha256,
        "entry": entry,
        "payout": payout,
    }


def digest(doc: dict[str, Any]) -> bytes:
    return hashlib.sha256(canonical(doc)).digest()


def document_of(tp: TriggeredPayout) -> dict[str, Any]:
    """The document of `tp`'s leaf recomputed from the rows as they are now (three reads)."""
    reference = leaf_ref(tp.event_id, tp.policy.number)
    entry = (
        BenefitEntry.objects.filter(reference=reference, coverage_code=tp.coverage_code, released=False)
        .select_related("usage")
        .first()
    )
    payout = Payout.objects.filter(kind=PAYOUT_KIND, reference=reference).first()
    entry_part: dict[str, Any] = {}
    if entry is not None:
        entry_part = entry_values(
            entry.usage.period_start, entry.paid, entry.deductible_used, entry.item_paid, entry.days_paid
        )
        entry_part["benefit_sha256"] = json_digest(entry.benefit)
    return document(
        event=str(tp.event.public_id),
        key=tp.key,
        policy=tp.policy.number,
        reference=reference,
        triggered_payout=str(tp.public_id),
        coverage=tp.coverage_code,
        amount=tp.amount,
        line=tp.line,
        created_at=tp.created_at.isoformat(),
        benefit_sha256=json_digest(tp.benefit),
        entry=entry_part,
        payout=None
        if payout is None
        else payout_part(
            payout_id=payout.pk,
            reference=payout.reference,
            amount=payout.amount,
            account_hash=payout.account_number_hash,
            account_last4=payout.account_last4,
            payee_name=payout.payee_name,
        ),
    )


def prove(tp: TriggeredPayout) -> dict[str, Any]:
    """The inclusion proof of `tp`'s leaf (`evidence.prove`), with the document recomputed from
    the rows now (`document`): its digest is the proof's when nothing was changed."""
    proof = evidence.prove(KIND, leaf_ref(tp.event_id, tp.policy.number))
    proof["document"] = document_of(tp)
    return proof


def check(tp: TriggeredPayout) -> evidence.ProofCheck:
    """`tp`'s payout checked against the audit chain: its proof holds (the leaf is under the
    event's root, sealed by the chain's entry) and its rows still hash to the sealed leaf."""
    proof = prove(tp)
    checked = evidence.check_proof_in_chain(proof)
    if digest(proof["document"]).hex() != proof["digest"]:
        return evidence.ProofCheck(
            False, (*checked.problems, "the payout's rows no longer match the evidence sealed for the event")
        )
    return checked
