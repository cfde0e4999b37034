"""WeChat Pay API v3 (直连商户) behind the payment port, on `wechatpayv3`'s `WeChatPay`.

- Order: Native (扫码, `/v3/pay/transactions/native` → `code_url`) from `create_checkout`: the
  checkout URL is the platform's page (`payment:wechatpay_checkout`) showing it as a QR code;
  H5 (`/v3/pay/transactions/h5` → `h5_url`, needs the payer's IP) and JSAPI
  (`/v3/pay/transactions/jsapi` → `prepay_id`, needs the payer's openid, then the signed
  `WeixinJSBridge` parameters) are methods for a page that has them.
- Real name: every order carries `payer.identity` (type IDCARD, number, name: 指定身份支付),
  which WeChat Pay enforces at its cashier — a permission the merchant asks WeChat Pay for; an
  order without it is refused (无权限). The notification does not report the payer: `payer_bound`.
- The trade is `out_trade_no` (the merchant reference) until paid; `transaction_id` comes with
  the notification (`Notification.trade_no`). A notification of another mchid or appid is refused.
- Notification: JSON whose `resource` is AES-256-GCM encrypted with the APIv3 key; headers
  Wechatpay-Signature/-Timestamp/-Nonce/-Serial (WECHATPAY2-SHA256-RSA2048) verified with the
  platform certificate or the WeChat Pay public key by the SDK's `callback`. `trade_state`
  SUCCESS → success; CLOSED, REVOKED, PAYERROR → failed. `sent_at` is the signed timestamp.
- `refund`: `/v3/refund/domestic/refunds` with `out_refund_no` (the same refund asked again has
  the same number); SUCCESS and PROCESSING are taken (WeChat Pay finishes refunds later; no
  refund notification is asked for). `query`: `/v3/pay/transactions/out-trade-no/{no}`.
- Reconciliation: `/v3/bill/tradebill` → `download_url` (+ SHA1), the file through the SDK's
  `download_bill` (GZIP), read by `parse_bill`.
"""

from __future__ import annotations

import csv
import datetime
import gzip
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings
from django.urls import reverse
from wechatpayv3 import WeChatPay, WeChatPayType

from huibao.core.money import to_fen_int
from huibao.payment.errors import InvalidSignature
from huibao.payment.gateways import common
from huibao.payment.gateways.common import BillRow, GatewayError
from huibao.payment.models import Payment
from huibao.payment.provider import Checkout, Notification, NotificationStatus, RefundResult

NAME = "wechatpay"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
HEADERS = ("Wechatpay-Signature", "Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial")
_TRADE_STATE: dict[str, NotificationStatus] = {
    "SUCCESS": "success",
    "CLOSED": "failed",
    "REVOKED": "failed",
    "PAYERROR": "failed",
}
# `query`'s answer, in the words the sandbox uses (open, paid, failed).
_QUERY_STATUS = {
    "NOTPAY": "open",
    "USERPAYING": "open",
    "SUCCESS": "paid",
    "REFUND": "paid",
    "CLOSED": "failed",
    "REVOKED": "failed",
    "PAYERROR": "failed",
}
TradeType = Literal["native", "h5"]


