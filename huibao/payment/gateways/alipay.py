"""Alipay (支付宝开放平台, RSA2 = SHA256withRSA) behind the payment port, on `python-alipay-sdk`.

- Order: 电脑网站支付 `alipay.trade.page.pay` or 手机网站支付 `alipay.trade.wap.pay`
  (`ALIPAY_PAY_METHOD`). The payment's checkout URL is the platform's own page
  (`payment:alipay_checkout`) that posts the signed order to the gateway when the payer goes on:
  signed at that moment (Alipay checks the request's `timestamp`), and the payer's name and ID
  number travel in the POST body, never in an address a browser keeps or a proxy logs.
- Real name: every order binds the applicant (`ext_user_info`: name, cert_type IDENTITY_CARD,
  cert_no, need_check_info=T); Alipay lets only that person pay and does not report the payer
  back, so its notifications are `payer_bound`.
- The trade is `out_trade_no` = the payment's merchant reference on Alipay's side until the payer
  pays (Alipay assigns `trade_no` then): that is the `provider_txn_id`; the `trade_no` comes with
  the notification (`Notification.trade_no`). A notification for another `app_id` is refused.
- Notification: a form POST, signed with Alipay's key: `sign` over the other parameters (but
  `sign_type`) sorted and joined, verified by the SDK's `verify` with Alipay's public key.
  `trade_status` TRADE_SUCCESS / TRADE_FINISHED → success, TRADE_CLOSED → failed.
- `refund`: `alipay.trade.refund` with `out_request_no` (the same refund asked again — after a
  timeout — has the same number: Alipay refunds it once). `query`: `alipay.trade.query`.
- Reconciliation: `alipay.data.dataservice.bill.downloadurl.query` gives the file's address; the
  file (a zip of GBK CSVs) is read by `parse_bill`.
"""

from __future__ import annotations

import base64
import csv
import datetime
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any, Literal
from urllib.parse import parse_qsl

from alipay import AliPay
from alipay.exceptions import AliPayException, AliPayValidationError
from django.conf import settings
from django.urls import reverse

from huibao.core.money import to_fen_int
from huibao.payment.errors import InvalidSignature
from huibao.payment.gateways import common
from huibao.payment.gateways.common import BillRow, BillRowKind, GatewayError
from huibao.payment.models import Payment
from huibao.payment.provider import Checkout, Notification, NotificationStatus, RefundResult

NAME = "alipay"
LIVE_GATEWAY = "https://openapi.alipay.com/gateway.do"
SANDBOX_GATEWAY = "https://openapi-sandbox.dl.alipaydev.com/gateway.do"
SUCCESS_CODE = "10000"
PayMethod = Literal["page", "wap"]
_METHODS: dict[str, tuple[str, str]] = {
    "page": ("alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"),
    "wap": ("alipay.trade.wap.pay", "QUICK_WAP_PAY"),
}
_TRADE_STATUS: dict[str, NotificationStatus] = {
    "TRADE_SUCCESS": "success",
    "TRADE_FINISHED": "success",
    "TRADE_CLOSED": "failed",
}
# `query`'s answer, in the words the sandbox uses (open, paid, failed).
_QUERY_STATUS = {
    "WAIT_BUYER_PAY": "open",
    "TRADE_SUCCESS": "paid",
    "TRADE_FINISHED": "paid",
    "TRADE_CLOSED": "failed",
}


@dataclass(frozen=True, slots=True)
class AlipaySettings:
    app_id: str
    app_private_key: str  # PEM
    alipay_public_key: str  # PEM
    notify_url: str
    sandbox: bool = False
    pay_method: PayMethod = "page"

    @classmethod
    def from_settings(cls) -> AlipaySettings:
        method = str(settings.ALIPAY_PAY_METHOD)
        if method not in _METHODS:
            raise GatewayError("bad_setting", f"ALIPAY_PAY_METHOD must be page or wap, not {method}")
        with open(settings.ALIPAY_APP_PRIVATE_KEY_PATH, encoding="utf-8") as private:
            app_private_key = private.read()
        with open(settings.ALIPAY_PUBLIC_KEY_PATH, encoding="utf-8") as public:
            alipay_public_key = public.read()
        return cls(
            app_id=str(settings.ALIPAY_APP_ID),
            app_private_key=app_private_key,
            alipay_public_key=alipay_public_key,
            notify_url=_public(reverse("payment:notify", args=[NAME])),
            sandbox=bool(settings.ALIPAY_SANDBOX),
            pay_method=method,  # type: ignore[arg-type]
        )


