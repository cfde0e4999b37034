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
from django.test.utils import CaptureQueriesContext

from huibao.account.models import User
from huibao.core.audit import (
    batched,
    compute_entry_hash,
    entry_from_record,
    entry_record,
    record,
    seal_pending,
    snapshot,
    verify_chain,
)
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


@contextmanager
def transaction_left_open(object_id):
    """Another thread's transaction that has recorded an entry and stays open inside the block."""
    started, release = threading.Event(), threading.Event()

    def running():
        try:
            with transaction.atomic():
                record("create", "catalog.product", object_id)
                started.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=running)
    thread.start()
    try:
        assert started.wait(10)
        yield
    finally:
        release.set()
        thread.join()


def three_entries():
    entries = [
        record("update", "catalog.product", str(i), actor="system:test", after={"n": i}) for i in (1, 2, 3)
    ]
    # The test's transaction never commits: seal as the after-commit hook would.
    seal_pending()
    return entries


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
    # then they have no place in the chain yet (no lock was taken)
    assert AuditEntry.objects.filter(seq__isnull=True).count() == 2
    assert not AuditHead.objects.filter(seq__gt=0).exists()
    # and one seal links both, in written order
    assert seal_pending() == 2
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
    seal_pending()
    nxt.refresh_from_db()
    assert nxt.seq == 2
    assert verify_chain().ok


def test_a_batch_inserts_its_entries_at_its_end_in_one_statement_and_in_order():
    # given a transaction that records three entries in a batch
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        with batched():
            entries = [record("update", "catalog.product", str(i), actor="system:test") for i in (1, 2, 3)]
            with batched():  # a nested batch joins the outer one
                entries.append(record("update", "catalog.product", "4", actor="system:test"))
            # when it is still open, then nothing is written yet
            assert not captured.captured_queries and AuditEntry.objects.count() == 0
        # when it ends, then one INSERT wrote them all, in the order recorded, with their times
        inserts = [q for q in captured.captured_queries if q["sql"].lstrip().startswith("INSERT")]
    assert len(inserts) == 1
    stored = list(AuditEntry.objects.order_by("id"))
    assert [e.object_id for e in stored] == ["1", "2", "3", "4"]
    assert [e.pk for e in entries] == [e.pk for e in stored]
    assert [e.occurred_at for e in stored] == sorted(e.occurred_at for e in stored)
    # and they seal into a chain that verifies
    assert seal_pending() == 4 and verify_chain().ok


def test_a_batch_that_fails_writes_nothing_and_needs_a_transaction():
    # given a batch whose block raises
    with pytest.raises(RuntimeError), transaction.atomic(), batched():
        record("delete", "catalog.product", "1")
        raise RuntimeError("boom")
    # then no entry was written, and the next one is recorded as usual
    assert AuditEntry.objects.count() == 0
    record("update", "catalog.product", "1")
    assert AuditEntry.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_batch_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError), batched():
        record("update", "catalog.product", "1")
    assert AuditEntry.objects.count() == 0


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
    # given a sealed entry
    entry = record("create", "catalog.product", "1")
    seal_pending()
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
            "UPDATE core_auditentry SET sealed_at = %s WHERE seq = 3",
            [first.sealed_at - datetime.timedelta(days=1)],
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
    # then a sealer links the 20 entries into one chain without gaps
    assert errors == []
    assert seal_pending() == 20
    assert sorted(AuditEntry.objects.values_list("seq", flat=True)) == list(range(1, 21))
    report = verify_chain()
    assert report.ok and report.checked == 20


