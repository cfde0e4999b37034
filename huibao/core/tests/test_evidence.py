import hashlib
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from huibao.account.models import User
from huibao.core import evidence, merkle
from huibao.core.audit import compute_entry_hash, entry_from_record, seal_pending, verify_chain
from huibao.core.errors import Conflict, NotFound, ValidationFailed
from huibao.core.models import AuditEntry, EvidenceLeaf, EvidenceRoot

pytestmark = pytest.mark.django_db


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def batch(n: int, prefix: str = "P") -> list[tuple[str, bytes]]:
    return [(f"{prefix}{i:06d}", digest(f"evidence of {prefix}{i}")) for i in range(n)]


def test_seal_writes_the_leaves_and_one_chain_entry():
    # given a batch of 37 policies' evidence digests
    leaves = batch(37)
    entries_before = AuditEntry.objects.count()
    # when it is sealed
    with CaptureQueriesContext(connection) as queries:
        root = evidence.seal("embedded", "B-1", leaves)
    # then the leaves are stored in order, the root is their RFC 6962 root, and the chain has one
    # new entry carrying kind, batch, size and root
    assert len(queries) <= 6
    assert root.size == 37
    assert root.root == merkle.root([evidence.encode_leaf(r, d) for r, d in leaves]).hex()
    stored = list(EvidenceLeaf.objects.filter(root=root).order_by("index").values_list("leaf_ref", "digest"))
    assert [(r, bytes(d)) for r, d in stored] == leaves
    assert AuditEntry.objects.count() == entries_before + 1
    entry = AuditEntry.objects.get(object_type="core.evidenceroot", object_id=str(root.pk))
    assert entry.action == "evidence.seal"
    assert entry.after == {
        "kind": "embedded",
        "batch_ref": "B-1",
        "size": 37,
        "root": root.root,
        "leaf_encoding": evidence.LEAF_ENCODING,
    }


def test_seal_rolls_back_with_the_callers_transaction():
    # given a caller whose transaction fails after sealing
    with pytest.raises(RuntimeError), transaction.atomic():
        evidence.seal("embedded", "B-2", batch(3))
        raise RuntimeError("issuance failed")
    # then nothing of the batch is left
    assert not EvidenceRoot.objects.exists()
    assert not EvidenceLeaf.objects.exists()
    assert not AuditEntry.objects.filter(object_type="core.evidenceroot").exists()


def test_a_batch_and_a_leaf_are_sealed_once():
    evidence.seal("embedded", "B-3", batch(3))
    with pytest.raises(Conflict) as again:
        evidence.seal("embedded", "B-3", batch(3, "Q"))
    assert again.value.code == "evidence_batch_sealed"
    with pytest.raises(Conflict) as leaf:
        evidence.seal("embedded", "B-4", [("P000001", digest("other"))])
    assert leaf.value.code == "evidence_leaf_sealed"
    # another kind is another namespace
    evidence.seal("flight", "B-3", batch(3))
    assert EvidenceRoot.objects.count() == 2


@pytest.mark.parametrize(
    ("kind", "batch_ref", "leaves", "field"),
    [
        ("", "B", [("P1", b"\x00" * 32)], "kind"),
        ("k", "", [("P1", b"\x00" * 32)], "batch_ref"),
        ("k", "B", [], "leaves"),
        ("k", "B", [("P1", b"\x00" * 31)], "leaves[0].digest"),
        ("k", "B", [("P1", b"\x00" * 32), ("P1", b"\x01" * 32)], "leaves[1].leaf_ref"),
        ("k", "B", [("", b"\x00" * 32)], "leaves[0].leaf_ref"),
    ],
)
def test_bad_input_is_refused_naming_the_field(kind, batch_ref, leaves, field):
    with pytest.raises(ValidationFailed) as refused:
        evidence.seal(kind, batch_ref, leaves)
    assert field in [e.field for e in refused.value.errors]
    assert not EvidenceRoot.objects.exists()


def test_every_leaf_proves_against_the_chain():
    # given a sealed batch
    leaves = batch(11)
    evidence.seal("embedded", "B-5", leaves)
    for ref, _ in leaves:
        # when a leaf's proof is asked for
        proof = evidence.prove("embedded", ref)
        # then it checks offline and against the chain
        assert evidence.check_proof(proof).ok, evidence.check_proof(proof).problems
        assert evidence.check_proof_in_chain(proof).ok
    assert proof["audit_seq"] == AuditEntry.objects.get(object_type="core.evidenceroot").seq
    with pytest.raises(NotFound):
        evidence.prove("embedded", "NOPE")


