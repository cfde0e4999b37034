import datetime
import io
import threading
import uuid
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.test import RequestFactory

from huibao.account.models import User
from huibao.core.audit import compute_entry_hash, record, snapshot, verify_chain
from huibao.core.models import GENESIS_HASH, AuditEntry, AuditHead, AuditImmutable

pytestmark = pytest.mark.django_db


@contextmanager
def tampering():
    """Raw SQL on the audit table, past the model guards and (on PostgreSQL) the trigger."""
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute("ALTER TABLE core_auditentry DISABLE TRIGGER ALL")
        try:
            yield cursor
        finally:
            if postgres:
                cursor.execute("ALTER TABLE core_auditentry ENABLE TRIGGER ALL")


def three_entries():
    return [
        record("update", "catalog.product", str(i), actor="system:test", after={"n": i}) for i in (1, 2, 3)
    ]


def test_record_chains_entries_and_stores_json_safe_values():
    # given a request from a logged-in user
    user = User.objects.create(username="ops1")
    request = RequestFactory().post("/x", REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="Mozilla/5.0 test")
    request.user = user
    # when two entries are recorded
    first = record("create", "catalog.product", "7", after={"price": Decimal("12.50")}, request=request)
    second = record(
        "update",
        "catalog.product",
        "7",
        before={"price": Decimal("12.50")},
        after={"price": Decimal("13.00"), "on": datetime.date(2026, 1, 2), "ref": uuid.UUID(int=1)},
    )
    # then
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.entry_hash
    assert first.entry_hash == compute_entry_hash(first)
    assert second.entry_hash == compute_entry_hash(second)
    assert (first.actor_id, first.actor_label) == (user.pk, "ops1")
    assert (first.ip, first.user_agent) == ("203.0.113.7", "Mozilla/5.0 test")
    assert first.after == {"price": "12.50"}
    assert second.after == {
        "price": "13.00",
        "on": "2026-01-02",
        "ref": "00000000-0000-0000-0000-000000000001",
    }
    assert second.actor_id is None and second.ip is None
    head = AuditHead.objects.get(pk=1)
    assert (head.seq, head.last_hash) == (2, second.entry_hash)


def test_entry_rolls_back_with_the_change_it_describes():
    # given
    record("create", "catalog.product", "1")
    # when the caller's transaction fails after recording
    with pytest.raises(RuntimeError), transaction.atomic():
        record("delete", "catalog.product", "1")
        raise RuntimeError("boom")
    # then the entry is gone and the chain goes on from the head
    nxt = record("update", "catalog.product", "1")
    assert nxt.seq == 2
    assert verify_chain().ok


def test_model_refuses_update_and_delete():
    # given
    entry = record("create", "catalog.product", "1")
    # when / then
    entry.action = "delete"
    with pytest.raises(AuditImmutable):
        entry.save()
    with pytest.raises(AuditImmutable):
        entry.delete()
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.filter(pk=entry.pk).update(action="x")
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == "create"


