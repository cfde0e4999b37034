"""The Alipay adapter against Alipay's documented formats: RSA2 keys generated here, recorded
answers signed with the test's "Alipay" key, notifications through the real notify endpoint."""

from __future__ import annotations

import datetime
import io
import json
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest
from django.test import Client
from django.utils import timezone

from huibao.application.models import Application
from huibao.application.services.pay import pay
from huibao.application.states import ApplicationStatus
from huibao.application.tests import factories as af
from huibao.payment import provider as port
from huibao.payment import services
from huibao.payment.gateways import alipay as alipay_gateway
from huibao.payment.gateways import common
from huibao.payment.gateways.common import GatewayError
from huibao.payment.models import Payment, PaymentEvent, ProviderNotification, Refund
from huibao.payment.states import PaymentStatus, RefundStatus
from huibao.payment.tests import factories as f
from huibao.payment.tests import gateway_support as g

pytestmark = pytest.mark.django_db

NOTIFY = "/payment/notify/alipay/"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[g.FakeAlipay]:
    fake = g.FakeAlipay()
    monkeypatch.setattr("alipay.urlopen", fake)
    before = dict(port._PROVIDERS)
    port.register_provider(g.alipay_provider())
    yield fake
    port._PROVIDERS.clear()
    port._PROVIDERS.update(before)


hook_calls = g.hook_calls


def _payment(amount: str = "128.50") -> Payment:
    return g.make_payment("alipay", amount, return_url="/applications/x/pay/")


def _post(client: Client, body: bytes) -> tuple[int, str]:
    response = client.post(NOTIFY, data=body, content_type=FORM)
    return response.status_code, response.content.decode()


def test_the_checkout_is_the_platforms_page_and_the_order_binds_the_applicant(gateway) -> None:
    # when
    p = _payment()
    # then: the trade is the merchant reference until Alipay assigns its trade_no
    assert p.status == PaymentStatus.PENDING and p.provider_txn_id == p.merchant_ref
    assert p.checkout_url.endswith(f"/payment/alipay/checkout/{p.public_id}/")
    form = port.get_provider("alipay").order_form(p)  # type: ignore[attr-defined]
    fields = dict(form.fields)
    assert form.action == alipay_gateway.LIVE_GATEWAY
    # signed as Alipay checks it: with the app's key, over the sorted parameters
    assert g.keys("alipay-app").verify(g.alipay_sign_content(fields, request=True), fields["sign"])
    assert fields["method"] == "alipay.trade.page.pay" and fields["sign_type"] == "RSA2"
    assert fields["notify_url"] == g.NOTIFY_BASE + NOTIFY
    assert fields["return_url"].endswith("/applications/x/pay/")
    biz = json.loads(fields["biz_content"])
    assert biz["out_trade_no"] == p.merchant_ref and biz["total_amount"] == "128.50"
    assert biz["product_code"] == "FAST_INSTANT_TRADE_PAY"
    assert biz["ext_user_info"] == {
        "name": f.APPLICANT_NAME,
        "cert_type": "IDENTITY_CARD",
        "cert_no": f.APPLICANT_ID,
        "need_check_info": "T",
    }
    # Alipay reads the timestamp as Beijing time
    stamped = datetime.datetime.strptime(fields["timestamp"], "%Y-%m-%d %H:%M:%S").replace(
        tzinfo=common.BEIJING
    )
    assert abs(stamped - timezone.now()) < datetime.timedelta(minutes=1)


def test_the_wap_order_is_alipay_trade_wap_pay() -> None:
    provider = g.alipay_provider(pay_method="wap")
    p = Payment(
        merchant_ref="HB1",
        amount=Decimal("9.90"),
        payer_name=f.APPLICANT_NAME,
        payer_id_number=f.APPLICANT_ID,
        expires_at=timezone.now() + datetime.timedelta(minutes=5),
    )
    fields = dict(provider.order_form(p).fields)
    assert fields["method"] == "alipay.trade.wap.pay"
    assert json.loads(fields["biz_content"])["product_code"] == "QUICK_WAP_PAY"


