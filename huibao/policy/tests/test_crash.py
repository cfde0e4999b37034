"""A process killed (SIGKILL) while it handles a payment notification leaves no paid-but-unissued
application: killed before the commit, nothing is kept and the gateway's next delivery issues the
policy once; killed after the commit, before the e-policy and the insurer delivery are queued,
the recovery job finishes both.

The notification is handled in a real child process on the test database, which kills itself at
the chosen point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from huibao.application.models import Application
from huibao.application.services.pay import pay, recover_paid_applications
from huibao.application.states import ApplicationStatus
from huibao.application.tests import factories as af
from huibao.payment import services as payment_services
from huibao.payment.models import Payment
from huibao.payment.tests.factories import notification
from huibao.policy import services
from huibao.policy.models import InsurerDelivery, Policy

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(settings.BASE_DIR)

# Runs in the child: handle one signed notification, killing the process at `point`.
CHILD = """
import json, os, signal, sys
import django
django.setup()
from django.db import transaction
from huibao.payment import services as payment_services
from huibao.policy import services as policy_services

point = sys.argv[1]
message = json.loads(sys.stdin.read())

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if point == "before_commit":
    real = policy_services.issue_policies
    def issue_then_die(*args, **kwargs):
        real(*args, **kwargs)  # the policies are written, the transaction is still open
        die()
    policy_services.issue_policies = issue_then_die
elif point == "after_commit":
    real_on_commit = transaction.on_commit
    # every after-commit callback becomes a kill: committed, and the queued work never starts
    transaction.on_commit = lambda fn, *a, **k: real_on_commit(die, *a, **k)
payment_services.handle_notification("sandbox", message["headers"], message["body"].encode())
print("survived")
"""


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{db['USER']}@{host}:{port}/{db['NAME']}"


def _handle_in_a_child_that_dies(point: str, headers: dict[str, str], body: bytes) -> int:
    env = {**os.environ, "DATABASE_URL": _database_url(), "HUIBAO_TESTING": "1"}
    env.setdefault("DJANGO_SETTINGS_MODULE", "huibao.settings")
    connection.close()  # SQLite: no lock held by this process while the child writes
    child = subprocess.run(
        [sys.executable, "-c", CHILD, point],
        input=json.dumps({"headers": headers, "body": body.decode()}),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "survived" not in child.stdout, child.stderr[-2000:]
    return child.returncode


@pytest.fixture
def paying(settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    product = af.simple_product()
    user = af.customer("13900007777")
    app = af.to_signed(product, user)
    payment = pay(app, user=user)
    stored = Application.objects.get(pk=app.pk)
    headers, body = notification(
        payment, payer_name=stored.applicant_name, payer_id=stored.applicant_id_number
    )
    return stored, payment, headers, body


def test_killed_before_commit_keeps_nothing_and_the_redelivery_issues_once(paying) -> None:
    app, payment, headers, body = paying
    # when: the process dies after writing the policies, before the commit
    assert _handle_in_a_child_that_dies("before_commit", headers, body) == -signal.SIGKILL
    # then: nothing of it was kept — not paid, not issued
    assert Payment.objects.get(pk=payment.pk).status != "succeeded"
    assert Application.objects.get(pk=app.pk).status == ApplicationStatus.AWAITING_PAYMENT
    assert not Policy.objects.filter(application=app).exists()
    # and the gateway's next delivery of the same notification issues exactly one policy
    assert payment_services.handle_notification("sandbox", headers, body).code == "succeeded"
    payment_services.handle_notification("sandbox", headers, body)
    assert Application.objects.get(pk=app.pk).status == ApplicationStatus.ISSUED
    assert Policy.objects.filter(application=app).count() == 1
    assert recover_paid_applications() == []


def test_killed_after_commit_is_finished_by_the_recovery_job(paying) -> None:
    app, payment, headers, body = paying
    # when: the process dies after the commit, before the e-policy and delivery are queued
    assert _handle_in_a_child_that_dies("after_commit", headers, body) == -signal.SIGKILL
    # then: paid and issued together, once; the PDF and the insurer delivery are missing
    assert Payment.objects.get(pk=payment.pk).status == "succeeded"
    assert Application.objects.get(pk=app.pk).status == ApplicationStatus.ISSUED
    policy = Policy.objects.get(application=app)
    assert policy.epolicy_id is None
    # when: the recovery job runs
    result = services.recover_issuance()
    # then: the e-policy is rendered and the insurer is told; nothing paid is left unissued
    policy.refresh_from_db()
    assert result["epolicies_rendered"] == 1 and policy.epolicy_id is not None
    assert result["deliveries_enqueued"] == 1  # the insurer delivery row was committed with the policy
    assert InsurerDelivery.objects.filter(policy=policy).count() == 1
    assert recover_paid_applications() == []
    assert Policy.objects.filter(application=app).count() == 1
