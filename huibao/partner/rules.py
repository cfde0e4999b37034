"""The partner API's signature, the pure part: the canonical string, the `Authorization` header,
HMAC-SHA256 and SHA256withRSA verification, the timestamp window, scopes and products.

No Django, no I/O (`signing.py` reads the request, the client and the nonce store).

    Authorization: HUIBAO-HMAC-SHA256 keyid="…",timestamp="…",nonce="…",signature="…"

    canonical = METHOD "\\n" PATH[?QUERY] "\\n" TIMESTAMP "\\n" NONCE "\\n" hex(SHA256(BODY)) "\\n"
    signature = base64(HMAC-SHA256(secret, canonical))              # HUIBAO-HMAC-SHA256
              | base64(RSASSA-PKCS1-v1_5-SHA256(private key, canonical))  # HUIBAO-RSA-SHA256
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SCHEMES = {"HUIBAO-HMAC-SHA256": "HMAC-SHA256", "HUIBAO-RSA-SHA256": "RSA-SHA256"}
# A request is accepted within this many seconds of its timestamp, either way.
WINDOW = datetime.timedelta(minutes=5)
NONCE = re.compile(r"^[0-9A-Za-z_-]{8,64}$")
KEY_ID = re.compile(r"^[0-9A-Za-z_-]{1,40}$")
IDEMPOTENCY_KEY = re.compile(r"^[0-9A-Za-z._:-]{1,64}$")
_PARAM = re.compile(r'\s*([a-z]+)="([^"]*)"\s*(?:,|$)')
MIN_RSA_BITS = 2048


@dataclass(frozen=True, slots=True)
class SignatureHeader:
    algorithm: str  # "HMAC-SHA256" | "RSA-SHA256"
    key_id: str
    timestamp: str
    nonce: str
    signature: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: a code, the HTTP status and a message (Chinese) naming the part."""

    code: str
    status: int
    message: str
    field: str = "Authorization"


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_string(method: str, path_and_query: str, timestamp: str, nonce: str, body: bytes) -> str:
    return f"{method.upper()}\n{path_and_query}\n{timestamp}\n{nonce}\n{body_digest(body)}\n"


def parse_header(value: str) -> SignatureHeader | Refusal:
    """The `Authorization` header's parts, or why it cannot be read."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme not in SCHEMES:
        return Refusal(
            "signature_required",
            401,
            "Authorization：须为 HUIBAO-HMAC-SHA256 或 HUIBAO-RSA-SHA256 签名",
        )
    params: dict[str, str] = {}
    position = 0
    rest = rest.strip()
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if match is None or match.end() == position:
            return Refusal(
                "malformed_signature", 401, 'Authorization：签名参数格式错误（name="value"，逗号分隔）'
            )
        params[match.group(1)] = match.group(2)
        position = match.end()
    missing = [n for n in ("keyid", "timestamp", "nonce", "signature") if not params.get(n)]
    if missing:
        return Refusal("malformed_signature", 401, f"Authorization：缺少 {'、'.join(missing)}")
    if not KEY_ID.match(params["keyid"]):
        return Refusal("unknown_key", 401, "Authorization：keyid 无效")
    if not NONCE.match(params["nonce"]):
        return Refusal("malformed_signature", 401, "Authorization：nonce 须为 8–64 位字母、数字、_ 或 -")
    return SignatureHeader(
        SCHEMES[scheme], params["keyid"], params["timestamp"], params["nonce"], params["signature"]
    )


def timestamp_problem(timestamp: str, now: datetime.datetime) -> Refusal | None:
    """The timestamp (Unix seconds) must be within `WINDOW` of `now`."""
    if not timestamp.isdigit() or len(timestamp) > 12:
        return Refusal("malformed_signature", 401, "Authorization：timestamp 须为 Unix 秒")
    sent = datetime.datetime.fromtimestamp(int(timestamp), tz=datetime.UTC)
    if abs(now - sent) > WINDOW:
        return Refusal("stale_timestamp", 401, "Authorization：timestamp 与服务器时间相差超过 5 分钟")
    return None


def _decoded(signature: str) -> bytes | None:
    try:
        return base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return None


def sign_hmac(secret: bytes, canonical: str) -> str:
    return base64.b64encode(hmac.new(secret, canonical.encode(), hashlib.sha256).digest()).decode()


def hmac_valid(secret: bytes, canonical: str, signature: str) -> bool:
    given = _decoded(signature)
    expected = hmac.new(secret, canonical.encode(), hashlib.sha256).digest()
    return given is not None and hmac.compare_digest(given, expected)


def load_public_key(pem: str) -> rsa.RSAPublicKey | None:
    """An RSA public key of at least 2048 bits from PEM (SubjectPublicKeyInfo or PKCS#1), or None."""
    try:
        key = serialization.load_pem_public_key(pem.strip().encode())
    except (ValueError, TypeError):
        return None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_RSA_BITS:
        return None
    return key


def rsa_valid(public_key_pem: str, canonical: str, signature: str) -> bool:
    key = load_public_key(public_key_pem)
    given = _decoded(signature)
    if key is None or given is None:
        return False
    try:
        key.verify(given, canonical.encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def scope_problem(granted: Sequence[str], needed: str) -> Refusal | None:
    if needed in granted:
        return None
    return Refusal("scope_missing", 403, f"该接口客户端没有 {needed} 权限", field="scope")


def product_problem(allowed: Sequence[str], product_code: str) -> Refusal | None:
    """An empty list allows every product (of the partner's own)."""
    if not allowed or product_code in allowed:
        return None
    return Refusal("product_not_allowed", 403, f"该接口客户端无权操作产品 {product_code}", field="product")


def retry_after(now: datetime.datetime) -> int:
    """Seconds until the next minute's window opens (the rate limit counts per calendar minute)."""
    return 60 - now.second if now.second else 60
