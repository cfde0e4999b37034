import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from huibao.account.models import PHONE_CONTEXT, User
from huibao.core.crypto import key_ring, new_key_material
from huibao.core.fields import lookup_hash
from huibao.core.management.commands.reencrypt_personal_data import encrypted_fields_by_model

K1 = new_key_material()
K2 = new_key_material()
LOOKUP = new_key_material()

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_key_ring():
    key_ring.cache_clear()
    yield
    key_ring.cache_clear()


def keys(data_keys):
    return override_settings(HUIBAO_DATA_KEYS=data_keys, HUIBAO_LOOKUP_KEY=LOOKUP)


def raw_phones():
    with connection.cursor() as cursor:
        cursor.execute("SELECT username, phone FROM account_user ORDER BY username")
        return dict(cursor.fetchall())


def phone_hash(phone):
    return lookup_hash(phone, context=PHONE_CONTEXT)


def run_command(**options):
    out = io.StringIO()
    call_command("reencrypt_personal_data", stdout=out, **options)
    return out.getvalue()


def test_discovers_encrypted_fields():
    found = {model._meta.label: [f.name for f in fields] for model, fields in encrypted_fields_by_model()}
    assert found["account.User"] == ["phone"]
    # the applicant's e-mail is personal data like the phone and the address
    assert {"applicant_phone", "applicant_email", "applicant_address"} <= set(
        found["application.Application"]
    )


def test_rotation_reseals_under_new_key_and_old_key_can_go():
    # given five users with phones sealed under k1, one without a phone
    phones = {f"u{i}": f"1381234567{i}" for i in range(5)}
    with keys(f"k1:{K1}"):
        for username, phone in phones.items():
            user = User(username=username)
            user.set_phone(phone)
            user.save()
        User.objects.create(username="nophone")
    before = raw_phones()
    assert all(before[u].startswith("hb1:k1:") for u in phones)
    assert before["nophone"] == ""

    # when k2 is put first and the command runs in batches of two
    key_ring.cache_clear()
    with keys(f"k2:{K2},k1:{K1}"):
        output = run_command(batch_size=2)
        after = raw_phones()
        second_output = run_command()

    # then every value is under k2, the empty one is untouched, and a second run has nothing to do
    assert "account.User: 5 value(s) re-encrypted (phone)" in output
    assert "account.User: 0 value(s) re-encrypted" in second_output
    assert all(after[u].startswith("hb1:k2:") for u in phones)
    assert after["nophone"] == ""
    assert all(after[u] != before[u] for u in phones)

    # and with k1 removed every phone still reads, and look-ups by hash still work
    key_ring.cache_clear()
    with keys(f"k2:{K2}"):
        assert {u.username: u.phone for u in User.objects.exclude(username="nophone")} == phones
        assert User.objects.get(phone_hash=phone_hash("13812345673")).username == "u3"
