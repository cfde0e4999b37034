"""The WeChat Pay v3 adapter against WeChat Pay's documented formats: merchant and platform keys
generated here, answers signed with the test's platform key (the SDK verifies them), encrypted
notifications through the real notify endpoint, `requests` replaced at wechatpayv3's core."""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from huibao.payment import provider as port
from huibao.payment import services
from huibao.payment.gateways.common import BEIJING, GatewayError
from huibao.payment.models import Payment, PaymentEvent, ProviderNotification, Refund
from huibao.payment.states import PaymentStatus, RefundStatus
from huibao.payment.tests import factories as f
from huibao.payment.tests import gateway_support as g

pytestmark = pytest.mark.django_db

NOTIFY = "/payment/notify/wechatpay/"


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[g.FakeWeChatPay]:
    fake = g.FakeWeChatPay()
    fake.answer("POST", "/v3/pay/transactions/native", g.fixture_json("wechatpay_native_response.json"))
    monkeypatch.setattr("wechatpayv3.core.requests", fake)
    before = dict(port._PROVIDERS)
    port.register_provider(g.wechatpay_provider())
    yield fake
    port._PROVIDERS.clear()
    port._PROVIDERS.update(before)


hook_calls = g.hook_calls


def _payment(amount: str = "128.50") -> Payment:
    return g.make_payment("wechatpay", amount)


