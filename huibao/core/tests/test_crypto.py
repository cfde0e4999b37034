import base64

import pytest
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import connection

from huibao.account.models import PHONE_CONTEXT, User
from huibao.core.crypto import DecryptionError, key_ring, new_key_material, parse_key_ring
from huibao.core.fields import lookup_hash

K1 = new_key_material()
K2 = new_key_material()
LOOKUP = new_key_material()


def ring(data_keys=f"k1:{K1}", lookup=LOOKUP):
    return parse_key_ring(data_keys, lookup)


def test_seal_open_roundtrip_and_ciphertext_is_randomised():
    # given
    keys = ring()
    # when
    first = keys.seal("110105194912310021", context="policy.insured_id")
    second = keys.seal("110105194912310021", context="policy.insured_id")
    # then
    assert first.startswith("hb1:k1:") and first != second
    assert "110105" not in first
    assert keys.open(first, context="policy.insured_id") == "110105194912310021"
    assert keys.open(second, context="policy.insured_id") == "110105194912310021"


def test_unicode_roundtrip():
    keys = ring()
    assert keys.open(keys.seal("张三丰 ✓", context="c"), context="c") == "张三丰 ✓"


def test_tampered_ciphertext_fails():
    # given a sealed value with one ciphertext bit flipped
    keys = ring()
    token = keys.seal("13812345678", context="c")
    prefix, key_id, payload = token.split(":")
    raw = bytearray(base64.b64decode(payload))
    raw[-1] ^= 0x01
    tampered = f"{prefix}:{key_id}:{base64.b64encode(bytes(raw)).decode()}"
    # when / then
    with pytest.raises(DecryptionError, match="authentication"):
        keys.open(tampered, context="c")


@pytest.mark.parametrize(
    "token", ["plaintext", "hb1:k1:***notbase64***", "hb1:k1:AAAA", "hb0:k1:AAAA", "hb1:zz:AAAA"]
)
def test_malformed_tokens_raise_decryption_error(token):
    with pytest.raises(DecryptionError):
        ring().open(token, context="c")


def test_ciphertext_moved_to_another_context_fails():
    # given a value sealed for one column
    keys = ring()
    token = keys.seal("13812345678", context="account.user.phone")
    # when it is copied into another column
    # then it does not open there
    with pytest.raises(DecryptionError):
        keys.open(token, context="claim.payee_phone")


def test_old_keys_open_new_key_seals():
    # given a value sealed under k1, then k2 put first
    old = ring().seal("secret", context="c")
    rotated = ring(f"k2:{K2},k1:{K1}")
    # when
    new = rotated.seal("secret", context="c")
    # then
    assert rotated.open(old, context="c") == "secret"
    assert new.startswith("hb1:k2:")
    assert rotated.is_current(new) and not rotated.is_current(old)
    assert rotated.key_id_of(old) == "k1"


def test_key_removed_cannot_open():
    old = ring().seal("secret", context="c")
    with pytest.raises(DecryptionError, match="'k1' is not in HUIBAO_DATA_KEYS"):
        ring(f"k2:{K2}").open(old, context="c")


@pytest.mark.parametrize(
    "data_keys", ["", "k1", f"k1:{K1},k1:{K2}", "k1:" + base64.b64encode(b"short").decode(), "k1:@@@"]
)
def test_bad_key_configuration_is_refused(data_keys):
    with pytest.raises(ImproperlyConfigured):
        ring(data_keys)


def test_lookup_hash_is_stable_keyed_and_context_bound():
    # given two rings with the same data key but different lookup keys
    a, b = ring(), ring(lookup=new_key_material())
    # when / then: the same input hashes the same under one key
    assert a.lookup_hash("13812345678", context="p") == a.lookup_hash("13812345678", context="p")
    assert len(a.lookup_hash("13812345678", context="p")) == 64
    # a different key gives an unrelated hash
    assert a.lookup_hash("13812345678", context="p") != b.lookup_hash("13812345678", context="p")
    # and the same value in another context hashes differently
    assert a.lookup_hash("13812345678", context="p") != a.lookup_hash("13812345678", context="q")


def test_field_lookup_hash_normalises():
    assert lookup_hash(" 11010519491231002x ", context="id") == lookup_hash(
        "11010519491231002X", context="id"
    )


@pytest.mark.django_db
def test_encrypted_field_stores_ciphertext_and_reads_plaintext():
    # given
    user = User(username="u1")
    user.set_phone("13812345678")
    user.save()
    # when
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM account_user WHERE id = %s", [user.pk])
        (stored,) = cursor.fetchone()
    reloaded = User.objects.get(pk=user.pk)
    # then
    assert stored.startswith(f"hb1:{key_ring().primary_id}:")
    assert "13812345678" not in stored
    assert reloaded.phone == "13812345678"
    assert User.objects.values_list("phone", flat=True).get(pk=user.pk) == "13812345678"
    assert User.objects.get(phone_hash=lookup_hash("13812345678", context=PHONE_CONTEXT)) == reloaded


@pytest.mark.django_db
def test_encrypted_field_in_another_column_does_not_open():
    # given a phone ciphertext copied by SQL into a row's first_name-like encrypted column context
    user = User(username="u2")
    user.set_phone("13812345678")
    user.save()
    token = key_ring().seal("13812345678", context="some.other.column")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE account_user SET phone = %s WHERE id = %s", [token, user.pk])
    # when / then
    with pytest.raises(DecryptionError):
        User.objects.get(pk=user.pk)


@pytest.mark.django_db
def test_filtering_on_an_encrypted_column_is_refused():
    # ciphertexts are randomised: an exact filter would silently match nothing
    with pytest.raises(FieldError):
        list(User.objects.filter(phone="13812345678"))
    assert list(User.objects.filter(phone__isnull=True)) == []
