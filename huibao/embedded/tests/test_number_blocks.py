"""Block reservation of policy numbers on the embedded path: a call reserves its numbers from
the insurer's sequence in a short transaction of its own, before its issuing transaction, so a
second call of the same insurer does not wait for the first one's commit on the sequence row.

PostgreSQL only: SQLite serialises every writer on its file lock, so there the second call
waits for the first whatever holds the numbers."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction

from huibao.embedded import services
from huibao.embedded.tests import factories as f
from huibao.policy.models import Policy, PolicyNumberSequence
from huibao.policy.services import reserve_numbers

pytestmark = pytest.mark.django_db(transaction=True)
SALES = 40  # above COPY_MIN_ROWS: the bulk path's COPY, as a real bulk call
WAIT_S = 20  # a safety net for a regression (the first call gives up waiting), not a timing


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks between sessions: PostgreSQL's")
def test_two_concurrent_bulk_calls_do_not_wait_on_the_sequence_and_get_disjoint_numbers(monkeypatch):
    # given: one insurer's product, its sequence row already made, and two calls of 40 sales
    product = f.return_shipping()
    channel = f.channel()
    services.issue(channel, [f.sale(product)])
    first_sales = [f.sale(product) for _ in range(SALES)]
    second_sales = [f.sale(product) for _ in range(SALES)]
    # The first call stops inside its issuing transaction (its policies written, not committed)
    # until the second call has finished.
    first_inside = threading.Event()
    second_done = threading.Event()
    waited: dict[str, bool] = {}
    real = services._issue_accepted

    def held(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        if threading.current_thread().name == "first":
            first_inside.set()
            waited["second finished while the first was open"] = second_done.wait(WAIT_S)
        return result

    monkeypatch.setattr(services, "_issue_accepted", held)
    outcomes: dict[str, Any] = {}

    def call(name: str, sales: list[Any]) -> None:
        try:
            if name == "second":
                first_inside.wait(WAIT_S)
            outcomes[name] = services.issue(channel, sales)
        except Exception as exc:  # reported by the assertions below
            outcomes[name] = exc
        finally:
            if name == "second":
                second_done.set()
            connection.close()

    # when
    threads = [
        threading.Thread(target=call, name=name, args=(name, sales))
        for name, sales in (("first", first_sales), ("second", second_sales))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(3 * WAIT_S)
    # then: the second call committed while the first still held its transaction open
    assert not any(t.is_alive() for t in threads)
    assert not isinstance(outcomes["first"], Exception), outcomes["first"]
    assert not isinstance(outcomes["second"], Exception), outcomes["second"]
    assert waited == {"second finished while the first was open": True}
    first = {o.policy_number for o in outcomes["first"] if o.accepted}
    second = {o.policy_number for o in outcomes["second"] if o.accepted}
    assert len(first) == SALES == len(second)
    assert not first & second
    assert Policy.objects.count() == 1 + 2 * SALES
    assert PolicyNumberSequence.objects.get(insurer=product.insurer).last == 1 + 2 * SALES


def test_a_reservation_commits_on_its_own_and_refuses_to_run_inside_a_transaction():
    # given
    product = f.return_shipping()
    insurer = product.insurer
    # when: a block reserved and never used (its call failed)
    block = reserve_numbers(insurer, 2026, 5)
    # then: it stays taken (a gap, never handed out again); the next one follows it
    following = reserve_numbers(insurer, 2026, 1)
    assert (block.next, block.last) == (1, 5)
    assert (following.next, following.last) == (6, 6)
    with transaction.atomic(), pytest.raises(RuntimeError):
        reserve_numbers(insurer, 2026, 1)
    assert PolicyNumberSequence.objects.get(insurer=insurer, year=2026).last == 6
