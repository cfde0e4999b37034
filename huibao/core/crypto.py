"""Encryption of personal data at rest.

Values are sealed with AES-256-GCM under a key ring read from the environment:
`HUIBAO_DATA_KEYS="k2:<base64>,k1:<base64>"` — the first key seals, every key opens, so a key is
rotated by putting a new one first and running `manage.py reencrypt_personal_data`, which
re-seals every row still under an older key. A stored value reads `hb1:<key id>:<base64 nonce +
ciphertext>`; the column name is bound in as associated data, so a ciphertext copied into another
column does not open.

Beside each encrypted column sits a keyed hash (HMAC-SHA256 under `HUIBAO_LOOKUP_KEY`) of the
normalised value, for exact-match look-ups (find a user by mobile number) without decrypting.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "hb1"


class DecryptionError(Exception):
    pass


@dataclass(frozen=True)
class KeyRing:
    primary_id: str
    keys: dict[str, bytes]
    lookup_key: bytes

    def seal(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(12)
        sealed = AESGCM(self.keys[self.primary_id]).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{PREFIX}:{self.primary_id}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, token: str, *, context: str) -> str:
        try:
            prefix, key_id, payload = token.split(":", 2)
        except ValueError as exc:
            raise DecryptionError("not an encrypted value") from exc
        if prefix != PREFIX:
            raise DecryptionError("unknown encryption format")
        key = self.keys.get(key_id)
        if key is None:
            raise DecryptionError(f"encryption key '{key_id}' is not in HUIBAO_DATA_KEYS")
        try:
            raw = base64.b64decode(payload, validate=True)
        except ValueError as exc:
            raise DecryptionError("ciphertext is not valid base64") from exc
        if len(raw) < 12 + 16:
            raise DecryptionError("ciphertext is too short")
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode()
        except Exception as exc:
            raise DecryptionError("ciphertext failed authentication") from exc

    @staticmethod
    def key_id_of(token: str) -> str:
        parts = token.split(":", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            raise DecryptionError("not an encrypted value")
        return parts[1]

    def is_current(self, token: str) -> bool:
        """True when `token` is sealed under the primary key (nothing to re-encrypt)."""
        return token.startswith(f"{PREFIX}:{self.primary_id}:")

    def lookup_hash(self, normalised: str, *, context: str) -> str:
        return hmac.new(self.lookup_key, f"{context}\x00{normalised}".encode(), hashlib.sha256).hexdigest()


def _decode_key(text: str, what: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except Exception as exc:
        raise ImproperlyConfigured(f"{what}: not valid base64") from exc
    if len(key) != 32:
        raise ImproperlyConfigured(f"{what}: must be 32 bytes (AES-256), got {len(key)}")
    return key


def parse_key_ring(data_keys: str, lookup_key: str) -> KeyRing:
    keys: dict[str, bytes] = {}
    order: list[str] = []
    for item in data_keys.split(","):
        item = item.strip()
        if not item:
            continue
        key_id, sep, material = item.partition(":")
        if not sep or not key_id or ":" in key_id:
            raise ImproperlyConfigured("HUIBAO_DATA_KEYS entries read 'key_id:base64key'")
        if key_id in keys:
            raise ImproperlyConfigured(f"HUIBAO_DATA_KEYS lists key '{key_id}' twice")
        keys[key_id] = _decode_key(material, f"HUIBAO_DATA_KEYS[{key_id}]")
        order.append(key_id)
    if not order:
        raise ImproperlyConfigured("HUIBAO_DATA_KEYS holds no key")
    return KeyRing(primary_id=order[0], keys=keys, lookup_key=_decode_key(lookup_key, "HUIBAO_LOOKUP_KEY"))


def _development_key(label: str) -> str:
    # Development and tests only (settings refuse to start production without real keys).
    digest = hashlib.sha256(f"{settings.SECRET_KEY}:{label}".encode()).digest()
    return base64.b64encode(digest).decode()


@lru_cache(maxsize=1)
def key_ring() -> KeyRing:
    data_keys = settings.HUIBAO_DATA_KEYS or f"dev:{_development_key('data')}"
    lookup_key = settings.HUIBAO_LOOKUP_KEY or _development_key("lookup")
    return parse_key_ring(data_keys, lookup_key)


def new_key_material() -> str:
    return base64.b64encode(os.urandom(32)).decode()
