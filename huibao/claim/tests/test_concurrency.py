"""Two reports of the same claim at the same moment (a double tap, a retried request) make one
claim: the policy's row lock serialises them and the second finds the first."""

from __future__ import annotations

import datetime
import threading

import pytest
import time_machine
from django.db import connection

from huibao.claim.models import Claim
from huibao.claim.services import report_claim
from huibao.claim.tests.factories import in_force, medical_policy, report_input, start_of
from huibao.core.errors import Conflict
from huibao.policy.tests.factories import customer

pytestmark = pytest.mark.django_db(transaction=True)


def test_simultaneous_reports_make_one_claim():
    # given
    owner = customer()
    policy = in_force(medical_policy(owner))
    data = report_input(policy)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def report() -> None:
        try:
            barrier.wait(timeout=10)
            report_claim(owner, data)
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    when = datetime.datetime.combine(start_of(policy), datetime.time(10)) + datetime.timedelta(days=130)
    with time_machine.travel(when):
        # when
        threads = [threading.Thread(target=report) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    # then
    assert sorted(outcomes) == ["conflict", "ok"]
    assert Claim.objects.filter(policy=policy).count() == 1
