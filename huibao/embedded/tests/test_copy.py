"""The COPY path (PostgreSQL) and the `bulk_create` path write the same policies: every
column of the policy, party, status and evidence rows, the schedule decrypted, compared
between the same call issued each way (ids, public ids, verification codes and write times,
which are new on every issue, left out)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from huibao.core import bulkcopy
from huibao.embedded import services
from huibao.embedded.models import EmbeddedSaleEvidence
from huibao.embedded.tests import factories as f
from huibao.policy.models import Policy, PolicyParty, PolicyStatusChange

pytestmark = pytest.mark.django_db

# New on every issue whichever the path: the row ids (from the sequences, never rolled back),
# the random public id, verification code and batch reference, and the time of the write.
VOLATILE = {
    "id",
    "public_id",
    "verification_code",
    "created_at",
    "batch_ref",
    "premium_batch_id",
    "policy_id",
}


class _Undo(Exception):
    pass


def _rows(channel_id: int) -> dict[str, Any]:
    def clean(rows: Any) -> list[dict[str, Any]]:
        return sorted(
            ({k: v for k, v in row.items() if k not in VOLATILE} for row in rows),
            key=lambda r: (r.get("number") or r.get("policy__number"), str(r.get("role", ""))),
        )

    return {
        "policies": clean(Policy.objects.filter(seller_id=channel_id).values()),
        "parties": clean(
            PolicyParty.objects.filter(policy__seller_id=channel_id).values(
                *[f.attname for f in PolicyParty._meta.concrete_fields], "policy__number"
            )
        ),
        "status": clean(
            PolicyStatusChange.objects.filter(policy__seller_id=channel_id).values(
                *[f.attname for f in PolicyStatusChange._meta.concrete_fields], "policy__number"
            )
        ),
        "evidence": clean(
            EmbeddedSaleEvidence.objects.filter(channel_id=channel_id).values(
                *[f.attname for f in EmbeddedSaleEvidence._meta.concrete_fields], "policy__number"
            )
        ),
    }


def _issued_and_undone(channel, sales, now, *, use_copy: bool, monkeypatch) -> dict[str, Any]:
    """The rows one call writes, then rolled back (numbers come from a table row: the second
    call takes the same ones)."""
    monkeypatch.setattr(bulkcopy, "USE_COPY", use_copy)
    rows: dict[str, Any] = {}
    try:
        with transaction.atomic():
            outcomes = services.issue(channel, sales, now=now)
            assert all(o.accepted for o in outcomes)
            rows = _rows(channel.pk)
            raise _Undo
    except _Undo:
        pass
    return rows


def test_the_copy_path_and_bulk_create_write_the_same_rows(monkeypatch):
    # given: a warm product and 30 good sales (two plans, several order amounts)
    product = f.return_shipping()
    channel = f.channel()
    docs: dict[int, Any] = {}
    sales = [
        f.sale(
            product,
            docs_cache=docs,
            order_amount=str(20 + 97 * i),
            plan_code=("plus" if i % 3 else "standard"),
        )
        for i in range(30)
    ]
    now = timezone.now()
    # when: the same call issued each way
    copied = _issued_and_undone(channel, sales, now, use_copy=True, monkeypatch=monkeypatch)
    created = _issued_and_undone(channel, sales, now, use_copy=False, monkeypatch=monkeypatch)
    # then: the same rows, column by column (the schedule compared decrypted)
    assert len(copied["policies"]) == 30 and len(copied["parties"]) == 60
    assert len(copied["status"]) == 30 and len(copied["evidence"]) == 30
    for table in ("policies", "parties", "status", "evidence"):
        assert copied[table] == created[table], table
    # and nothing is left behind by either
    assert not Policy.objects.filter(seller=channel).exists()


def test_the_few_rows_insert_and_bulk_create_write_the_same_rows(monkeypatch):
    # given: 3 sales (below COPY_MIN_ROWS: on PostgreSQL one `INSERT … VALUES` per table,
    # composed once per model, the columns computed as for COPY)
    product = f.return_shipping()
    channel = f.channel()
    docs: dict[int, Any] = {}
    sales = [f.sale(product, docs_cache=docs, order_amount=str(20 + 400 * i)) for i in range(3)]
    assert len(sales) < bulkcopy.COPY_MIN_ROWS
    now = timezone.now()
    # when
    inserted = _issued_and_undone(channel, sales, now, use_copy=True, monkeypatch=monkeypatch)
    created = _issued_and_undone(channel, sales, now, use_copy=False, monkeypatch=monkeypatch)
    # then
    assert len(inserted["policies"]) == 3 and len(inserted["parties"]) == 6
    for table in ("policies", "parties", "status", "evidence"):
        assert inserted[table] == created[table], table
