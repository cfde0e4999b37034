"""The two gateways' far side for tests: locally generated key pairs, recorded answers signed with
the test's "gateway" key, and fakes at the transport each SDK uses (python-alipay-sdk: urllib's
`urlopen`; wechatpayv3: `requests`). No network: a call to anything else fails the test."""

from __future__ import annotations

import base64
import datetime
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from huibao.payment import services
from huibao.payment.gateways.alipay import AlipayProvider, AlipaySettings
from huibao.payment.gateways.common import BEIJING
from huibao.payment.gateways.wechatpay import WeChatPayProvider, WeChatPaySettings
from huibao.payment.models import Payment
from huibao.payment.tests import factories as f

FIXTURES = Path(__file__).parent / "fixtures"
ALIPAY_APP_ID = "2021000000000001"
WECHAT_MCHID = "1900000109"
WECHAT_APPID = "wxd678efh567hg6787"
APIV3_KEY = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001062026120400000000000001"
NOTIFY_BASE = "http://testserver"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def fixture_json(name: str) -> dict[str, Any]:
    return dict(json.loads(fixture_text(name)))


@dataclass(frozen=True)
class KeyPair:
    private: rsa.RSAPrivateKey

    @classmethod
    def new(cls) -> KeyPair:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @property
    def private_pem(self) -> str:
        return self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def sign(self, message: str) -> str:
        raw = self.private.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(raw).decode()

    def verify(self, message: str, signature: str) -> bool:
        try:
            self.private.public_key().verify(
                base64.b64decode(signature), message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:
            return False
        return True

    def certificate(self, serial: int) -> str:
        """A self-signed certificate of this key (a WeChat Pay platform certificate's stand-in)."""
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA (test)")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.private.public_key())
            .serial_number(serial)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(self.private, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode()


_KEYS: dict[str, KeyPair] = {}


def keys(role: str) -> KeyPair:
    """One key pair per role for the whole run (RSA generation is the slow part)."""
    if role not in _KEYS:
        _KEYS[role] = KeyPair.new()
    return _KEYS[role]


# --- Alipay --------------------------------------------------------------------------------------


def alipay_provider(*, pay_method: str = "page") -> AlipayProvider:
    return AlipayProvider(
        AlipaySettings(
            app_id=ALIPAY_APP_ID,
            app_private_key=keys("alipay-app").private_pem,
            alipay_public_key=keys("alipay-gateway").public_pem,
            notify_url=NOTIFY_BASE + "/payment/notify/alipay/",
            pay_method=pay_method,  # type: ignore[arg-type]
        )
    )


def alipay_sign_content(params: dict[str, str], *, request: bool = False) -> str:
    """What is signed: the parameters with a value, sorted, k=v&… — but `sign` (a request) or
    `sign` and `sign_type` (a notification), as Alipay's signing rules say."""
    left_out = ("sign",) if request else ("sign", "sign_type")
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in left_out and v != "")


def alipay_notification(
    *,
    out_trade_no: str,
    total_amount: str,
    trade_status: str = "TRADE_SUCCESS",
    notify_id: str | None = None,
    now: datetime.datetime | None = None,
    key: KeyPair | None = None,
    app_id: str = ALIPAY_APP_ID,
    **overrides: str,
) -> bytes:
    """The recorded TRADE_SUCCESS notification (fixture) for this trade, signed by Alipay's key
    (or `key`), as the form body Alipay POSTs."""
    params = dict(
        line.split("=", 1) for line in fixture_text("alipay_notify_trade_success.form").strip().split("&")
    )
    sent = (now or datetime.datetime.now(datetime.UTC)).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    params.update(
        out_trade_no=out_trade_no,
        total_amount=total_amount,
        receipt_amount=total_amount,
        invoice_amount=total_amount,
        buyer_pay_amount=total_amount,
        trade_status=trade_status,
        notify_id=notify_id or secrets.token_hex(16),
        notify_time=sent,
        app_id=app_id,
        auth_app_id=app_id,
    )
    params.update(overrides)
    params["sign"] = (key or keys("alipay-gateway")).sign(alipay_sign_content(params))
    return urlencode(params).encode()


@dataclass
class FakeAlipay:
    """Alipay's open API gateway: checks each request's RSA2 signature with the app's public key
    and answers the recorded `*_response` for its method, signed with Alipay's key."""

    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    tamper: bool = False

    def answer(self, method: str, body: dict[str, Any]) -> None:
        self.answers.setdefault(method, []).append(body)

    def __call__(self, url: str, timeout: float | None = None) -> Any:
        parts = urlsplit(url)
        assert parts.netloc in ("openapi.alipay.com", "openapi-sandbox.dl.alipaydev.com"), url
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        assert keys("alipay-app").verify(alipay_sign_content(params, request=True), params["sign"]), (
            "bad request sign"
        )
        assert params["app_id"] == ALIPAY_APP_ID and params["sign_type"] == "RSA2"
        method = params["method"]
        biz = json.loads(params["biz_content"])
        self.requests.append({"method": method, "biz": biz, "timestamp": params["timestamp"]})
        queue = self.answers.get(method) or []
        assert queue, f"no recorded answer for {method}"
        body = queue.pop(0) if len(queue) > 1 else queue[0]
        inner = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        signature = keys("alipay-gateway").sign(inner)
        if self.tamper:
            inner = inner.replace('"10000"', '"10000" ')
        response_type = method.replace(".", "_") + "_response"
        raw = '{"%s":%s,"sign":"%s"}' % (response_type, inner, signature)  # noqa: UP031
        return _Body(raw.encode())


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self) -> bytes:
        return self._data


