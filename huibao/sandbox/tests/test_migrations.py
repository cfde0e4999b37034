"""The sandbox models moved from payment, identity and policy into this app: a database migrated
before the move keeps every row, readable through the new models."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from huibao.sandbox import notifications
from huibao.sandbox.models import (
    SandboxCheckout,
    SandboxCitizen,
    SandboxFaceSession,
    SandboxInsurerOutage,
    SandboxInsurerPolicy,
)

BEFORE_THE_MOVE = [
    ("payment", "0001_initial"),
    ("identity", "0001_initial"),
    ("policy", "0001_initial"),
    ("sandbox", None),
]


def _migrate(targets: list[tuple[str, str | None]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


@pytest.mark.django_db(transaction=True)
def test_the_move_keeps_the_rows_of_a_database_made_before_it() -> None:
    # given: the schema as it was before the move, with a row in each sandbox table
    executor = _migrate(BEFORE_THE_MOVE)
    old = executor.loader.project_state([t for t in BEFORE_THE_MOVE if t[1] is not None]).apps
    due = timezone.now() - datetime.timedelta(minutes=1)
    old.get_model("payment", "SandboxCheckout").objects.create(
        txn_id="SBXOLD1",
        merchant_ref="M-1",
        amount_fen=12345,
        notify_url="https://huibao.example/payment/notify/sandbox/",
        expires_at=timezone.now() + datetime.timedelta(hours=1),
        payer_id_number="110101199003077777",
        notify_id="N1",
        notify_body='{"notify_id": "N1"}',
        next_attempt_at=due,
    )
    old.get_model("identity", "SandboxCitizen").objects.create(id_number_hash="h" * 64, name="张三")
    old.get_model("identity", "SandboxFaceSession").objects.create(
        token="SBFOLD1",
        merchant_ref="F-1",
        name="张三",
        id_number="110101199003077777",
        notify_url="https://huibao.example/identity/face/notify/sandbox/",
        return_url="/back/",
        expires_at=timezone.now(),
    )
    old.get_model("policy", "SandboxInsurerPolicy").objects.create(
        insurer_code="PICC",
        ref="SBIOLD1",
        policy_number="P-1",
        payload="{}",
        callback_url="https://huibao.example/policy/insurer/ack/sandbox/",
        notify_id="A1",
        notify_body="{}",
        next_attempt_at=due,
    )
    old.get_model("policy", "SandboxInsurerOutage").objects.create(insurer_code="TPIC", reason="maintenance")
    # when: migrated forward over the move
    _migrate(executor.loader.graph.leaf_nodes())
    # then: the same rows, through the sandbox app's models
    checkout = SandboxCheckout.objects.get(txn_id="SBXOLD1")
    assert checkout.amount_fen == 12345 and checkout.payer_id_number == "110101199003077777"
    assert SandboxCitizen.objects.get(id_number_hash="h" * 64).name == "张三"
    assert SandboxFaceSession.objects.get(token="SBFOLD1").id_number == "110101199003077777"
    record = SandboxInsurerPolicy.objects.get(ref="SBIOLD1")
    assert record.notify_url == "https://huibao.example/policy/insurer/ack/sandbox/"  # the old callback_url
    assert SandboxInsurerOutage.objects.get(insurer_code="TPIC").reason == "maintenance"
    # and the one delivery mechanism finds what the old rows still owe
    assert set(notifications.due(timezone.now())) == {("payment", "SBXOLD1"), ("insurer", "SBIOLD1")}
    # and the content types moved with the models
    assert ContentType.objects.filter(app_label="sandbox", model="sandboxcheckout").exists()
    assert not ContentType.objects.filter(app_label="payment", model="sandboxcheckout").exists()
