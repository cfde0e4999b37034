"""Rows inserted unless their unique key is taken: one statement, no savepoint, the ids of the
rows that went in — and a taken key leaves the caller's transaction usable."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from huibao.core.inserts import insert_unless_taken
from huibao.core.models import EvidenceRoot

pytestmark = pytest.mark.django_db


def _root(ref: str, root: str = "a" * 64) -> EvidenceRoot:
    from django.utils import timezone

    return EvidenceRoot(kind="test", batch_ref=ref, size=1, root=root, created_at=timezone.now())


def test_a_new_row_goes_in_with_its_id_in_one_statement() -> None:
    row = _root("B1")
    with CaptureQueriesContext(connection) as captured:
        inserted = insert_unless_taken([row])
    assert inserted == [row] and row.pk is not None and not row._state.adding
    assert len(captured.captured_queries) == 1
    assert EvidenceRoot.objects.get(pk=row.pk).batch_ref == "B1"


def test_a_taken_key_is_skipped_and_the_transaction_goes_on() -> None:
    first = _root("B1")
    insert_unless_taken([first])
    with transaction.atomic():
        # when the same key is inserted again, with another value
        again = _root("B1", root="b" * 64)
        with CaptureQueriesContext(connection) as captured:
            assert insert_unless_taken([again]) == []
        # then nothing changed, no savepoint was needed and the transaction is usable
        assert again.pk is None and again._state.adding
        assert [q["sql"].split()[0] for q in captured.captured_queries] == ["INSERT"]
        assert list(EvidenceRoot.objects.values_list("batch_ref", "root")) == [("B1", "a" * 64)]


def test_several_rows_tell_which_went_in_by_their_key() -> None:
    insert_unless_taken([_root("B2")])
    rows = [_root("B1"), _root("B2"), _root("B3")]
    inserted = insert_unless_taken(rows, key="batch_ref")
    assert sorted(r.batch_ref for r in inserted) == ["B1", "B3"]
    assert all(r.pk is not None for r in inserted) and rows[1].pk is None
    assert EvidenceRoot.objects.count() == 3


def test_several_rows_need_a_key() -> None:
    with pytest.raises(ValueError):
        insert_unless_taken([_root("B1"), _root("B2")])