def test_the_checkout_page_posts_the_signed_order_for_the_payer_only(gateway, client: Client) -> None:
    from huibao.application.tests.factories import customer
    from huibao.payment import selectors

    # given: a payment only its payer may see
    p = _payment()
    payer, other = customer("13900001111"), customer("13900002222")
    selectors.register_payment_viewer("test_order", lambda ref, user: user.pk == payer.pk)
    try:
        # when / then: the payer sees a form posting to Alipay, the ID number in it, not in the URL
        client.force_login(payer)
        page = client.get(p.checkout_url.removeprefix(g.NOTIFY_BASE))
        html = page.content.decode()
        assert page.status_code == 200
        assert f'action="{alipay_gateway.LIVE_GATEWAY}"' in html and 'method="post"' in html
        assert f.APPLICANT_ID in html and f.APPLICANT_ID not in p.checkout_url
        client.force_login(other)
        assert client.get(p.checkout_url.removeprefix(g.NOTIFY_BASE)).status_code == 404
    finally:
        selectors._viewers.pop("test_order", None)


def test_a_valid_notification_marks_the_payment_paid_by_the_bound_applicant(
    gateway, client, hook_calls
) -> None:
    # given
    p = _payment()
    body = g.alipay_notification(out_trade_no=p.merchant_ref, total_amount="128.50")
    # when
    status, text = _post(client, body)
    # then: "success", paid, the hook once, the gateway's trade_no kept with the event
    assert (status, text) == (200, "success")
    p.refresh_from_db()
    assert p.status == PaymentStatus.SUCCEEDED and hook_calls == [p.pk]
    assert p.paid_by_name == f.APPLICANT_NAME and p.paid_by_id_number == f.APPLICANT_ID
    event = PaymentEvent.objects.get(payment=p, to_status=PaymentStatus.SUCCEEDED)
    assert event.detail["trade_no"] == "2026120422001424330501234567"


def test_a_forged_notification_is_refused_and_changes_nothing(gateway, client, hook_calls) -> None:
    # given: signed by someone else's key
    p = _payment()
    body = g.alipay_notification(out_trade_no=p.merchant_ref, total_amount="128.50", key=g.KeyPair.new())
    # when
    status, text = _post(client, body)
    # then
    assert (status, text) == (400, "fail")
    p.refresh_from_db()
    assert p.status == PaymentStatus.PENDING and hook_calls == []
    row = ProviderNotification.objects.get(provider="alipay")
    assert row.signature_ok is False and row.outcome == "bad_signature"


def test_a_notification_changed_after_signing_is_refused(gateway, client) -> None:
    p = _payment()
    body = g.alipay_notification(out_trade_no=p.merchant_ref, total_amount="128.50")
    tampered = body.replace(b"total_amount=128.50", b"total_amount=1.28")
    assert _post(client, tampered) == (400, "fail")
    p.refresh_from_db()
    assert p.status == PaymentStatus.PENDING


def test_a_replayed_notification_has_one_effect(gateway, client, hook_calls) -> None:
    p = _payment()
    body = g.alipay_notification(out_trade_no=p.merchant_ref, total_amount="128.50")
    assert _post(client, body) == (200, "success")
    # Alipay sends it again (our answer was lost): acknowledged, nothing more happens
    assert _post(client, body) == (200, "success")
    assert hook_calls == [p.pk]
    assert ProviderNotification.objects.filter(provider="alipay", signature_ok=True).count() == 1
    # TRADE_FINISHED later (a new notify_id): the payment stays paid, no second hook
    finished = g.alipay_notification(
        out_trade_no=p.merchant_ref, total_amount="128.50", trade_status="TRADE_FINISHED"
    )
    assert _post(client, finished) == (200, "success")
    assert hook_calls == [p.pk]


def test_a_wrong_amount_is_refused_and_refunded_through_alipay(gateway, client, hook_calls) -> None:
    # given: Alipay will take the refund
    gateway.answer("alipay.trade.refund", g.fixture_json("alipay_trade_refund_response.json"))
    p = _payment()
    body = g.alipay_notification(out_trade_no=p.merchant_ref, total_amount="1.00")
    # when
    assert _post(client, body) == (200, "success")
    # then: refused, no hook, the whole amount asked back of Alipay for this trade
    p.refresh_from_db()
    assert p.status == PaymentStatus.REFUSED and p.failure_reason == "amount_mismatch"
    assert hook_calls == []
    (call,) = gateway.requests
    assert call["method"] == "alipay.trade.refund"
    assert call["biz"]["out_trade_no"] == p.merchant_ref and call["biz"]["refund_amount"] == "128.50"
    assert Refund.objects.get(payment=p).status == RefundStatus.SUCCEEDED


