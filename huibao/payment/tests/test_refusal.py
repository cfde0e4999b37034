"""Someone else's card: the real payer is kept (masked on screen), the refund is recorded in
full, and the payer is told why, how much comes back and when."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.contrib.admin.sites import site

from huibao.payment import rules, selectors, services
from huibao.payment.models import Payment
from huibao.payment.states import PaymentStatus
from huibao.payment.tests import factories as f
from huibao.sandbox.models import SandboxCheckout

pytestmark = pytest.mark.django_db


def refused() -> Payment:
    p = f.payment()
    SandboxCheckout.objects.filter(txn_id=p.provider_txn_id).update(status="paid")
    services.handle_notification("sandbox", *f.notification(p, payer_name="李四", payer_id=f.OTHER_ID))
    p.refresh_from_db()
    return p


@time_machine.travel(datetime.datetime(2026, 12, 3, 2, 0, tzinfo=datetime.UTC), tick=False)
def test_the_refusal_keeps_the_real_payer_and_the_refunded_amount() -> None:
    p = refused()
    assert p.status == PaymentStatus.REFUSED and p.failure_reason == "payer_not_applicant"
    assert p.refunded_amount == p.amount == Decimal("128.50")
    assert (p.paid_by_name, p.paid_by_id_number) == ("李四", f.OTHER_ID)
    assert p.payer_name != "李四"  # the applicant expected stays as it was
    assert selectors.refusal_text(p) == (
        "付款人须为投保人本人，本次付款已拒收。已于2026年12月3日全额退款 ¥128.50，"
        "按原支付方式退回付款账户，预计1–7个工作日到账。"
    )


def test_a_successful_payment_records_the_applicant_as_the_payer() -> None:
    p = f.payment()
    SandboxCheckout.objects.filter(txn_id=p.provider_txn_id).update(status="paid")
    services.handle_notification("sandbox", *f.notification(p))
    p.refresh_from_db()
    assert p.status == PaymentStatus.SUCCEEDED and p.paid_by_name == p.payer_name
    assert selectors.refusal_text(p) is None


def test_the_back_office_shows_the_real_payer_masked() -> None:
    p = refused()
    admin = site._registry[Payment]
    assert admin.masked_paid_by(p) == "李*（非投保人本人）"  # type: ignore[attr-defined]
    assert admin.masked_paid_by_id(p) != f.OTHER_ID and admin.masked_paid_by_id(p)[-4:] == f.OTHER_ID[-4:]  # type: ignore[attr-defined]
    assert "李四" not in admin.masked_payer_name(p)  # type: ignore[attr-defined]


def test_a_refund_not_yet_made_says_so() -> None:
    text = rules.refusal_text("payer_not_applicant", Decimal(0), None)
    assert text.startswith("付款人须为投保人本人") and "退款正在处理" in text


def test_the_payments_list_shows_the_real_payer_masked_and_the_refund(client) -> None:
    from huibao.payment.tests.test_api import FINANCE, staff_client

    p = refused()
    staff, _ = staff_client("fin_qian", FINANCE)
    html = staff.get("/admin/payment/payment/").content.decode()
    assert "李*（非投保人本人）" in html and "李四" not in html and f.OTHER_ID not in html
    detail = staff.get(f"/admin/payment/payment/{p.pk}/change/").content.decode()
    assert "128.50" in detail and "实际付款人" in detail and f.OTHER_ID not in detail
