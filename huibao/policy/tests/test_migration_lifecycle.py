"""Migration policy/0004_lifecycle on existing rows: a former 'cancelled' policy becomes
'surrendered' before the new status check, and every policy gets its first history row."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from huibao.policy.models import Policy, PolicyStatusChange
from huibao.policy.states import PolicyStatus
from huibao.policy.tests import factories as f

BEFORE = [("policy", "0003_parties_and_references")]


def _migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


@pytest.mark.django_db(transaction=True)
def test_cancelled_policies_become_surrendered_and_every_policy_gets_its_history() -> None:
    # given: two policies issued, one of them cancelled under the old statuses
    kept = f.simple_issued()
    cancelled = f.simple_issued()
    Policy.objects.filter(pk=cancelled.pk).update(status=PolicyStatus.SURRENDERED)
    executor = _migrate(BEFORE)  # back to 0003: surrendered reads 'cancelled' there
    try:
        old = executor.loader.project_state(BEFORE).apps.get_model("policy", "Policy")
        assert old.objects.get(pk=cancelled.pk).status == "cancelled"
        # when: 0004 runs
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    # then
    assert Policy.objects.get(pk=cancelled.pk).status == PolicyStatus.SURRENDERED
    assert Policy.objects.get(pk=kept.pk).status == PolicyStatus.PENDING_START
    rows = {r.policy_id: r for r in PolicyStatusChange.objects.all()}
    assert set(rows) == {kept.pk, cancelled.pk}
    for policy in (kept, cancelled):
        row = rows[policy.pk]
        assert (row.from_status, row.reason, row.actor) == ("", "issued", "migration")
        assert row.at == policy.effective_at
    assert rows[cancelled.pk].to_status == PolicyStatus.SURRENDERED