@pytest.mark.django_db(transaction=True)
def test_the_sealer_links_what_has_committed_and_nothing_else():
    # given an entry committed, and another written by a transaction still running
    committed = record("create", "catalog.product", "1")
    with transaction_left_open("2"):
        # when the sealer runs (SQLite: the running transaction holds the database, so it waits)
        if connection.vendor == "postgresql":
            assert seal_pending() == 1
    # then the committed entry is sealed first: seq, link, seal time, hash
    call_command("seal_audit", stdout=io.StringIO())
    committed.refresh_from_db()
    assert committed.seq == 1 and committed.prev_hash == GENESIS_HASH and committed.sealed_at is not None
    assert committed.entry_hash == compute_entry_hash(committed)
    assert committed.occurred_at <= committed.sealed_at
    # and the other one once its transaction has committed
    later = AuditEntry.objects.get(object_id="2")
    assert (later.seq, later.prev_hash) == (2, committed.entry_hash)
    head = AuditHead.objects.get(pk=1)
    assert (head.seq, head.last_hash, head.last_at) == (2, later.entry_hash, later.sealed_at)
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_the_sweeps_and_every_reader_seal_first():
    # given committed entries nobody has sealed
    record("create", "catalog.product", "1")
    record("update", "catalog.product", "1")
    assert AuditEntry.objects.filter(seq__isnull=True).count() == 2
    # when the sweeps run
    call_command("run_sweeps", stdout=io.StringIO())
    # then they are sealed
    assert list(AuditEntry.objects.values_list("seq", flat=True)) == [1, 2]
    # and verification seals what came since before it walks the chain
    record("update", "catalog.product", "2")
    report = verify_chain()
    assert report.ok and report.checked == 3 and report.unsealed == 0


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite lets one writer at a time hold the database"
)
@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_has_recorded_does_not_hold_up_others():
    # when another request records and commits meanwhile a transaction that has written an
    # entry is still running
    done = threading.Event()

    def quick_writer():
        try:
            record("create", "catalog.product", "quick")
            done.set()
        finally:
            connection.close()

    quick = threading.Thread(target=quick_writer)
    try:
        with transaction_left_open("slow"):
            quick.start()
            # then it does not wait for the first (before, both queued on the chain head until commit)
            assert done.wait(5)
            # and a sealer meanwhile links the committed one
            assert seal_pending() == 1
    finally:
        quick.join()
    # and the chain holds both, the quick one first (commit order)
    assert list(AuditEntry.objects.order_by("seq").values_list("object_id", flat=True)) == ["quick", "slow"]
    assert verify_chain().ok


def test_only_sealing_changes_an_unsealed_entry():
    # given an unsealed entry (the test's transaction has not committed)
    entry = record("create", "catalog.product", "1")
    # when it is "sealed" by hand with a changed content
    forged = (
        "UPDATE core_auditentry SET seq = 1, prev_hash = %s, entry_hash = %s, sealed_at = %s, "
        "object_id = '2' WHERE id = %s"
    )
    params = [GENESIS_HASH, "a" * 64, entry.occurred_at, entry.pk]
    if connection.vendor == "postgresql":
        # then PostgreSQL's trigger refuses that, and any change of its content before sealing
        for sql, args in [
            (forged, params),
            ("UPDATE core_auditentry SET action = 'x' WHERE id = %s", [entry.pk]),
        ]:
            with (
                pytest.raises(DatabaseError, match="append-only"),
                transaction.atomic(),
                connection.cursor() as c,
            ):
                c.execute(sql, args)
        # while sealing passes, once: a sealed entry cannot be sealed again
        assert seal_pending() == 1
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as c,
        ):
            c.execute("UPDATE core_auditentry SET seq = 7 WHERE id = %s", [entry.pk])
        assert verify_chain().ok
    else:
        # SQLite has no trigger: the forged hash gives it away
        with connection.cursor() as c:
            c.execute(forged, params)
        report = verify_chain()
        assert (report.ok, report.first_bad_seq) == (False, 1)
        assert report.problem.startswith("altered")


def test_an_entry_record_reads_back_to_the_entry_it_was_made_of() -> None:
    # given: a sealed entry
    with transaction.atomic():
        record("create", "catalog.product", "P-REC", after={"name": "意外险"})
    seal_pending()
    entry = AuditEntry.objects.get(object_id="P-REC")
    # when
    exported = entry_record(entry)
    read_back = entry_from_record(exported)
    # then: the record carries the hash, and the entry read back hashes to it
    assert exported["entry_hash"] == entry.entry_hash and exported["sealed_at"] is not None
    assert compute_entry_hash(read_back) == entry.entry_hash
    # and a changed field no longer does
    exported["after"] = {"name": "寿险"}
    assert compute_entry_hash(entry_from_record(exported)) != entry.entry_hash


def test_an_entry_chained_before_sealing_moved_keeps_its_hash_without_a_seal_time() -> None:
    # given: an entry without a seal time (chained as it was written)
    entry = AuditEntry(
        seq=1,
        occurred_at=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
        action="create",
        object_type="catalog.product",
        object_id="P-OLD",
        before={},
        after={},
        prev_hash=GENESIS_HASH,
    )
    entry.entry_hash = compute_entry_hash(entry)
    # when
    exported = entry_record(entry)
    # then
    assert exported["sealed_at"] is None
    assert compute_entry_hash(entry_from_record(exported)) == entry.entry_hash
