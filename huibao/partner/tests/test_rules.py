"""The signature's pure part: the canonical string, the header, HMAC and RSA verification."""

from __future__ import annotations

import base64
import datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from huibao.partner import rules

NOW = datetime.datetime(2026, 12, 3, 8, 0, tzinfo=datetime.UTC)


def test_the_canonical_string_is_method_path_timestamp_nonce_and_body_digest():
    text = rules.canonical_string("post", "/api/partner/v1/events?x=1", "1764748800", "abcdefgh", b"{}")
    assert text == (
        "POST\n/api/partner/v1/events?x=1\n1764748800\nabcdefgh\n"
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\n"
    )


def test_the_header_is_read_into_its_parts():
    parsed = rules.parse_header(
        'HUIBAO-HMAC-SHA256 keyid="k1",timestamp="17",nonce="abcdefgh",signature="c2ln"'
    )
    assert parsed == rules.SignatureHeader("HMAC-SHA256", "k1", "17", "abcdefgh", "c2ln")


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("", "signature_required"),
        ("Bearer hb_abc", "signature_required"),
        ('HUIBAO-HMAC-SHA256 keyid="k1",timestamp="17"', "malformed_signature"),
        ('HUIBAO-HMAC-SHA256 keyid="k1" timestamp="17"', "malformed_signature"),
        ('HUIBAO-HMAC-SHA256 keyid="k1",timestamp="1",nonce="short",signature="x"', "malformed_signature"),
    ],
)
def test_an_unreadable_header_is_refused_with_its_reason(header, code):
    refusal = rules.parse_header(header)
    assert isinstance(refusal, rules.Refusal) and refusal.code == code and refusal.status == 401


@pytest.mark.parametrize(
    ("offset", "ok"), [(0, True), (299, True), (-299, True), (301, False), (-301, False)]
)
def test_the_timestamp_must_be_within_five_minutes(offset, ok):
    sent = str(int(NOW.timestamp()) + offset)
    assert (rules.timestamp_problem(sent, NOW) is None) is ok


def test_hmac_verifies_only_the_exact_string_with_the_exact_secret():
    canonical = rules.canonical_string("GET", "/p", "1", "abcdefgh", b"")
    signature = rules.sign_hmac(b"secret", canonical)
    assert rules.hmac_valid(b"secret", canonical, signature)
    assert not rules.hmac_valid(b"secret2", canonical, signature)
    assert not rules.hmac_valid(b"secret", canonical.replace("/p", "/q"), signature)
    assert not rules.hmac_valid(b"secret", canonical, "not base64!")


def test_rsa_sha256_verifies_with_the_public_key_and_refuses_another_keys_signature():
    mine = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = mine.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    canonical = rules.canonical_string("POST", "/p", "1", "abcdefgh", b"{}")

    def sign(key: rsa.RSAPrivateKey) -> str:
        return base64.b64encode(key.sign(canonical.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()

    assert rules.rsa_valid(pem.decode(), canonical, sign(mine))
    assert not rules.rsa_valid(pem.decode(), canonical, sign(other))
    assert not rules.rsa_valid(pem.decode(), canonical + "x", sign(mine))


def test_a_short_rsa_key_is_not_accepted():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = small.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert rules.load_public_key(pem.decode()) is None
    assert rules.load_public_key("not a key") is None


def test_scopes_and_products():
    assert rules.scope_problem(["policies:read"], "policies:read") is None
    refusal = rules.scope_problem(["policies:read"], "events:write")
    assert refusal is not None and (refusal.code, refusal.status) == ("scope_missing", 403)
    assert rules.product_problem([], "ANY") is None
    assert rules.product_problem(["A"], "A") is None
    refusal = rules.product_problem(["A"], "B")
    assert refusal is not None and refusal.code == "product_not_allowed"


def test_retry_after_is_the_rest_of_the_minute():
    assert rules.retry_after(NOW.replace(second=15)) == 45
    assert rules.retry_after(NOW) == 60
