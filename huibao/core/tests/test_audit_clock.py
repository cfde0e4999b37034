"""The sealer and the verification against wrong clocks: an entry dated too far before the newest
sealed one (or after the sealer's clock) is left unsealed and reported, never chained."""

import datetime
import io
import logging

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from huibao.core import audit
from huibao.core.audit import record, refused_entries, seal_pending, verify_chain
from huibao.core.models import AuditEntry, AuditHead

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 11, 30, 8, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def fresh_refusal_log():
    audit._logged_refusals.clear()
    yield
    audit._logged_refusals.clear()


def entry_at(moment: datetime.datetime, object_id: str) -> AuditEntry:
    """An entry written by a server whose clock reads `moment`."""
    with time_machine.travel(moment, tick=False):
        return record("update", "catalog.product", object_id, actor="system:test")


def seal_at(moment: datetime.datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return seal_pending()


def test_an_entry_dated_too_far_before_the_newest_sealed_one_is_left_unsealed_and_reported(settings, caplog):
    # given a sealed entry at 08:00, and the allowed skew of five minutes
    settings.AUDIT_MAX_CLOCK_SKEW = 300
    entry_at(NOW, "on-time")
    assert seal_at(NOW) == 1
    # when a server whose clock is ten minutes behind writes an entry, and a correct one writes another
    late = entry_at(NOW - datetime.timedelta(minutes=10), "clock-behind")
    entry_at(NOW + datetime.timedelta(seconds=5), "after")
    with caplog.at_level(logging.WARNING, logger="huibao.core.audit"):
        sealed = seal_at(NOW + datetime.timedelta(seconds=6))
    # then the correct entry is sealed and the backdated one is not
    assert sealed == 1
    late.refresh_from_db()
    assert late.seq is None and late.entry_hash is None
    assert list(
        AuditEntry.objects.filter(seq__isnull=False).order_by("seq").values_list("object_id", flat=True)
    ) == [
        "on-time",
        "after",
    ]
    # and the sealer says why, naming the entry
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"audit entry {late.pk} left unsealed" in warnings[0]
    assert "605 s before the newest sealed entry" in warnings[0]
    assert "AUDIT_MAX_CLOCK_SKEW" in warnings[0]
    # and it says so once, however often it runs
    with caplog.at_level(logging.WARNING, logger="huibao.core.audit"):
        caplog.clear()
        seal_at(NOW + datetime.timedelta(seconds=7))
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
    # and the verification reports it without calling the chain broken
    with time_machine.travel(NOW + datetime.timedelta(seconds=8), tick=False):
        report = verify_chain()
    assert report.ok and report.checked == 2 and report.unsealed == 1
    assert len(report.clock_problems) == 1
    assert f"unsealed entry id {late.pk} is refused by the sealer" in report.clock_problems[0]


def test_an_entry_late_within_the_skew_is_sealed(settings):
    # given a sealed entry, and an entry written a minute earlier that commits after it (a long
    # transaction, or a clock slightly behind)
    settings.AUDIT_MAX_CLOCK_SKEW = 300
    entry_at(NOW, "first")
    seal_at(NOW)
    entry_at(NOW - datetime.timedelta(minutes=1), "late-but-fine")
    # when the sealer runs
    sealed = seal_at(NOW + datetime.timedelta(seconds=1))
    # then it is chained, and nothing is reported
    assert sealed == 1
    with time_machine.travel(NOW + datetime.timedelta(seconds=2), tick=False):
        report = verify_chain()
    assert report.ok and report.checked == 2 and report.unsealed == 0 and report.clock_problems == ()


def test_the_skew_is_a_setting(settings):
    # given a skew of 30 seconds
    settings.AUDIT_MAX_CLOCK_SKEW = 30
    entry_at(NOW, "first")
    seal_at(NOW)
    # when an entry is dated a minute before the newest sealed one
    late = entry_at(NOW - datetime.timedelta(minutes=1), "a-minute-behind")
    seal_at(NOW + datetime.timedelta(seconds=1))
    # then it is refused
    late.refresh_from_db()
    assert late.seq is None
    with time_machine.travel(NOW + datetime.timedelta(seconds=1), tick=False):
        assert [e.id for e in refused_entries()] == [late.pk]


def test_an_entry_of_the_same_batch_is_checked_against_the_ones_sealed_before_it(settings):
    # given two unsealed entries, the second one written by a clock ten minutes behind
    settings.AUDIT_MAX_CLOCK_SKEW = 300
    entry_at(NOW, "on-time")
    behind = entry_at(NOW - datetime.timedelta(minutes=10), "clock-behind")
    # when one sealer run finds both
    sealed = seal_at(NOW + datetime.timedelta(seconds=1))
    # then the first is sealed, the second refused
    assert sealed == 1
    behind.refresh_from_db()
    assert behind.seq is None
    assert AuditHead.objects.get(pk=1).newest_occurred_at == NOW


def test_an_entry_dated_in_the_future_is_refused_and_does_not_hold_up_correct_ones(settings):
    # given a server whose clock is an hour ahead
    settings.AUDIT_MAX_CLOCK_SKEW = 300
    ahead = entry_at(NOW + datetime.timedelta(hours=1), "clock-ahead")
    # when the sealer (with a correct clock) runs, and correct entries follow
    assert seal_at(NOW) == 0
    entry_at(NOW + datetime.timedelta(seconds=1), "correct")
    sealed = seal_at(NOW + datetime.timedelta(seconds=2))
    # then the correct entry is sealed: the future time never became the chain's newest time
    assert sealed == 1
    ahead.refresh_from_db()
    assert ahead.seq is None
    assert AuditHead.objects.get(pk=1).newest_occurred_at == NOW + datetime.timedelta(seconds=1)
    with time_machine.travel(NOW + datetime.timedelta(seconds=3), tick=False):
        (refused,) = refused_entries()
    assert refused.id == ahead.pk and "after the sealer's clock" in refused.problem


def test_verification_reports_sealed_entries_out_of_order_beyond_the_skew(settings):
    # given entries sealed while the skew allowed a day (or before the sealer checked times)
    settings.AUDIT_MAX_CLOCK_SKEW = 86400
    entry_at(NOW, "first")
    seal_at(NOW)
    entry_at(NOW - datetime.timedelta(hours=2), "two-hours-behind")
    entry_at(NOW + datetime.timedelta(seconds=1), "third")
    assert seal_at(NOW + datetime.timedelta(seconds=2)) == 2
    # when the chain is verified with a skew of five minutes
    settings.AUDIT_MAX_CLOCK_SKEW = 300
    with time_machine.travel(NOW + datetime.timedelta(seconds=3), tick=False):
        report = verify_chain()
    # then every hash holds, and the entry out of order is named
    assert report.ok and report.checked == 3
    assert len(report.clock_problems) == 1
    assert report.clock_problems[0].startswith("entry 2 (id ")
    assert "7200 s before entry 1" in report.clock_problems[0]


def test_the_commands_exit_3_on_entries_out_of_order(settings):
    # given a refused entry
    settings.AUDIT_MAX_CLOCK_SKEW = 300
    entry_at(NOW, "on-time")
    seal_at(NOW)
    late = entry_at(NOW - datetime.timedelta(hours=1), "clock-behind")
    later = NOW + datetime.timedelta(seconds=1)
    # when the sealer runs once, and the chain is verified
    err = io.StringIO()
    with (
        time_machine.travel(later, tick=False),
        pytest.raises(CommandError, match="1 audit entries left unsealed") as sealing,
    ):
        call_command("seal_audit", stdout=io.StringIO(), stderr=err)
    out = io.StringIO()
    with (
        time_machine.travel(later, tick=False),
        pytest.raises(CommandError, match="AUDIT_MAX_CLOCK_SKEW = 300 s") as verifying,
    ):
        call_command("verify_audit", stdout=out)
    # then both exit with status 3 and name the entry
    assert sealing.value.returncode == 3 and verifying.value.returncode == 3
    assert f"audit entry {late.pk} left unsealed" in err.getvalue()
    assert f"clock: unsealed entry id {late.pk} is refused by the sealer" in out.getvalue()
    assert "head: 1:" in out.getvalue()


def test_a_clean_chain_has_no_clock_problems():
    # given entries written and sealed now
    for i in range(3):
        record("update", "catalog.product", str(i))
    seal_pending()
    # when / then
    report = verify_chain()
    assert report.ok and report.clock_problems == ()
    assert timezone.now() >= AuditHead.objects.get(pk=1).newest_occurred_at