def test_a_closed_trade_fails_the_payment(gateway, client) -> None:
    p = _payment()
    body = g.alipay_notification(
        out_trade_no=p.merchant_ref, total_amount="128.50", trade_status="TRADE_CLOSED"
    )
    assert _post(client, body) == (200, "success")
    p.refresh_from_db()
    assert p.status == PaymentStatus.FAILED and p.failure_reason == "trade_closed"


def test_a_notification_of_another_app_or_stale_is_refused(gateway, client) -> None:
    p = _payment()
    foreign = g.alipay_notification(
        out_trade_no=p.merchant_ref, total_amount="128.50", app_id="2021000000000999"
    )
    assert _post(client, foreign) == (400, "fail")
    stale = g.alipay_notification(
        out_trade_no=p.merchant_ref,
        total_amount="128.50",
        now=timezone.now() - datetime.timedelta(minutes=30),
    )
    assert _post(client, stale) == (400, "fail")
    p.refresh_from_db()
    assert p.status == PaymentStatus.PENDING


def test_refund_sends_an_idempotent_request_number(gateway, client) -> None:
    # given: a paid payment
    gateway.answer("alipay.trade.refund", g.fixture_json("alipay_trade_refund_response.json"))
    p = _payment()
    _post(client, g.alipay_notification(out_trade_no=p.merchant_ref, total_amount="128.50"))
    adapter = port.get_provider("alipay")
    # when: the same refund asked twice (a timeout in between), then the refund made
    first = adapter.refund(Payment.objects.get(pk=p.pk), Decimal("28.50"))
    again = adapter.refund(Payment.objects.get(pk=p.pk), Decimal("28.50"))
    row = services.refund(Payment.objects.get(pk=p.pk), Decimal("28.50"), "保单退保")
    adapter.refund(Payment.objects.get(pk=p.pk), Decimal("28.50"))
    # then: one number for the same refund, a new one once it was made
    numbers = [r["biz"]["out_request_no"] for r in gateway.requests]
    assert first.ok and again.ok and numbers[0] == numbers[1] == first.provider_refund_id
    assert numbers[2] == numbers[0] and numbers[3] != numbers[0]
    assert row.status == RefundStatus.SUCCEEDED
    p.refresh_from_db()
    assert p.status == PaymentStatus.PARTIALLY_REFUNDED and p.refunded_amount == Decimal("28.50")


def test_a_refund_alipay_refuses_is_a_failed_refund(gateway, client) -> None:
    gateway.answer("alipay.trade.refund", g.fixture_json("alipay_trade_refund_refused.json"))
    p = _payment()
    _post(client, g.alipay_notification(out_trade_no=p.merchant_ref, total_amount="128.50"))
    row = services.refund(Payment.objects.get(pk=p.pk), Decimal("28.50"), "保单退保")
    assert row.status == RefundStatus.FAILED
    p.refresh_from_db()
    assert p.status == PaymentStatus.SUCCEEDED and p.refunded_amount == 0
    assert (
        "ACQ.TRADE_NOT_ALLOW_REFUND" in PaymentEvent.objects.get(payment=p, kind="refund").detail["message"]
    )


def test_query_reads_the_trade_status(gateway) -> None:
    p = _payment()
    adapter = port.get_provider("alipay")
    gateway.answer("alipay.trade.query", g.fixture_json("alipay_trade_query_not_exist.json"))
    assert adapter.query(p) == "open"
    gateway.answers.clear()
    gateway.answer("alipay.trade.query", g.fixture_json("alipay_trade_query_response.json"))
    assert adapter.query(p) == "paid"
    assert gateway.requests[-1]["biz"] == {"out_trade_no": p.merchant_ref}


def test_an_answer_whose_signature_does_not_verify_is_not_believed(gateway) -> None:
    p = _payment()
    gateway.answer("alipay.trade.query", g.fixture_json("alipay_trade_query_response.json"))
    gateway.tamper = True
    with pytest.raises(GatewayError) as exc:
        port.get_provider("alipay").query(p)
    assert exc.value.code == "bad_signature"


