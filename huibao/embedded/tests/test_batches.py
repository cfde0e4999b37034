"""Asynchronous batches: processed in chunks, each chunk committed with its policies; a batch
whose worker died after a chunk is finished exactly once by the sweep; a channel sees only its
own batches. And concurrent calls for one order issue one policy (PostgreSQL)."""

from __future__ import annotations

import dataclasses
import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.utils import timezone

from huibao.core.errors import NotFound
from huibao.embedded import selectors, services
from huibao.embedded.models import EmbeddedBatchChunk, EmbeddedSaleEvidence
from huibao.embedded.rules import ShownDocument
from huibao.embedded.states import BatchStatus
from huibao.embedded.tests import factories as f
from huibao.policy.models import Policy


def _rows(product, n, *, bad_every=4):
    docs = {}
    rows = [f.sale(product, docs_cache=docs) for _ in range(n)]
    for i in range(0, n, bad_every) if bad_every else ():
        rows[i] = dataclasses.replace(rows[i], identity_ref="not-a-hash")
    return rows


@pytest.mark.django_db
def test_a_batch_is_processed_in_chunks_and_reports_each_row(django_capture_on_commit_callbacks):
    # given
    product = f.return_shipping()
    channel = f.channel()
    rows = _rows(product, 10)
    done = []
    services.embedded_batch_done.register(done.append)
    try:
        # when: submitted (the job is enqueued on commit), then run
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            batch = services.submit_batch(channel, rows, chunk_size=4)
        assert len(callbacks) == 1
        assert batch.status == BatchStatus.PENDING
        services.process_batch(batch.pk)
    finally:
        services.embedded_batch_done.unregister(done.append)
    # then
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE and batch.finished_at is not None
    assert (batch.total, batch.accepted, batch.refused) == (10, 7, 3)
    assert EmbeddedBatchChunk.objects.filter(batch=batch).count() == 3
    assert Policy.objects.count() == 7
    assert batch.premium_total == Decimal("7.00")  # 199 元 orders: 1.00 each
    view = selectors.batch_status(channel, batch.public_id)
    assert [o.index for o in view.outcomes] == list(range(10))
    assert [o.accepted for o in view.outcomes] == [i % 4 != 0 for i in range(10)]
    assert {e.code for e in view.outcomes[0].errors} == {"invalid_format"}
    [event] = done
    assert event.status == BatchStatus.DONE and event.accepted == 7 and event.refused == 3
    # a done batch changes nothing when run again
    assert services.process_chunk(batch.pk) is False
    assert Policy.objects.count() == 7


@pytest.mark.django_db
def test_a_batch_whose_worker_died_after_its_first_chunk_is_finished_exactly_once():
    # given: the first chunk committed, then the worker gone
    product = f.return_shipping()
    channel = f.channel()
    batch = services.submit_batch(channel, _rows(product, 9, bad_every=None), chunk_size=4)
    assert services.process_chunk(batch.pk) is True
    batch.refresh_from_db()
    assert (batch.status, batch.next_chunk, batch.accepted) == (BatchStatus.PROCESSING, 1, 4)
    # when: the sweep, some minutes later, re-enqueues it (the immediate test backend would run
    # it at once: here the job's run is the process call itself)
    later = timezone.now() + services.STALE_AFTER + datetime.timedelta(seconds=1)
    enqueued = []
    original = services.enqueue_all
    services.enqueue_all = enqueued.extend
    try:
        assert services.resume_stale_batches(now=later) == [batch.pk]
        # not stale any more: a second sweep right after enqueues nothing
        assert services.resume_stale_batches(now=later) == []
    finally:
        services.enqueue_all = original
    assert [call[1] for call in enqueued] == [(batch.pk,)]
    services.process_batch(batch.pk)
    # and even a chunk run again after the end
    services.process_chunk(batch.pk)
    # then: every row issued once
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE
    assert (batch.accepted, batch.refused) == (9, 0)
    assert Policy.objects.count() == 9 == EmbeddedSaleEvidence.objects.count()
    assert list(EmbeddedBatchChunk.objects.filter(batch=batch).values_list("index", flat=True)) == [0, 1, 2]


@pytest.mark.django_db
def test_a_chunk_replayed_after_a_crash_issues_nothing_twice():
    # given: a chunk's sales already issued by a previous attempt whose progress was lost
    product = f.return_shipping()
    channel = f.channel()
    rows = _rows(product, 4, bad_every=None)
    services.issue(channel, rows[:2])
    batch = services.submit_batch(channel, rows, chunk_size=4)
    # when
    services.process_batch(batch.pk)
    # then: the two answer their policies, two are new
    view = selectors.batch_status(channel, batch.public_id)
    assert [o.replayed for o in view.outcomes] == [True, True, False, False]
    assert Policy.objects.count() == 4
    batch.refresh_from_db()
    assert batch.premium_total == Decimal("2.00")  # only what this batch issued


@pytest.mark.django_db
def test_a_channel_sees_only_its_own_batches():
    product = f.return_shipping()
    mine, other = f.channel(), f.channel()
    batch = services.submit_batch(mine, _rows(product, 2))
    assert selectors.batch_status(mine, batch.public_id).batch == batch
    with pytest.raises(NotFound):
        selectors.batch_status(other, batch.public_id)
    with pytest.raises(NotFound):
        selectors.batch_status(mine, "not-a-uuid")


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite lets one writer at a time hold the database"
)
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_calls_for_one_order_issue_one_policy():
    # given
    product = f.return_shipping()
    channel = f.channel()
    sale = f.sale(product, order_ref="ORD-RACE")
    barrier = threading.Barrier(20)
    results, errors = [], []

    def call():
        try:
            barrier.wait()
            results.append(services.issue(channel, [sale])[0])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    # when
    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then
    assert not errors, errors
    assert len(results) == 20 and all(r.accepted for r in results)
    assert len({r.policy_number for r in results}) == 1
    assert sum(1 for r in results if not r.replayed) == 1
    assert Policy.objects.count() == 1 == EmbeddedSaleEvidence.objects.count()


@pytest.mark.django_db
def test_a_malformed_consent_time_refuses_the_row_not_the_call():
    from huibao.embedded.schemas import IssueIn, IssueOut

    product = f.return_shipping()
    channel = f.channel()
    good = f.sale(product)
    body = {
        "sales": [
            {
                "product_code": product.code,
                "plan_code": "standard",
                "identity_ref": good.identity_ref,
                "order_ref": good.order_ref,
                "documents": [{"id": d.id, "sha256": d.sha256} for d in good.documents],
                "consent_at": consent,
                "page_version": "v1",
                "scenario": {"order_amount": "199", "order_number": "TB12345678"},
            }
            for consent in (good.consent_at.isoformat(), "yesterday")
        ]
    }
    body["sales"][1]["order_ref"] = "ORD-OTHER"
    out = IssueOut.of(services.issue(channel, IssueIn(**body).to_sales()))
    assert (out.accepted, out.refused, out.premium_total) == (1, 1, "1.00")
    assert out.outcomes[1].errors[0].field == "consent_at"
    assert isinstance(ShownDocument(1, "a"), ShownDocument)