def test_a_changed_policy_fails_its_proof():
    # given the proof of one policy of a batch
    evidence.seal("embedded", "B-6", batch(8))
    proof = evidence.prove("embedded", "P000005")
    # when the policy's evidence (its digest) or its number is changed in the proof
    changed_digest = {**proof, "digest": digest("forged evidence").hex()}
    swapped_ref = {**proof, "leaf_ref": "P000004"}
    other_root = {**proof, "root": "00" * 32}
    # then the proof fails
    assert not evidence.check_proof(changed_digest).ok
    assert not evidence.check_proof(swapped_ref).ok
    assert not evidence.check_proof(other_root).ok


def test_a_changed_stored_leaf_is_refused_and_reported():
    # given a sealed batch whose stored digest is changed afterwards
    root = evidence.seal("embedded", "B-7", batch(5))
    EvidenceLeaf.objects.filter(root=root, index=2).update(digest=digest("forged"))
    # then no proof is handed out for it, and verify_audit reports the batch
    with pytest.raises(evidence.EvidenceCorrupted):
        evidence.prove("embedded", "P000000")
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("verify_audit", stdout=out)
    assert failed.value.returncode == 2
    assert "B-7" in out.getvalue() and "hash to" in out.getvalue()


def test_a_tampered_root_is_detected_by_verify_audit():
    # given two sealed batches, the chain intact
    evidence.seal("embedded", "B-8", batch(4))
    tampered = evidence.seal("embedded", "B-9", batch(4, "Q"))
    call_command("verify_audit", stdout=io.StringIO())
    # when one stored root is replaced by that of forged leaves
    forged = merkle.root([evidence.encode_leaf("Q000000", digest("forged"))] * 4).hex()
    EvidenceRoot.objects.filter(pk=tampered.pk).update(root=forged)
    # then verify_audit fails naming that batch only
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_audit", stdout=out)
    assert "B-9" in out.getvalue() and "B-8" not in out.getvalue()
    assert verify_chain().ok  # the chain itself still holds: the evidence check is what caught it


def test_verify_evidence_proof_command(tmp_path):
    # given a proof written to a file
    evidence.seal("embedded", "B-10", batch(6))
    seal_pending()
    proof = evidence.prove("embedded", "P000003")
    good = tmp_path / "proof.json"
    good.write_text(json.dumps(proof))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**proof, "digest": digest("x").hex()}))
    # then the good one checks, offline and against the chain; the changed one fails
    out = io.StringIO()
    call_command("verify_evidence_proof", str(good), "--chain", stdout=out)
    assert "proof OK" in out.getvalue()
    with pytest.raises(CommandError) as failed:
        call_command("verify_evidence_proof", str(bad), stdout=io.StringIO())
    assert failed.value.returncode == 2
    # a proof whose entry is self-consistent but not the chain's fails with --chain only
    record = {**proof["audit_entry"], "seq": 999}
    record["entry_hash"] = compute_entry_hash(entry_from_record(record))
    foreign = {**proof, "audit_entry": record, "audit_seq": 999, "audit_entry_hash": record["entry_hash"]}
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(foreign))
    call_command("verify_evidence_proof", str(path), stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("verify_evidence_proof", str(path), "--chain", stdout=io.StringIO())


def test_the_proof_endpoint(client):
    # given a sealed batch and a signed-in caller
    evidence.seal("embedded", "B-11", batch(3))
    url = "/api/v1/evidence/embedded/P000002/proof"
    # then without a log-in it answers 401, for an unknown leaf 404, else a proof that checks
    assert client.get(url).status_code == 401
    client.force_login(User.objects.create_user(username="auditor", password="x-Secret-123"))
    response = client.get(url)
    assert response.status_code == 200
    body = response.json()
    assert body["leaf_ref"] == "P000002" and body["size"] == 3
    assert evidence.check_proof_in_chain(body).ok
    missing = client.get("/api/v1/evidence/embedded/P999/proof")
    assert missing.status_code == 404 and missing.json()["code"] == "evidence_not_found"
