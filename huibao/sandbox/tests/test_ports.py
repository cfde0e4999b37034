"""The sandbox app plugs into the domain ports from outside: the domain apps keep the interfaces
and registries, never import it, and its three sandboxes share one delivery mechanism."""

from __future__ import annotations

import ast
import datetime
from pathlib import Path

import pytest
from django.utils import timezone

from huibao.identity.provider import get_face_provider, get_identity_provider
from huibao.payment.provider import (
    PayoutAccepted,
    PayoutRefused,
    PayoutRequest,
    get_payout_provider,
    get_provider,
)
from huibao.policy.connector import get_connector
from huibao.sandbox import adapters, notifications, payout, tasks
from huibao.sandbox.models import SandboxCheckout, SandboxFaceSession, SandboxInsurerPolicy

HUIBAO = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_domain_apps_neither_import_the_sandbox_app_nor_keep_sandbox_code():
    # given every module outside the sandbox app and the tests
    modules = [
        path
        for path in HUIBAO.rglob("*.py")
        if "sandbox" not in path.relative_to(HUIBAO).parts and "tests" not in path.parts
    ]
    # then
    offenders = sorted(
        str(path.relative_to(HUIBAO))
        for path in modules
        if any(name == "huibao.sandbox" or name.startswith("huibao.sandbox.") for name in _imports(path))
    )
    assert offenders == []
    assert sorted(str(p.relative_to(HUIBAO)) for p in HUIBAO.glob("*/sandbox.py")) == []


def test_each_port_has_the_sandbox_adapter_registered_by_the_app():
    assert isinstance(get_provider("sandbox"), adapters.SandboxPaymentProvider)
    assert isinstance(get_identity_provider("sandbox"), adapters.SandboxIdentityProvider)
    assert isinstance(get_face_provider("sandbox"), adapters.SandboxFaceCheckProvider)
    assert isinstance(get_connector("sandbox"), adapters.SandboxInsurer)
    assert isinstance(get_payout_provider("sandbox"), adapters.SandboxPayoutProvider)


def _transfer(out_biz_no: str, account: str = "6222021000052345") -> PayoutAccepted | PayoutRefused:
    request = PayoutRequest(
        out_biz_no=out_biz_no,
        amount_fen=5000,
        payee_name="李四",
        account_number=account,
        bank_name="",
        memo="",
    )
    return get_payout_provider("sandbox").submit_payout(request)


@pytest.mark.django_db
def test_the_sandbox_payout_gateway_is_idempotent_on_out_biz_no_and_fails_on_demand():
    # when: the same transfer twice, then a forced refusal
    first = _transfer("PO1")
    again = _transfer("PO1")
    payout.PAYOUT_FAULTS.force(1)
    refused = _transfer("PO2")
    after = _transfer("PO2")
    # then
    assert isinstance(first, PayoutAccepted) and again == first
    assert refused == PayoutRefused(code="SYSTEM_BUSY", reason="系统繁忙，请稍后再试", retryable=True)
    assert isinstance(after, PayoutAccepted) and after != first
    assert payout.get(first.provider_trade_no).out_biz_no == "PO1"
    # the result is not told before the gateway's delay; a query says processing until then
    row = payout.get(first.provider_trade_no)
    assert payout.reported(row) == "processing"
    assert payout.reported(row, now=row.next_attempt_at) == "success"


@pytest.mark.django_db
def test_the_sandbox_payout_test_accounts():
    missing = _transfer("PO3", "6222021000050000")
    slow_first = _transfer("PO4", "6222021000091111")
    slow_again = _transfer("PO5", "6222021000091111")
    rows = [payout.get(a.provider_trade_no) for a in (missing, slow_first, slow_again)]  # type: ignore[union-attr]
    assert [(r.status, r.failure_code, r.retryable) for r in rows] == [
        ("failed", "ACCOUNT_NOT_FOUND", False),
        ("failed", "BANK_TIMEOUT", True),
        ("success", "", False),
    ]
    assert rows[0].reason == "账户不存在"
    assert "6222021000050000" not in rows[0].notify_body


@pytest.mark.django_db
def test_one_sweep_delivers_the_due_notifications_of_all_three_sandboxes(monkeypatch):
    # given: a record of each sandbox owing its notification since a minute ago
    due = timezone.now() - datetime.timedelta(minutes=1)
    owed = {"notify_body": "{}", "next_attempt_at": due}
    SandboxCheckout.objects.create(
        txn_id="SBX1", merchant_ref="M1", amount_fen=1, notify_url="https://x/p/", expires_at=due,
        notify_id="N1", **owed,
    )  # fmt: skip
    SandboxFaceSession.objects.create(
        token="SBF1", merchant_ref="F1", name="张三", id_number="110101199003077777",
        notify_url="https://x/f/", return_url="/", expires_at=due, notify_id="F1", **owed,
    )  # fmt: skip
    SandboxInsurerPolicy.objects.create(
        insurer_code="PICC", ref="SBI1", policy_number="P1", payload="{}", notify_url="https://x/i/",
        notify_id="A1", **owed,
    )  # fmt: skip
    posted: list[tuple[str, dict[str, str]]] = []

    def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        posted.append((url, headers))
        return 200, "success"

    monkeypatch.setattr(notifications, "http_post", post)
    # when
    acknowledged = tasks.resend_due_notifications.call()
    # then: each went to its address, signed with its own sandbox's headers, and nothing is due
    assert acknowledged == 3
    assert {url for url, _ in posted} == {"https://x/p/", "https://x/f/", "https://x/i/"}
    signature_headers = {url: next(h for h in headers if h.endswith("-Signature")) for url, headers in posted}
    assert signature_headers == {
        "https://x/p/": "Huibao-Sandbox-Signature",
        "https://x/f/": "Huibao-Face-Signature",
        "https://x/i/": "Huibao-Insurer-Signature",
    }
    assert notifications.due(timezone.now()) == []
    assert SandboxInsurerPolicy.objects.get(ref="SBI1").attempts == 1
