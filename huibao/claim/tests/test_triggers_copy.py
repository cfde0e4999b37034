"""A flight's payouts written by `COPY` (PostgreSQL) and by `bulk_create` (the ORM path, and
SQLite's): the same event on the same 20 travellers writes the same benefit usage and entries,
payouts, automatic benefits, evidence documents and audit entries either way (ids, public ids,
times and the event's own id, which are new on every run, left out), each traveller is paid
once, and each traveller's sealed leaf is the digest of the document its rows give."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from huibao.account.models import User, UserKind
from huibao.claim import triggers_evidence
from huibao.claim.event_models import PayoutAccount, TriggeredPayout, TriggerIndex
from huibao.claim.models import BenefitEntry, BenefitUsage
from huibao.claim.tests.factories import GOOD_CARD
from huibao.claim.tests.trigger_factories import departure, flight_policy, flight_version
from huibao.claim.triggers import receive_event
from huibao.claim.triggers_rules import FLIGHT, EventFact
from huibao.core import bulkcopy
from huibao.core.models import AuditEntry, EvidenceLeaf, EvidenceRoot
from huibao.payment.models import Payout
from huibao.policy.models import Policy, PolicyParty

pytestmark = pytest.mark.django_db
TRAVELLERS = 20  # above bulkcopy.COPY_MIN_ROWS: the COPY path on PostgreSQL
VOLATILE = {
    "id",
    "public_id",
    "event_id",
    "payout_id",
    "usage_id",
    "created_at",
    "updated_at",
    "requested_at",
    "next_attempt_at",
    "occurred_at",
    "triggered_payout",
    "object_id",
    "batch_ref",
    "root",
}


class _Undo(Exception):
    pass


def _travellers(count: int) -> tuple[Policy, datetime.date]:
    """One flight policy issued through the real flow, cloned to `count` travellers on MU5101,
    each a customer with a stored payout account (as `bench flight` builds its flights)."""
    template = flight_policy(flight_version())
    base = {f.attname: getattr(template, f.attname) for f in Policy._meta.concrete_fields}
    parties = list(PolicyParty.objects.filter(policy=template))
    index = TriggerIndex.objects.get(policy=template)
    for i in range(1, count):
        owner = User(username=f"copy-traveller-{i}", kind=UserKind.CUSTOMER)
        owner.set_phone(f"1370000{i:04d}")
        owner.set_unusable_password()
        owner.save()
        PayoutAccount.objects.create(
            user=owner, payee_name="旅客", account_number=GOOD_CARD, account_last4=GOOD_CARD[-4:]
        )
        policy = Policy.objects.create(
            **{
                **base,
                "id": None,
                "public_id": uuid.uuid4(),
                "number": f"{template.number}-{i:03d}",
                "verification_code": uuid.uuid4().hex[:16].upper(),
                "application_id": None,
                "item_id": None,
                "customer_id": owner.pk,
            }
        )
        insured = None
        for party in parties:
            party.pk = None
            party.policy = policy
            party.save()
            if party.role == "insured" or insured is None:
                insured = party
        assert insured is not None
        TriggerIndex.objects.create(
            policy=policy, insured=insured, kind=index.kind, key=index.key, plan_code=index.plan_code
        )
    return template, departure(template)


def _normal(value: Any, event_ref: str) -> Any:
    if isinstance(value, str):
        return value.replace(event_ref, "E*:")
    if isinstance(value, dict):
        return {k: _normal(v, event_ref) for k, v in value.items() if k not in VOLATILE and k != "event"}
    if isinstance(value, list):
        return [_normal(v, event_ref) for v in value]
    return value


def _rows(event_pk: int) -> dict[str, Any]:
    ref = f"E{event_pk}:"

    def clean(rows: Any, *keys: str) -> list[Any]:
        out = [_normal(row, ref) for row in rows]
        return sorted(out, key=lambda r: tuple(str(r.get(k)) for k in keys))

    payouts = Payout.objects.filter(reference__startswith=ref)
    made = TriggeredPayout.objects.filter(event_id=event_pk).select_related("policy", "event")
    documents = {tp.policy.number: triggers_evidence.document_of(tp) for tp in made}
    root = EvidenceRoot.objects.get(kind=triggers_evidence.KIND, batch_ref=f"E{event_pk}")
    leaves = {leaf.leaf_ref: bytes(leaf.digest) for leaf in EvidenceLeaf.objects.filter(root=root)}
    return {
        "usage": clean(BenefitUsage.objects.values(), "policy_id", "coverage_code"),
        "entries": clean(BenefitEntry.objects.filter(reference__startswith=ref).values(), "reference"),
        "payouts": clean(payouts.values(), "reference"),
        "benefits": clean(TriggeredPayout.objects.filter(event_id=event_pk).values(), "policy_id"),
        "paid_by": sorted(
            (tp.policy.number, tp.payout.reference.replace(ref, "E*:"))
            for tp in TriggeredPayout.objects.filter(event_id=event_pk).select_related("policy", "payout")
            if tp.payout is not None
        ),
        "documents": clean(
            [{**d, "payout": {**d["payout"], "id": None}} for d in documents.values()], "policy"
        ),
        # every traveller's leaf, under its payout's reference, is the digest of its rows' document
        "leaves_match": sorted(leaves)
        == sorted(f"{ref}{number}" for number in documents)
        == sorted(tp.payout.reference for tp in made.select_related("payout") if tp.payout is not None)
        and all(leaves[f"{ref}{n}"] == triggers_evidence.digest(d) for n, d in documents.items()),
        "audit": clean(
            AuditEntry.objects.filter(action__in=_ACTIONS).values("action", "object_type", "after"),
            "action",
            "after",
        ),
    }


# The event's own entry and the one entry sealing its evidence root (never one per traveller).
_ACTIONS = [
    "claim.trigger_event_received",
    "evidence.seal",
    "claim.benefit_recorded",
    "payout.requested",
    "claim.triggered_payout",
]


def _paid_and_undone(day: datetime.date, *, use_copy: bool, monkeypatch) -> dict[str, Any]:
    monkeypatch.setattr(bulkcopy, "USE_COPY", use_copy)
    fact = EventFact(FLIGHT, "delayed", flight_number="MU5101", flight_date=day, delay_minutes=250)
    rows: dict[str, Any] = {}
    try:
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            receipt = receive_event(
                source="copyfeed", event_id=f"COPY-{use_copy}", fact=fact, payload_sha256="0" * 64
            )
            assert receipt.payouts == TRAVELLERS
            rows = _rows(receipt.event.pk)
            rows["copied"] = sorted(q["sql"].split('"')[1] for q in queries if q["sql"].startswith("COPY"))
            raise _Undo
    except _Undo:
        pass
    return rows


def test_copy_and_the_orm_path_write_the_same_payouts(monkeypatch) -> None:
    # given
    _, day = _travellers(TRAVELLERS)
    # when: the same event paid each way (rolled back in between)
    by_copy = _paid_and_undone(day, use_copy=True, monkeypatch=monkeypatch)
    by_orm = _paid_and_undone(day, use_copy=False, monkeypatch=monkeypatch)
    # then: COPY wrote the four tables on PostgreSQL (and nothing anywhere else)
    copied = ["claim_benefitentry", "claim_triggeredpayout", "core_evidenceleaf", "payment_payout"]
    assert by_copy.pop("copied") == (copied if connection.vendor == "postgresql" else [])
    assert by_orm.pop("copied") == []
    assert by_copy == by_orm
    assert len(by_copy["payouts"]) == len(by_copy["benefits"]) == len(by_copy["entries"]) == TRAVELLERS
    assert len(by_copy["paid_by"]) == TRAVELLERS and by_copy["leaves_match"] is True
    assert len(by_copy["documents"]) == TRAVELLERS
    assert [a["action"] for a in by_copy["audit"]] == ["claim.trigger_event_received", "evidence.seal"]
    assert by_copy["audit"][1]["after"]["size"] == TRAVELLERS
    assert {u["paid"] for u in by_copy["usage"]} == {by_copy["payouts"][0]["amount"]}
