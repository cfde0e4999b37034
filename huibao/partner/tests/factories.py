"""Partner test helpers: partners, clients (with their secret or private key) and signed requests."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import itertools
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.test import Client
from django.utils import timezone

from huibao.catalog.models import Insurer
from huibao.distribution.models import SalesUnit
from huibao.partner import rules, services
from huibao.partner.models import ApiClient, Partner
from huibao.partner.states import Algorithm, Scope

_seq = itertools.count(1)
ALL_SCOPES = tuple(Scope.values)


def channel_partner(unit: SalesUnit, code: str | None = None) -> Partner:
    return services.create_partner(
        services.PartnerData(
            code=code or f"shop{next(_seq)}", name="测试商城", kind="channel", sales_unit=unit
        ),
        actor=None,
    )


def insurer_partner(insurer: Insurer, code: str | None = None) -> Partner:
    return services.create_partner(
        services.PartnerData(
            code=code or f"ins{next(_seq)}", name="测试保险", kind="insurer", insurer=insurer
        ),
        actor=None,
    )


@dataclass
class Credentials:
    client: ApiClient
    secret: str = ""
    private_key: rsa.RSAPrivateKey | None = None

    @property
    def key_id(self) -> str:
        return self.client.key_id


def hmac_client(
    partner: Partner, scopes: Sequence[str] = ALL_SCOPES, products: Sequence[str] = (), rate_limit: int = 600
) -> Credentials:
    issued = services.create_client(
        partner,
        services.ClientData(
            algorithm=Algorithm.HMAC_SHA256, scopes=scopes, products=products, rate_limit=rate_limit
        ),
        actor=None,
    )
    return Credentials(issued.client, secret=issued.secret)


def rsa_client(partner: Partner, scopes: Sequence[str] = ALL_SCOPES) -> Credentials:
    """An RSA client whose key pair the partner made itself (the server gets the public key)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    issued = services.create_client(
        partner,
        services.ClientData(algorithm=Algorithm.RSA_SHA256, scopes=scopes, public_key_pem=pem),
        actor=None,
    )
    return Credentials(issued.client, private_key=private)


def authorization(
    creds: Credentials,
    method: str,
    path_and_query: str,
    body: bytes = b"",
    *,
    at: datetime.datetime | None = None,
    nonce: str | None = None,
) -> str:
    """The Authorization header, computed as a partner would (not through the server's code)."""
    timestamp = str(int((at or timezone.now()).timestamp()))
    nonce = nonce or secrets.token_hex(12)
    canonical = rules.canonical_string(method, path_and_query, timestamp, nonce, body)
    if creds.private_key is not None:
        raw = creds.private_key.sign(canonical.encode(), padding.PKCS1v15(), hashes.SHA256())
        scheme = "HUIBAO-RSA-SHA256"
    else:
        raw = hmac.new(creds.secret.encode(), canonical.encode(), hashlib.sha256).digest()
        scheme = "HUIBAO-HMAC-SHA256"
    signature = base64.b64encode(raw).decode()
    return f'{scheme} keyid="{creds.key_id}",timestamp="{timestamp}",nonce="{nonce}",signature="{signature}"'


def get(client: Client, creds: Credentials, path: str, **kw: Any) -> Any:
    return client.get(path, HTTP_AUTHORIZATION=authorization(creds, "GET", path, **kw))


def post(
    client: Client,
    creds: Credentials,
    path: str,
    data: dict[str, Any] | bytes,
    *,
    key: str | None = "",
    **kw: Any,
) -> Any:
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    headers: dict[str, str] = {"HTTP_AUTHORIZATION": authorization(creds, "POST", path, body, **kw)}
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key or f"idem-{secrets.token_hex(6)}"
    return client.post(path, body, content_type="application/json", **headers)