@dataclass(frozen=True, slots=True)
class WeChatPaySettings:
    mchid: str
    appid: str
    private_key: str  # the merchant's API key (apiclient_key.pem)
    cert_serial_no: str  # the merchant API certificate's serial number
    apiv3_key: str
    notify_url: str
    platform_cert_dir: str = ""
    public_key: str = ""  # the WeChat Pay public key (PEM), with its id
    public_key_id: str = ""
    trade_type: TradeType = "native"

    @classmethod
    def from_settings(cls) -> WeChatPaySettings:
        trade_type = str(settings.WECHATPAY_TRADE_TYPE)
        if trade_type != "native":
            # H5 and JSAPI need the payer's IP / openid, which `create_checkout` does not have.
            raise GatewayError("bad_setting", f"WECHATPAY_TRADE_TYPE: only native, not {trade_type}")
        public_key_path = str(settings.WECHATPAY_PUBLIC_KEY_PATH)
        return cls(
            mchid=str(settings.WECHATPAY_MCHID),
            appid=str(settings.WECHATPAY_APPID),
            private_key=Path(settings.WECHATPAY_PRIVATE_KEY_PATH).read_text(encoding="utf-8"),
            cert_serial_no=str(settings.WECHATPAY_CERT_SERIAL_NO),
            apiv3_key=str(settings.WECHATPAY_APIV3_KEY),
            notify_url=str(settings.HUIBAO_PUBLIC_URL).rstrip("/") + reverse("payment:notify", args=[NAME]),
            platform_cert_dir=str(settings.WECHATPAY_PLATFORM_CERT_DIR),
            public_key=Path(public_key_path).read_text(encoding="utf-8") if public_key_path else "",
            public_key_id=str(settings.WECHATPAY_PUBLIC_KEY_ID) if public_key_path else "",
            trade_type=trade_type,  # type: ignore[arg-type]
        )