def _post(client: Client, body: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    response = client.post(
        NOTIFY,
        data=body.encode(),
        content_type="application/json",
        headers=headers or g.wechat_signed_headers(body),
    )
    return response.status_code, response.content.decode()


def test_a_native_order_carries_the_applicants_identity_and_gives_the_code_url(gateway) -> None:
    # when
    p = _payment()
    # then: the order as WeChat Pay documents it, signed by the merchant (the fake checks it)
    (call,) = gateway.requests
    assert call["path"] == "/v3/pay/transactions/native"
    body = call["body"]
    assert body["mchid"] == g.WECHAT_MCHID and body["appid"] == g.WECHAT_APPID
    assert body["out_trade_no"] == p.merchant_ref
    assert body["amount"] == {"total": 12850, "currency": "CNY"}
    assert body["payer"] == {
        "identity": {"type": "IDCARD", "number": f.APPLICANT_ID, "name": f.APPLICANT_NAME}
    }
    assert body["notify_url"] == g.NOTIFY_BASE + NOTIFY
    assert datetime.datetime.fromisoformat(body["time_expire"]) == p.expires_at.replace(microsecond=0)
    assert body["time_expire"].endswith("+08:00")
    assert p.status == PaymentStatus.PENDING
    assert p.provider_txn_id == p.merchant_ref
    # the checkout is the platform's QR page (a redirect to weixin:// would not be allowed)
    assert p.checkout_url.startswith(
        f"{g.NOTIFY_BASE.replace('testserver', '127.0.0.1:8000')}/payment/wechatpay/"
    )
    assert port.get_provider("wechatpay").code_url(p) == "weixin://wxpay/bizpayurl?pr=p4lpSuKzz"  # type: ignore[attr-defined]


def test_the_checkout_page_shows_the_code_as_a_qr_for_the_payer_only(gateway, client: Client) -> None:
    from huibao.application.tests.factories import customer
    from huibao.payment import selectors

    # given
    p = _payment()
    payer, other = customer("13900001111"), customer("13900002222")
    selectors.register_payment_viewer("test_order", lambda ref, user: user.pk == payer.pk)
    parts = urlsplit(p.checkout_url)
    path = f"{parts.path}?{parts.query}"
    try:
        # when / then: the payer sees the QR code of the payment code
        client.force_login(payer)
        page = client.get(path)
        html = page.content.decode()
        assert page.status_code == 200
        assert '<svg class="qr"' in html and 'href="weixin://wxpay/bizpayurl?pr=p4lpSuKzz"' in html
        # a code put in the address by someone else is never shown: the stored one is
        forged = client.get(path.split("?")[0] + "?code=weixin%3A%2F%2Fevil")
        shown = forged.content.decode()
        assert 'href="weixin://evil"' not in shown and 'href="weixin://wxpay/bizpayurl?pr=p4lpSuKzz"' in shown
        client.force_login(other)
        assert client.get(path).status_code == 404
        # a payment no longer open shows no code
        client.force_login(payer)
        Payment.objects.filter(pk=p.pk).update(status=PaymentStatus.EXPIRED)
        closed = client.get(path).content.decode()
        assert "weixin://" not in closed and "不能再付款" in closed
    finally:
        selectors._viewers.pop("test_order", None)


def test_an_order_answer_not_signed_by_the_platform_opens_nothing(gateway) -> None:
    # given: the answer comes signed by another key
    gateway.sign_key = g.KeyPair.new()
    # when / then: the SDK refuses it, and no payment is left behind
    with pytest.raises(Exception, match="verify the signature"), transaction.atomic():
        _payment()
    assert not Payment.objects.exists()


def test_an_order_wechat_pay_refuses_is_an_error_naming_its_code(gateway) -> None:
    gateway.answers.clear()
    gateway.answer(
        "POST", "/v3/pay/transactions/native", {"code": "NO_AUTH", "message": "无权限"}, status=403
    )
    with pytest.raises(GatewayError) as exc, transaction.atomic():
        _payment()
    assert exc.value.code == "NO_AUTH"
    assert not Payment.objects.exists()


def test_a_valid_notification_marks_the_payment_paid(gateway, client, hook_calls) -> None:
    # given
    p = _payment()
    body = g.wechat_notification(out_trade_no=p.merchant_ref, total_fen=12850)
    # when
    status, text = _post(client, body)
    # then
    assert (status, text) == (200, "success")
    p.refresh_from_db()
    assert p.status == PaymentStatus.SUCCEEDED and hook_calls == [p.pk]
    assert p.paid_by_id_number == f.APPLICANT_ID
    event = PaymentEvent.objects.get(payment=p, to_status=PaymentStatus.SUCCEEDED)
    assert event.detail["trade_no"] == "4200002026120412345678901234"


def test_a_notification_verified_with_the_platform_certificate(monkeypatch, client, tmp_path: Path) -> None:
    # given: the adapter in certificate mode, the platform certificate in its directory
    fake = g.FakeWeChatPay(serial=f"{g.PLATFORM_SERIAL:X}")
    fake.answer("POST", "/v3/pay/transactions/native", g.fixture_json("wechatpay_native_response.json"))
    monkeypatch.setattr("wechatpayv3.core.requests", fake)
    before = dict(port._PROVIDERS)
    port.register_provider(g.wechatpay_provider(cert_dir=g.platform_cert_dir(tmp_path)))
    try:
        p = _payment()
        body = g.wechat_notification(out_trade_no=p.merchant_ref, total_fen=12850)
        headers = g.wechat_signed_headers(body, serial=f"{g.PLATFORM_SERIAL:X}")
        # when / then
        assert _post(client, body, headers) == (200, "success")
        p.refresh_from_db()
        assert p.status == PaymentStatus.SUCCEEDED
    finally:
        port._PROVIDERS.clear()
        port._PROVIDERS.update(before)


def test_a_forged_notification_is_refused_and_changes_nothing(gateway, client, hook_calls) -> None:
    p = _payment()
    body = g.wechat_notification(out_trade_no=p.merchant_ref, total_fen=12850)
    forged = g.wechat_signed_headers(body, key=g.KeyPair.new())
    assert _post(client, body, forged) == (400, "fail")
    # a body changed after signing
    signed = g.wechat_signed_headers(body)
    assert _post(client, body.replace("TRANSACTION.SUCCESS", "TRANSACTION.SUCCESS "), signed) == (400, "fail")
    # signed with an unknown key id: refused without going for certificates
    assert _post(client, body, g.wechat_signed_headers(body, serial="PUB_KEY_ID_OTHER")) == (400, "fail")
    # encrypted with another APIv3 key: does not decrypt
    other = g.wechat_notification(out_trade_no=p.merchant_ref, total_fen=12850, apiv3_key="0" * 32)
    assert _post(client, other) == (400, "fail")
    p.refresh_from_db()
    assert p.status == PaymentStatus.PENDING and hook_calls == []
    rows = ProviderNotification.objects.filter(provider="wechatpay")
    assert rows.count() == 4 and not rows.filter(signature_ok=True).exists()
    assert [r["path"] for r in gateway.requests] == ["/v3/pay/transactions/native"]


def test_a_replayed_notification_has_one_effect(gateway, client, hook_calls) -> None:
    p = _payment()
    body = g.wechat_notification(out_trade_no=p.merchant_ref, total_fen=12850)
    assert _post(client, body) == (200, "success")
    # delivered again, freshly signed (as WeChat Pay retries): acknowledged, no second effect
    assert _post(client, body) == (200, "success")
    assert hook_calls == [p.pk]
    assert ProviderNotification.objects.filter(provider="wechatpay", signature_ok=True).count() == 1


def test_a_stale_or_foreign_notification_is_refused(gateway, client) -> None:
    p = _payment()
    body = g.wechat_notification(out_trade_no=p.merchant_ref, total_fen=12850)
    old = g.wechat_signed_headers(body, now=timezone.now() - datetime.timedelta(minutes=20))
    assert _post(client, body, old) == (400, "fail")
    foreign = g.wechat_notification(out_trade_no=p.merchant_ref, total_fen=12850, mchid="1900000999")
    assert _post(client, foreign) == (400, "fail")
    p.refresh_from_db()
    assert p.status == PaymentStatus.PENDING


def test_a_wrong_amount_is_refused_and_refunded_through_wechat_pay(gateway, client, hook_calls) -> None:
    gateway.answer("POST", "/v3/refund/domestic/refunds", g.fixture_json("wechatpay_refund_response.json"))
    p = _payment()
    body = g.wechat_notification(out_trade_no=p.merchant_ref, total_fen=100)
    assert _post(client, body) == (200, "success")
    p.refresh_from_db()
    assert p.status == PaymentStatus.REFUSED and p.failure_reason == "amount_mismatch" and hook_calls == []
    call = gateway.requests[-1]
    assert call["path"] == "/v3/refund/domestic/refunds"
    assert call["body"]["out_trade_no"] == p.merchant_ref
    assert call["body"]["amount"] == {"refund": 12850, "total": 12850, "currency": "CNY"}
    assert "notify_url" not in call["body"]  # refund results are not sent to the payment endpoint
    assert Refund.objects.get(payment=p).status == RefundStatus.SUCCEEDED


def test_a_closed_trade_fails_the_payment(gateway, client) -> None:
    p = _payment()
    body = g.wechat_notification(out_trade_no=p.merchant_ref, total_fen=12850, trade_state="CLOSED")
    assert _post(client, body) == (200, "success")
    p.refresh_from_db()
    assert p.status == PaymentStatus.FAILED and p.failure_reason == "closed"


def test_refund_numbers_name_the_refund_and_a_refused_refund_fails(gateway, client) -> None:
    # given: a paid payment
    p = _payment()
    _post(client, g.wechat_notification(out_trade_no=p.merchant_ref, total_fen=12850))
    gateway.answer("POST", "/v3/refund/domestic/refunds", g.fixture_json("wechatpay_refund_response.json"))
    adapter = port.get_provider("wechatpay")
    # when: the same refund twice, then made
    first = adapter.refund(Payment.objects.get(pk=p.pk), Decimal("28.50"))
    second = adapter.refund(Payment.objects.get(pk=p.pk), Decimal("28.50"))
    row = services.refund(Payment.objects.get(pk=p.pk), Decimal("28.50"), "保单退保")
    # then
    numbers = [r["body"]["out_refund_no"] for r in gateway.requests if r["path"].startswith("/v3/refund")]
    assert first.ok and second.ok and len(set(numbers)) == 1
    assert first.provider_refund_id == "50000000382019052709732678859"
    assert row.status == RefundStatus.SUCCEEDED
    # a refund WeChat Pay refuses
    gateway.answers[("POST", "/v3/refund/domestic/refunds")] = [
        (400, {"code": "NOT_ENOUGH", "message": "余额不足"})
    ]
    refused = services.refund(Payment.objects.get(pk=p.pk), Decimal("10.00"), "保单退保")
    assert refused.status == RefundStatus.FAILED
    p.refresh_from_db()
    assert p.refunded_amount == Decimal("28.50")


def test_query_reads_the_trade_state(gateway) -> None:
    p = _payment()
    adapter = port.get_provider("wechatpay")
    gateway.answer(
        "GET", "/v3/pay/transactions/out-trade-no/", g.fixture_json("wechatpay_query_response.json")
    )
    assert adapter.query(p) == "open"
    assert (
        gateway.requests[-1]["path"]
        == f"/v3/pay/transactions/out-trade-no/{p.merchant_ref}?mchid={g.WECHAT_MCHID}"
    )
    gateway.answers.pop(("GET", "/v3/pay/transactions/out-trade-no/"))
    paid = {**g.fixture_json("wechatpay_query_response.json"), "trade_state": "SUCCESS"}
    gateway.answer("GET", "/v3/pay/transactions/out-trade-no/", paid)
    assert adapter.query(p) == "paid"


def test_the_trade_bill_is_downloaded_checked_and_read(gateway) -> None:
    # given: the bill's description (with its SHA1) and the gzip file
    text = g.fixture_text("wechatpay_tradebill.csv").encode("utf-8")
    meta = {
        **g.fixture_json("wechatpay_tradebill_response.json"),
        "hash_value": hashlib.sha1(text).hexdigest(),
    }
    gateway.answer("GET", "/v3/bill/tradebill", meta)
    gateway.answer("GET", "/v3/billdownload/file", gzip.compress(text))
    adapter = port.get_provider("wechatpay")
    # when
    rows = adapter.download_bill(datetime.date(2026, 12, 3))  # type: ignore[attr-defined]
    # then
    assert (
        gateway.requests[-2]["path"] == "/v3/bill/tradebill?bill_date=2026-12-03&bill_type=ALL&tar_type=GZIP"
    )
    assert [(r.kind, r.trade_no, r.amount_fen, r.fee_fen) for r in rows] == [
        ("payment", "4200002026120312345678900001", 12850, 77),
        ("refund", "4200002026120312345678900001", 2850, 17),
    ]
    assert rows[0].at == datetime.datetime(2026, 12, 3, 10, 15, 21, tzinfo=BEIJING)
    assert rows[1].refund_ref == "HB20261203101500AAAAAA000001R0A2850"
    # a file that is not the one described is refused
    gateway.answers[("GET", "/v3/billdownload/file")] = [(200, gzip.compress(text + b"`extra"))]
    with pytest.raises(GatewayError) as exc:
        adapter.download_bill(datetime.date(2026, 12, 3))  # type: ignore[attr-defined]
    assert exc.value.code == "bill_hash_mismatch"


def test_jsapi_parameters_are_signed_for_the_bridge(gateway) -> None:
    gateway.answer(
        "POST", "/v3/pay/transactions/jsapi", {"prepay_id": "wx201410272009395522657a690389285100"}
    )
    p = _payment()
    params = port.get_provider("wechatpay").jsapi_params(p, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")  # type: ignore[attr-defined]
    assert gateway.requests[-1]["body"]["payer"]["openid"] == "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
    message = "\n".join([params["appId"], params["timeStamp"], params["nonceStr"], params["package"]]) + "\n"
    assert g.keys("wechat-merchant").verify(message, params["paySign"])
    assert params["package"] == "package=prepay_id=wx201410272009395522657a690389285100".removeprefix(
        "package="
    )


def test_the_recorded_notification_is_wechat_pays_documented_shape() -> None:
    envelope = json.loads(g.wechat_notification(out_trade_no="HB1", total_fen=1))
    assert envelope["resource_type"] == "encrypt-resource" and envelope["event_type"] == "TRANSACTION.SUCCESS"
    assert envelope["resource"]["algorithm"] == "AEAD_AES_256_GCM" and envelope["resource"]["ciphertext"]