# --- WeChat Pay -----------------------------------------------------------------------------------


def wechatpay_provider(*, cert_dir: str = "") -> WeChatPayProvider:
    """Public-key mode unless `cert_dir` holds the platform certificates."""
    return WeChatPayProvider(
        WeChatPaySettings(
            mchid=WECHAT_MCHID,
            appid=WECHAT_APPID,
            private_key=keys("wechat-merchant").private_pem,
            cert_serial_no="5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
            apiv3_key=APIV3_KEY,
            notify_url=NOTIFY_BASE + "/payment/notify/wechatpay/",
            platform_cert_dir=cert_dir,
            public_key="" if cert_dir else keys("wechat-platform").public_pem,
            public_key_id="" if cert_dir else PUBLIC_KEY_ID,
        )
    )


PLATFORM_SERIAL = 0x3775B6A45ACD588826FF0BEF2ED8F5B9


def platform_cert_dir(tmp: Path) -> str:
    (tmp / f"{PLATFORM_SERIAL:X}.pem").write_text(keys("wechat-platform").certificate(PLATFORM_SERIAL))
    return str(tmp)


def wechat_signed_headers(
    body: str,
    *,
    key: KeyPair | None = None,
    serial: str = PUBLIC_KEY_ID,
    now: datetime.datetime | None = None,
) -> dict[str, str]:
    timestamp = str(int((now or datetime.datetime.now(datetime.UTC)).timestamp()))
    nonce = secrets.token_hex(16)
    signature = (key or keys("wechat-platform")).sign(f"{timestamp}\n{nonce}\n{body}\n")
    return {
        "Wechatpay-Signature": signature,
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


def wechat_notification(
    *,
    out_trade_no: str,
    total_fen: int,
    trade_state: str = "SUCCESS",
    notify_id: str | None = None,
    apiv3_key: str = APIV3_KEY,
    mchid: str = WECHAT_MCHID,
) -> str:
    """The recorded TRANSACTION.SUCCESS notification, its resource encrypted with the APIv3 key."""
    resource = fixture_json("wechatpay_transaction_success.json")
    resource.update(out_trade_no=out_trade_no, trade_state=trade_state, mchid=mchid)
    resource["amount"] = {**resource["amount"], "total": total_fen, "payer_total": total_fen}
    envelope = fixture_json("wechatpay_notify_envelope.json")
    nonce = secrets.token_hex(6)
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(
        nonce.encode(), json.dumps(resource, ensure_ascii=False).encode(), b"transaction"
    )
    envelope["id"] = notify_id or "EV-" + secrets.token_hex(10)
    envelope["resource"] = {
        **envelope["resource"],
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "nonce": nonce,
    }
    return json.dumps(envelope, ensure_ascii=False)


@dataclass
class _Response:
    status_code: int
    text: str
    headers: dict[str, str]

    @property
    def content(self) -> bytes:
        return self.text.encode()


@dataclass
class _BinaryResponse:
    status_code: int
    content: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return self.content.decode("latin-1")


@dataclass
class FakeWeChatPay:
    """WeChat Pay's API: checks the merchant's Authorization signature and answers the recorded
    body for (method, path prefix), signed with the platform key (as `serial`)."""

    serial: str = PUBLIC_KEY_ID
    answers: dict[tuple[str, str], list[tuple[int, Any]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    sign_key: KeyPair | None = None

    def answer(self, method: str, path: str, body: Any, status: int = 200) -> None:
        self.answers.setdefault((method, path), []).append((status, body))

    def _handle(self, method: str, url: str, body: str, headers: dict[str, str]) -> Any:
        parts = urlsplit(url)
        assert parts.netloc == "api.mch.weixin.qq.com", url
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        auth = headers["Authorization"]
        scheme, _, rest = auth.partition(" ")
        assert scheme == "WECHATPAY2-SHA256-RSA2048"
        fields = dict(item.split("=", 1) for item in rest.split(","))
        fields = {k: v.strip('"') for k, v in fields.items()}
        message = f"{method}\n{path}\n{fields['timestamp']}\n{fields['nonce_str']}\n{body}\n"
        assert fields["mchid"] == WECHAT_MCHID
        assert keys("wechat-merchant").verify(message, fields["signature"]), "bad Authorization"
        self.requests.append({"method": method, "path": path, "body": json.loads(body) if body else None})
        for (m, prefix), queue in self.answers.items():
            if m == method and path.startswith(prefix) and queue:
                status, answer = queue.pop(0) if len(queue) > 1 else queue[0]
                break
        else:
            raise AssertionError(f"no recorded answer for {method} {path}")
        if isinstance(answer, bytes):
            return _BinaryResponse(status, answer, {"Content-Type": "application/octet-stream"})
        text = json.dumps(answer, ensure_ascii=False)
        signed = wechat_signed_headers(text, key=self.sign_key, serial=self.serial)
        return _Response(status, text, {"Content-Type": "application/json; charset=utf-8", **signed})

    # the names wechatpayv3.core calls on its `requests`
    def get(self, url: str, headers: dict[str, str], **_: Any) -> Any:
        return self._handle("GET", url, "", headers)

    def post(self, url: str, json: Any = None, headers: dict[str, str] | None = None, **_: Any) -> Any:
        import json as json_module

        body = json_module.dumps(json) if json is not None else ""
        return self._handle("POST", url, body, headers or {})


# --- what both gateways' tests share --------------------------------------------------------------


@pytest.fixture
def hook_calls() -> Iterator[list[int]]:
    """The ids of the test payments whose paid hook ran."""
    calls: list[int] = []

    def hook(payment: Payment) -> None:
        calls.append(payment.pk)

    services.register_paid_hook("test_order", hook)
    yield calls
    services.unregister_paid_hook("test_order", hook)


def make_payment(provider: str, amount: str = "128.50", **extra: Any) -> Payment:
    """A test order's payment of the applicant at `provider`."""
    return services.create_payment(
        amount=Decimal(amount),
        payer_name=f.APPLICANT_NAME,
        payer_id_number=f.APPLICANT_ID,
        reference_kind="test_order",
        reference_id="A1",
        expires_in=datetime.timedelta(minutes=30),
        provider=provider,
        **extra,
    )