class WeChatPayProvider:
    """WeChat Pay v3: Native/H5/JSAPI orders, signed and encrypted notifications, refund, query, bills."""

    name = NAME

    def __init__(self, config: WeChatPaySettings) -> None:
        self.config = config

    @cached_property
    def client(self) -> WeChatPay:
        """Built on first use: with a certificate directory and no certificate in it, the SDK
        downloads the platform certificates (`/v3/certificates`), which a start must not wait for."""
        config = self.config
        return WeChatPay(
            wechatpay_type=WeChatPayType.NATIVE,
            mchid=config.mchid,
            private_key=config.private_key,
            cert_serial_no=config.cert_serial_no,
            appid=config.appid,
            apiv3_key=config.apiv3_key,
            # Not set here on purpose: the SDK would put it on refunds too, and the refund
            # notifications would come to the payment endpoint. Each order names it.
            notify_url=None,
            cert_dir=config.platform_cert_dir or None,
            public_key=config.public_key or None,
            public_key_id=config.public_key_id or None,
            timeout=(5, 15),
        )

    # --- orders --------------------------------------------------------------------------------

    def _order(self, payment: Payment) -> dict[str, Any]:
        return {
            "description": "汇保保费",
            "out_trade_no": payment.merchant_ref,
            "amount": {"total": to_fen_int(payment.amount), "currency": "CNY"},
            "time_expire": payment.expires_at.astimezone(common.BEIJING).isoformat(timespec="seconds"),
            "notify_url": self.config.notify_url,
        }

    def _identity(self, payment: Payment) -> dict[str, str]:
        # 指定身份支付: plain text in the order (the API says so), checked at WeChat Pay's cashier.
        return {"type": "IDCARD", "number": payment.payer_id_number, "name": payment.payer_name}

    def _call(self, answer: tuple[int, Any], what: str) -> dict[str, Any]:
        code, message = answer
        try:
            data = json.loads(message) if message else {}
        except (TypeError, ValueError) as exc:
            raise GatewayError("bad_answer", f"{what}: {message!r}"[:200]) from exc
        if code not in range(200, 300):
            raise GatewayError(str(data.get("code") or code), f"{what}: {data.get('message', '')}"[:200])
        return dict(data)

    def create_checkout(self, payment: Payment) -> Checkout:
        if self.config.trade_type == "h5":
            raise GatewayError("needs_client_ip", "H5 orders need the payer's IP: use h5_url(payment, ip)")
        data = self._call(
            self.client.pay(
                **self._order(payment),
                payer={"identity": self._identity(payment)},
                pay_type=WeChatPayType.NATIVE,
            ),
            "native order",
        )
        # The platform's page shows the code as a QR code; the code rides in the checkout URL
        # itself (the page reads it from the stored URL, never from the request).
        page = reverse("payment:wechatpay_checkout", args=[payment.public_id])
        url = str(settings.HUIBAO_PUBLIC_URL).rstrip("/") + page + "?" + urlencode({"code": data["code_url"]})
        return Checkout(url=url, provider_txn_id=payment.merchant_ref)

    @staticmethod
    def code_url(payment: Payment) -> str:
        """The Native payment code of the payment's checkout (`weixin://wxpay/…`), or ""."""
        code = parse_qs(urlsplit(payment.checkout_url).query).get("code", [""])[0]
        return code if code.startswith("weixin://") else ""

    def h5_url(self, payment: Payment, client_ip: str) -> str:
        data = self._call(
            self.client.pay(
                **self._order(payment),
                payer={"identity": self._identity(payment)},
                scene_info={"payer_client_ip": client_ip, "h5_info": {"type": "Wap"}},
                pay_type=WeChatPayType.H5,
            ),
            "h5 order",
        )
        return str(data["h5_url"])

    def jsapi_params(self, payment: Payment, openid: str) -> dict[str, str]:
        """The parameters `WeixinJSBridge.invoke('getBrandWCPayRequest', …)` takes, signed."""
        data = self._call(
            self.client.pay(
                **self._order(payment),
                payer={"openid": openid, "identity": self._identity(payment)},
                pay_type=WeChatPayType.JSAPI,
            ),
            "jsapi order",
        )
        timestamp = str(int(datetime.datetime.now(datetime.UTC).timestamp()))
        nonce = hashlib.sha256(f"{payment.merchant_ref}{timestamp}".encode()).hexdigest()[:32]
        package = f"prepay_id={data['prepay_id']}"
        signature = self.client.sign([self.config.appid, timestamp, nonce, package])
        return {
            "appId": self.config.appid,
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": signature,
        }

    # --- notifications -------------------------------------------------------------------------

    def parse_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        lowered = {k.lower(): v for k, v in headers.items()}
        signed = {name: str(lowered.get(name.lower(), "")) for name in HEADERS}
        signed["Wechatpay-Signature-Type"] = str(lowered.get("wechatpay-signature-type", ""))
        if not all(signed[name] for name in HEADERS):
            raise InvalidSignature(
                "the notification lacks a Wechatpay-* signature header", code="bad_signature"
            )
        if signed["Wechatpay-Signature-Type"] != SIGNATURE_TYPE:
            raise InvalidSignature(
                f"signature type {signed['Wechatpay-Signature-Type']!r}", code="bad_signature"
            )
        if self.config.public_key_id and signed["Wechatpay-Serial"] != self.config.public_key_id:
            # Checked first: the SDK would otherwise go and download certificates for any serial.
            raise InvalidSignature("signed with an unknown key", code="bad_signature")
        try:
            data = self.client.callback(signed, body.decode("utf-8"))
        except Exception as exc:  # the SDK raises bare Exception for what it does not support
            raise InvalidSignature(f"notification does not verify: {exc}", code="bad_signature") from exc
        if not data:
            raise InvalidSignature(
                "signature does not verify with the platform key, or the resource does not decrypt",
                code="bad_signature",
            )
        resource = data.get("resource") or {}
        if resource.get("mchid") != self.config.mchid or resource.get("appid") != self.config.appid:
            raise InvalidSignature("notification for another merchant or app", code="foreign_app")
        status = _TRADE_STATE.get(str(resource.get("trade_state", "")))
        if status is None:
            raise InvalidSignature(
                f"trade_state {resource.get('trade_state')!r} is not final", code="malformed"
            )
        try:
            sent_at = datetime.datetime.fromtimestamp(int(signed["Wechatpay-Timestamp"]), tz=datetime.UTC)
            return Notification(
                notify_id=str(data["id"])[:64],
                sent_at=sent_at,
                merchant_ref=str(resource["out_trade_no"]),
                provider_txn_id=str(resource["out_trade_no"]),
                status=status,
                amount_fen=int(resource["amount"]["total"]),
                payer_name="",
                payer_id_number="",
                reason="" if status == "success" else str(resource["trade_state"]).lower(),
                payer_bound=True,
                trade_no=str(resource.get("transaction_id") or ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidSignature(f"notification lacks or garbles {exc}", code="malformed") from exc

    # --- refund and query ----------------------------------------------------------------------

    def refund(self, payment: Payment, amount: Decimal) -> RefundResult:
        fen = to_fen_int(amount)
        out_refund_no = f"{payment.merchant_ref}R{to_fen_int(payment.refunded_amount)}A{fen}"
        try:
            data = self._call(
                self.client.refund(
                    out_refund_no=out_refund_no,
                    amount={"refund": fen, "total": to_fen_int(payment.amount), "currency": "CNY"},
                    out_trade_no=payment.merchant_ref,
                    reason="保费退还",
                ),
                "refund",
            )
        except GatewayError as exc:
            return RefundResult(ok=False, provider_refund_id="", message=str(exc)[:200])
        except Exception as exc:  # transport failures and the SDK's own (signature of the answer)
            return RefundResult(ok=False, provider_refund_id="", message=f"wechatpay: {exc!r}"[:200])
        if data.get("status") not in ("SUCCESS", "PROCESSING"):
            return RefundResult(ok=False, provider_refund_id="", message=f"refund {data.get('status')}")
        return RefundResult(ok=True, provider_refund_id=str(data.get("refund_id") or out_refund_no))

    def query(self, payment: Payment) -> str:
        try:
            answer = self.client.query(out_trade_no=payment.merchant_ref)
        except Exception as exc:
            raise GatewayError("wechatpay_error", repr(exc)[:200]) from exc
        code, _ = answer
        if code == 404:
            return "open"  # ORDER_NOT_EXIST: never ordered, or not yet
        data = self._call(answer, "query")
        state = str(data.get("trade_state"))
        return _QUERY_STATUS.get(state, state)

    # --- reconciliation ------------------------------------------------------------------------

    def download_bill(self, day: datetime.date) -> list[BillRow]:
        meta = self._call(self.client.trade_bill(bill_date=day.isoformat(), bill_type="ALL"), "trade bill")
        code, content = self.client.download_bill(str(meta["download_url"]))
        if code != 200:
            raise GatewayError("bill_download_failed", f"HTTP {code}")
        raw = content if isinstance(content, bytes) else str(content).encode("utf-8")
        text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        digest = hashlib.sha1(text).hexdigest()  # noqa: S324 (the digest WeChat Pay gives)
        if meta.get("hash_type", "SHA1") == "SHA1" and digest != meta.get("hash_value"):
            raise GatewayError(
                "bill_hash_mismatch", "the downloaded bill is not the one WeChat Pay described"
            )
        return parse_bill(text.decode("utf-8-sig"))


def parse_bill(text: str) -> list[BillRow]:
    """The rows of a WeChat Pay trade bill (ALL): a header line, one line per trade with each
    field behind a backquote, then the totals (总交易单数…) which are skipped. A refunded
    trade's line (交易状态 REFUND) is a refund of 退款金额."""
    lines = text.splitlines()
    if not lines:
        return []
    reader = csv.reader(lines)
    header = [h.strip() for h in next(reader)]
    rows: list[BillRow] = []
    for values in reader:
        if not values or values[0].startswith("总"):
            break
        record = dict(zip(header, (v.strip().lstrip("`") for v in values), strict=False))
        refund = record.get("交易状态") == "REFUND"
        amount = record.get("退款金额" if refund else "应结订单金额", "0") or "0"
        rows.append(
            BillRow(
                trade_no=record.get("微信订单号", ""),
                merchant_ref=record.get("商户订单号", ""),
                kind="refund" if refund else "payment",
                amount_fen=common.yuan_to_fen(amount),
                fee_fen=abs(common.yuan_to_fen(record.get("手续费", "0") or "0")),
                at=common.beijing(record["交易时间"]) if record.get("交易时间") else None,
                refund_ref=record.get("商户退款单号", ""),
            )
        )
    return rows