def test_database_trigger_refuses_raw_changes_on_postgresql():
    # given
    entry = record("create", "catalog.product", "1")
    # when a client bypasses the model with raw SQL
    statements = [
        ("UPDATE core_auditentry SET action = 'x' WHERE id = %s", [entry.pk]),
        ("DELETE FROM core_auditentry WHERE id = %s", [entry.pk]),
    ]
    for sql, params in statements:
        if connection.vendor == "postgresql":
            # then PostgreSQL's trigger refuses it
            with (
                pytest.raises(DatabaseError, match="append-only"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(sql, params)
    if connection.vendor == "postgresql":
        assert AuditEntry.objects.get(pk=entry.pk).action == "create"
    else:
        # SQLite has no trigger (Django's flush must empty tables there); verify_chain is the guard
        with connection.cursor() as cursor:
            cursor.execute(statements[0][0], statements[0][1])
        assert verify_chain().problem.startswith("altered")


def test_clean_chain_verifies():
    three_entries()
    report = verify_chain()
    assert report.ok and report.checked == 3 and report.first_bad_seq is None and report.problem is None
    assert report.head_seq == 3


def test_empty_log_verifies():
    report = verify_chain()
    assert report.ok and report.checked == 0


def test_altered_entry_is_detected():
    # given
    three_entries()
    # when entry 2's content is changed behind the model's back
    with tampering() as cursor:
        cursor.execute("UPDATE core_auditentry SET object_id = '999' WHERE seq = 2")
    # then
    report = verify_chain()
    assert not report.ok
    assert report.first_bad_seq == 2 and report.checked == 1
    assert report.problem.startswith("altered")


def test_altered_json_payload_is_detected():
    three_entries()
    with tampering() as cursor:
        cursor.execute("UPDATE core_auditentry SET actor_label = 'someone else' WHERE seq = 3")
    report = verify_chain()
    assert (report.ok, report.first_bad_seq) == (False, 3)


def test_deleted_middle_entry_is_detected():
    three_entries()
    with tampering() as cursor:
        cursor.execute("DELETE FROM core_auditentry WHERE seq = 2")
    report = verify_chain()
    assert (report.ok, report.first_bad_seq) == (False, 3)
    assert report.problem.startswith("deleted")


def test_deleted_entry_with_renumbering_is_detected():
    # given an attacker who deletes entry 2 and renumbers entry 3 to hide the gap
    three_entries()
    with tampering() as cursor:
        cursor.execute("DELETE FROM core_auditentry WHERE seq = 2")
        cursor.execute("UPDATE core_auditentry SET seq = 2 WHERE seq = 3")
    # when
    report = verify_chain()
    # then the link to the missing entry gives it away
    assert (report.ok, report.first_bad_seq) == (False, 2)
    assert report.problem.startswith("deleted")


def test_deleted_last_entry_is_detected_by_the_head():
    three_entries()
    with tampering() as cursor:
        cursor.execute("DELETE FROM core_auditentry WHERE seq = 3")
    report = verify_chain()
    assert (report.ok, report.first_bad_seq, report.checked) == (False, 3, 2)
    assert report.problem.startswith("deleted")


def test_reordered_entries_are_detected():
    # given entries 2 and 3 swapped by renumbering
    three_entries()
    with tampering() as cursor:
        cursor.execute("UPDATE core_auditentry SET seq = 1000 WHERE seq = 2")
        cursor.execute("UPDATE core_auditentry SET seq = 2 WHERE seq = 3")
        cursor.execute("UPDATE core_auditentry SET seq = 3 WHERE seq = 1000")
    # when
    report = verify_chain()
    # then
    assert (report.ok, report.first_bad_seq) == (False, 2)
    assert report.problem.startswith("reordered")


def test_backdated_entry_is_detected_as_reordered():
    three_entries()
    first = AuditEntry.objects.get(seq=1)
    with tampering() as cursor:
        cursor.execute(
            "UPDATE core_auditentry SET occurred_at = %s WHERE seq = 3",
            [first.occurred_at - datetime.timedelta(days=1)],
        )
    report = verify_chain()
    assert (report.ok, report.first_bad_seq) == (False, 3)
    assert report.problem.startswith("reordered")


def test_verify_audit_command():
    # given
    three_entries()
    out = io.StringIO()
    # when the chain is intact
    call_command("verify_audit", stdout=out)
    head = AuditEntry.objects.get(seq=3)
    # then it prints the head to keep outside the database
    assert "audit chain OK" in out.getvalue()
    assert f"head: 3:{head.entry_hash}" in out.getvalue()
    call_command("verify_audit", anchor=[f"3:{head.entry_hash}"], stdout=io.StringIO())
    # and fails on a wrong anchor and on a broken chain
    with pytest.raises(CommandError, match="anchored hash"):
        call_command("verify_audit", anchor=[f"3:{'a' * 64}"], stdout=io.StringIO())
    with tampering() as cursor:
        cursor.execute("UPDATE core_auditentry SET action = 'publish' WHERE seq = 1")
    with pytest.raises(CommandError, match="altered") as exc:
        call_command("verify_audit", stdout=io.StringIO())
    assert exc.value.returncode == 2


def test_snapshot_never_holds_encrypted_plaintext_or_passwords():
    # given a user with a phone, a password and a group
    user = User(username="c1", first_name="三")
    user.set_phone("13812345678")
    user.set_password("correct horse battery")
    user.save()
    user.groups.add(Group.objects.create(name="ops"))
    # when
    data = snapshot(user, exclude={"last_login"})
    # then
    assert data["phone"] == "138****5678"
    assert data["password"] == "<redacted>"
    assert data["username"] == "c1" and data["first_name"] == "三"
    assert "last_login" not in data
    assert data["groups"] == [Group.objects.get(name="ops").pk]
    assert isinstance(data["date_joined"], str)
    assert "13812345678" not in str(data)


def test_snapshot_of_free_text_encrypted_value_is_a_placeholder():
    user = User(username="c2", phone="notes: allergic to penicillin")
    assert snapshot(user)["phone"] == "<encrypted>"


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_form_one_gapless_chain():
    # given four threads, each with its own connection
    errors = []

    def writer(n):
        try:
            for i in range(5):
                record("update", "catalog.product", f"{n}-{i}")
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    # when
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then
    assert errors == []
    assert list(AuditEntry.objects.values_list("seq", flat=True)) == list(range(1, 21))
    report = verify_chain()
    assert report.ok and report.checked == 20
