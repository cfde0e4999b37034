"""Reconciliation with a gateway's daily file: what differs is named, nothing is changed."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from huibao.payment import provider as port
from huibao.payment import services
from huibao.payment.gateways import reconcile
from huibao.payment.gateways.common import BEIJING, BillRow
from huibao.payment.models import Payment
from huibao.payment.tests import factories as f
from huibao.payment.tests import gateway_support as g


def _row(ref: str, fen: int, kind: str = "payment") -> BillRow:
    return BillRow(trade_no="2026", merchant_ref=ref, kind=kind, amount_fen=fen, fee_fen=0, at=None)  # type: ignore[arg-type]


def test_compare_names_each_difference() -> None:
    rows = [_row("A", 100), _row("B", 200), _row("C", 300), _row("A", 40, "refund")]
    found = reconcile.compare(rows, {"A": 100, "B": 250, "D": 10}, {"A": 40})
    assert [(d.merchant_ref, d.kind, d.problem) for d in found] == [
        ("B", "payment", "amount_differs"),
        ("C", "payment", "unknown_to_platform"),
        ("D", "payment", "missing_from_bill"),
    ]
    assert reconcile.compare([_row("A", 100)], {"A": 100}, {}) == ()


@pytest.fixture
def alipay(monkeypatch: pytest.MonkeyPatch) -> Iterator[g.FakeAlipay]:
    fake = g.FakeAlipay()
    monkeypatch.setattr("alipay.urlopen", fake)
    before = dict(port._PROVIDERS)
    port.register_provider(g.alipay_provider())
    yield fake
    port._PROVIDERS.clear()
    port._PROVIDERS.update(before)


@pytest.mark.django_db
def test_a_days_file_against_the_payments_of_that_day(alipay, client, monkeypatch) -> None:
    # given: a payment paid through Alipay today
    p = services.create_payment(
        amount=Decimal("128.50"),
        payer_name=f.APPLICANT_NAME,
        payer_id_number=f.APPLICANT_ID,
        reference_kind="test_order",
        reference_id="R1",
        expires_in=datetime.timedelta(minutes=30),
        provider="alipay",
    )
    body = g.alipay_notification(out_trade_no=p.merchant_ref, total_amount="128.50")
    assert (
        client.post(
            "/payment/notify/alipay/", data=body, content_type="application/x-www-form-urlencoded"
        ).status_code
        == 200
    )
    day = timezone.now().astimezone(BEIJING).date()
    adapter = port.get_provider("alipay")
    assert reconcile.gateways_with_bills() == ["alipay"]
    # when: the file holds it, and the same amount → balanced
    monkeypatch.setattr(adapter, "download_bill", lambda d: [_row(p.merchant_ref, 12850)], raising=False)
    assert reconcile.reconcile_day("alipay", day).balanced
    call_command("reconcile_gateway_bill", provider="alipay", date=day)
    # when: the file says another amount and holds a trade the platform does not know
    monkeypatch.setattr(
        adapter, "download_bill", lambda d: [_row(p.merchant_ref, 12800), _row("HBX", 5)], raising=False
    )
    result = reconcile.reconcile_day("alipay", day)
    # then: both named; the payment is left as it was
    assert [(d.merchant_ref, d.problem) for d in result.differences] == [
        (p.merchant_ref, "amount_differs"),
        ("HBX", "unknown_to_platform"),
    ]
    with pytest.raises(CommandError):
        call_command("reconcile_gateway_bill", provider="alipay", date=day)
    assert Payment.objects.get(pk=p.pk).status == "succeeded"
    # another day: the payment is not in that day's file, nor expected there
    monkeypatch.setattr(adapter, "download_bill", lambda d: [], raising=False)
    assert reconcile.reconcile_day("alipay", day - datetime.timedelta(days=1)).balanced