def key_material(text: str) -> str | bytes:
    """A key as the SDK loads it: PEM as it is; the bare base64 Alipay's console and key tool
    show (no BEGIN/END lines) as its DER bytes."""
    if "-----BEGIN" in text:
        return text
    return base64.b64decode("".join(text.split()))


def _public(path: str) -> str:
    return str(settings.HUIBAO_PUBLIC_URL).rstrip("/") + path if path.startswith("/") else path


@dataclass(frozen=True, slots=True)
class OrderForm:
    """The signed order the payer's browser posts to the gateway."""

    action: str
    fields: tuple[tuple[str, str], ...]


class _BeijingAliPay(AliPay):
    """The SDK stamps requests with the server's local clock; Alipay reads `timestamp` as
    Beijing time, so it is written in Beijing time whatever the server's zone."""

    def build_body(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        data: dict[str, Any] = super().build_body(*args, **kwargs)
        data["timestamp"] = datetime.datetime.now(common.BEIJING).strftime("%Y-%m-%d %H:%M:%S")
        return data


class AlipayProvider:
    """Alipay's open API: page/WAP pay, RSA2-signed notifications, refund, query, bills."""

    name = NAME

    def __init__(self, config: AlipaySettings) -> None:
        self.config = config

    @cached_property
    def client(self) -> AliPay:
        return _BeijingAliPay(
            appid=self.config.app_id,
            app_notify_url=self.config.notify_url,
            app_private_key_string=key_material(self.config.app_private_key),
            alipay_public_key_string=key_material(self.config.alipay_public_key),
            sign_type="RSA2",
            debug=self.config.sandbox,
        )

    @property
    def gateway(self) -> str:
        return SANDBOX_GATEWAY if self.config.sandbox else LIVE_GATEWAY

    # --- order ---------------------------------------------------------------------------------

    def create_checkout(self, payment: Payment) -> Checkout:
        # Nothing to call yet: Alipay creates the trade when the payer reaches its cashier.
        return Checkout(
            url=_public(reverse("payment:alipay_checkout", args=[payment.public_id])),
            provider_txn_id=payment.merchant_ref,
        )

    def order_form(self, payment: Payment, *, subject: str = "汇保保费") -> OrderForm:
        """The order of `payment`, signed now: `alipay.trade.page.pay` or `.wap.pay`."""
        method, product_code = _METHODS[self.config.pay_method]
        biz_content = {
            "out_trade_no": payment.merchant_ref,
            "total_amount": common.yuan(payment.amount),
            "subject": subject,
            "product_code": product_code,
            # Alipay closes the trade at the payment's own expiry.
            "time_expire": payment.expires_at.astimezone(common.BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            # Real-name payment: only the applicant can pay (Alipay checks it on its cashier).
            "ext_user_info": {
                "name": payment.payer_name,
                "cert_type": "IDENTITY_CARD",
                "cert_no": payment.payer_id_number,
                "need_check_info": "T",
            },
        }
        data = self.client.build_body(
            method, biz_content, return_url=_public(payment.return_url) if payment.return_url else None
        )
        signed = self.client.sign_data(data)
        return OrderForm(action=self.gateway, fields=tuple(parse_qsl(signed, keep_blank_values=True)))

    # --- notifications -------------------------------------------------------------------------

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        try:
            params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidSignature(f"not a form body: {exc}", code="malformed") from exc
        signature = params.pop("sign", "")
        if not signature:
            raise InvalidSignature("the notification carries no sign", code="bad_signature")
        if params.get("sign_type", "RSA2") != "RSA2":
            raise InvalidSignature(f"sign_type {params.get('sign_type')} is not RSA2", code="bad_signature")
        # Alipay signs the parameters that have a value (its own SDKs leave empty ones out).
        signed = {k: v for k, v in params.items() if v != ""}
        try:
            valid = self.client.verify(dict(signed), signature)
        except (AliPayException, ValueError, TypeError) as exc:
            raise InvalidSignature(f"signature does not verify: {exc}", code="bad_signature") from exc
        if not valid:
            raise InvalidSignature("signature does not verify with Alipay's public key", code="bad_signature")
        if params.get("app_id") != self.config.app_id:
            raise InvalidSignature(f"notification for another app {params.get('app_id')}", code="foreign_app")
        status = _TRADE_STATUS.get(params.get("trade_status", ""))
        if status is None:
            raise InvalidSignature(
                f"trade_status {params.get('trade_status')!r} is not final", code="malformed"
            )
        try:
            return Notification(
                notify_id=params["notify_id"][:64],
                sent_at=common.beijing(params["notify_time"]),
                merchant_ref=params["out_trade_no"],
                provider_txn_id=params["out_trade_no"],
                status=status,
                amount_fen=common.yuan_to_fen(params["total_amount"]),
                payer_name="",
                payer_id_number="",
                reason="trade_closed" if status == "failed" else "",
                payer_bound=True,
                trade_no=params.get("trade_no", ""),
            )
        except (KeyError, ValueError) as exc:
            raise InvalidSignature(f"notification lacks or garbles {exc}", code="malformed") from exc

    # --- refund and query ----------------------------------------------------------------------

    def refund(self, payment: Payment, amount: Decimal) -> RefundResult:
        fen = to_fen_int(amount)
        # Named by what was refunded before it and its amount: asking the same refund again
        # (after a timeout) sends the same number, which Alipay refunds only once.
        out_request_no = f"{payment.merchant_ref}R{to_fen_int(payment.refunded_amount)}A{fen}"
        try:
            answer = self.client.api_alipay_trade_refund(
                refund_amount=common.fen_to_yuan(fen),
                out_trade_no=payment.merchant_ref,
                out_request_no=out_request_no,
                refund_reason="保费退还",
            )
        except (AliPayException, AliPayValidationError, OSError) as exc:
            return RefundResult(ok=False, provider_refund_id="", message=f"alipay: {exc!r}"[:200])
        if answer.get("code") != SUCCESS_CODE:
            return RefundResult(ok=False, provider_refund_id="", message=_error(answer))
        return RefundResult(ok=True, provider_refund_id=out_request_no)

    def query(self, payment: Payment) -> str:
        try:
            answer = self.client.api_alipay_trade_query(out_trade_no=payment.merchant_ref)
        except AliPayValidationError as exc:
            raise GatewayError("bad_signature", "Alipay's answer does not verify") from exc
        except AliPayException as exc:
            raise GatewayError("alipay_error", str(exc)) from exc
        if answer.get("code") != SUCCESS_CODE:
            if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return "open"  # the payer has not reached the cashier yet
            raise GatewayError(str(answer.get("sub_code") or answer.get("code")), _error(answer))
        return _QUERY_STATUS.get(str(answer.get("trade_status")), str(answer.get("trade_status")))

    # --- reconciliation ------------------------------------------------------------------------

    def bill_url(self, day: datetime.date, bill_type: str = "trade") -> str:
        """The address of the day's reconciliation file (valid 30 seconds)."""
        try:
            answer = self.client.server_api(
                "alipay.data.dataservice.bill.downloadurl.query",
                {"bill_type": bill_type, "bill_date": day.isoformat()},
            )
        except AliPayValidationError as exc:
            raise GatewayError("bad_signature", "Alipay's answer does not verify") from exc
        except AliPayException as exc:
            raise GatewayError("alipay_error", str(exc)) from exc
        if answer.get("code") != SUCCESS_CODE:
            raise GatewayError(str(answer.get("sub_code") or answer.get("code")), _error(answer))
        return str(answer["bill_download_url"])

    def download_bill(self, day: datetime.date) -> list[BillRow]:
        return parse_bill(common.download(self.bill_url(day)))


def _error(answer: Mapping[str, Any]) -> str:
    return (
        f"{answer.get('code')} {answer.get('sub_code', '')} {answer.get('sub_msg') or answer.get('msg', '')}"[
            :200
        ]
    )


def parse_bill(archive: bytes) -> list[BillRow]:
    """The rows of Alipay's trade bill: a zip holding `…_业务明细.csv` (GBK, `#` comment lines, a
    header, one line per payment 交易 or refund 退款) beside its summary, which is skipped."""
    rows: list[BillRow] = []
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        for name in bundle.namelist():
            if not name.endswith("业务明细.csv"):
                continue
            text = bundle.read(name).decode("gbk")
            lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
            reader = csv.DictReader(lines)
            for raw in reader:
                record = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
                trade_no = record.get("支付宝交易号", "")
                if not trade_no.isdigit():
                    continue  # the totals line
                kind: BillRowKind = "refund" if record.get("业务类型") == "退款" else "payment"
                amount = abs(common.yuan_to_fen(record.get("订单金额（元）", "0") or "0"))
                if kind == "refund":
                    amount = abs(common.yuan_to_fen(record.get("商家实收（元）", "0") or "0"))
                finished = record.get("完成时间", "")
                rows.append(
                    BillRow(
                        trade_no=trade_no,
                        merchant_ref=record.get("商户订单号", ""),
                        kind=kind,
                        amount_fen=amount,
                        fee_fen=abs(common.yuan_to_fen(record.get("服务费（元）", "0") or "0")),
                        at=common.beijing(finished) if finished else None,
                        refund_ref=record.get("退款批次号/请求号", ""),
                    )
                )
    return rows