def _bill_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        detail = g.fixture_text("alipay_bill_detail.csv")
        bundle.writestr("20880000000000000156_20261203_业务明细.csv", detail.encode("gbk"))
        bundle.writestr("20880000000000000156_20261203_业务明细(汇总).csv", "#汇总\n".encode("gbk"))
    return buffer.getvalue()


def test_the_reconciliation_file_is_downloaded_and_read(gateway, monkeypatch) -> None:
    # given: Alipay gives the file's address; the file is the recorded zip
    gateway.answer(
        "alipay.data.dataservice.bill.downloadurl.query",
        g.fixture_json("alipay_bill_downloadurl_response.json"),
    )
    fetched: list[str] = []

    def download(url: str) -> bytes:
        fetched.append(url)
        return _bill_zip()

    monkeypatch.setattr(common, "download", download)
    # when
    rows = port.get_provider("alipay").download_bill(datetime.date(2026, 12, 3))  # type: ignore[attr-defined]
    # then
    assert gateway.requests[-1]["biz"] == {"bill_type": "trade", "bill_date": "2026-12-03"}
    assert fetched and fetched[0].startswith("https://dwbillcenter.alipay.com/")
    assert [(r.kind, r.merchant_ref, r.amount_fen, r.fee_fen) for r in rows] == [
        ("payment", "HB20261203101500AAAAAA000001", 12850, 77),
        ("payment", "HB20261203113000BBBBBB000002", 6600, 40),
        ("refund", "HB20261203101500AAAAAA000001", 2850, 17),
    ]
    assert rows[2].refund_ref == "HB20261203101500AAAAAA000001R0A2850"
    assert rows[0].at == datetime.datetime(2026, 12, 3, 10, 15, 21, tzinfo=common.BEIJING)


def test_amounts_in_yuan_become_fen_exactly() -> None:
    assert common.yuan_to_fen("128.50") == 12850 and common.yuan_to_fen("0.01") == 1
    for bad in ("1.005", "abc", "NaN", ""):
        with pytest.raises(ValueError):
            common.yuan_to_fen(bad)


def test_an_application_paid_through_alipay_is_issued(gateway, client, settings) -> None:
    # given: Alipay is the payment provider; a signed application
    settings.PAYMENT_PROVIDER = "alipay"
    product, user = af.simple_product(min_read_seconds=5), af.customer()
    app = af.to_signed(product, user)
    payment = pay(app, user=user)
    assert payment.provider == "alipay"
    fields = dict(port.get_provider("alipay").order_form(payment).fields)  # type: ignore[attr-defined]
    assert json.loads(fields["biz_content"])["ext_user_info"]["cert_no"] == (
        Application.objects.get(pk=app.pk).applicant_id_number
    )
    # when: Alipay notifies the payment
    body = g.alipay_notification(out_trade_no=payment.merchant_ref, total_amount=f"{payment.amount:.2f}")
    assert _post(client, body) == (200, "success")
    # then: the policy is issued, once
    app.refresh_from_db()
    assert app.status == ApplicationStatus.ISSUED and app.policies.count() == 1
    assert _post(client, body) == (200, "success")
    assert app.policies.count() == 1


def test_the_recorded_notification_is_alipays_documented_shape() -> None:
    params = dict(parse_qsl(g.alipay_notification(out_trade_no="HB1", total_amount="1.00").decode()))
    for name in (
        "notify_time",
        "notify_type",
        "notify_id",
        "app_id",
        "sign_type",
        "sign",
        "trade_no",
        "out_trade_no",
        "trade_status",
        "total_amount",
    ):
        assert params[name], name
    assert params["notify_type"] == "trade_status_sync"


def test_keys_as_alipays_console_shows_them_load_too() -> None:
    # the bare base64 of the console (no BEGIN/END lines) is as good as PEM
    bare = "".join(g.keys("alipay-gateway").public_pem.splitlines()[1:-1])
    provider = alipay_gateway.AlipayProvider(
        alipay_gateway.AlipaySettings(
            app_id=g.ALIPAY_APP_ID,
            app_private_key="".join(g.keys("alipay-app").private_pem.splitlines()[1:-1]),
            alipay_public_key=bare,
            notify_url=g.NOTIFY_BASE + NOTIFY,
        )
    )
    body = g.alipay_notification(out_trade_no="HB1", total_amount="1.00")
    assert provider.parse_notification({}, body).amount_fen == 100
