"""`run_sweeps`: every default sweep exists and runs; one failing sweep does not stop the others."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from huibao.core.management.commands import run_sweeps

pytestmark = pytest.mark.django_db


def test_every_default_sweep_resolves_to_a_callable() -> None:
    missing = [path for path in run_sweeps.DEFAULT_SWEEPS if run_sweeps._callable(path) is None]
    assert missing == []


def test_policy_status_and_insurer_ack_sweeps_are_scheduled() -> None:
    # Without them policies would stay "not yet in force" and sandbox acks would never be re-sent.
    assert "huibao.policy.tasks.update_policy_statuses" in run_sweeps.DEFAULT_SWEEPS
    assert "huibao.sandbox.tasks.resend_due_notifications" in run_sweeps.DEFAULT_SWEEPS


def test_command_runs_every_sweep_once_on_an_empty_database() -> None:
    out = StringIO()
    call_command("run_sweeps", stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == list(run_sweeps.DEFAULT_SWEEPS)
    assert not any(line.endswith(": error") for line in lines)


def test_a_failing_sweep_is_reported_and_the_next_still_runs(settings) -> None:
    settings.HUIBAO_SWEEPS = ["huibao.core.tests.test_sweeps._boom", "huibao.policy.tasks.recover_issuance"]
    results = run_sweeps.run_all(settings.HUIBAO_SWEEPS)
    assert results["huibao.core.tests.test_sweeps._boom"] == "error"
    assert "huibao.policy.tasks.recover_issuance" in results


def _boom() -> None:
    raise RuntimeError("sweep failed")
