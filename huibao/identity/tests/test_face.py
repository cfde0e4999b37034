"""Face checks against the database: start, notifications, hooks, expiry, status."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
from django.utils import timezone

from huibao.core.errors import InvalidTransition, NotFound, ValidationFailed
from huibao.core.models import AuditEntry
from huibao.identity import selectors, services
from huibao.identity.models import FaceCheck, FaceProviderNotification
from huibao.identity.states import FaceCheckStatus
from huibao.identity.tests import factories as f
from huibao.sandbox.models import SandboxFaceSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook_calls() -> Iterator[list[tuple[int, str]]]:
    calls: list[tuple[int, str]] = []

    def hook(check: FaceCheck) -> None:
        calls.append((check.pk, check.status))

    services.register_face_result_hook(f.KIND, hook)
    yield calls
    services.unregister_face_result_hook(f.KIND, hook)


def test_start_opens_a_pending_check_and_a_sandbox_session() -> None:
    # when
    check = f.face_check()
    # then
    check.refresh_from_db()
    assert check.status == FaceCheckStatus.PENDING and check.id_number == f.ID_NUMBER
    assert check.session_url.endswith(f"/identity/sandbox/face/{f.session_token(check)}/")
    session = SandboxFaceSession.objects.get(token=f.session_token(check))
    assert session.merchant_ref == str(check.public_id) and session.return_url == f.RETURN_URL
    assert session.notify_url.endswith("/identity/face/notify/sandbox/")
    assert check.expires_at - check.created_at == pytest.approx(
        datetime.timedelta(minutes=10), abs=datetime.timedelta(seconds=5)
    )
    entry = AuditEntry.objects.get(action="identity.face.started")
    assert entry.after["id_number"] == "110***********1239" and f.ID_NUMBER not in str(entry.after)


@pytest.mark.parametrize(
    "return_url", ["https://evil.example/phish", "//evil.example/", "javascript:alert(1)", ""]
)
def test_start_refuses_a_return_url_off_the_site(return_url: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.start_face_check(
            name=f.NAME,
            id_number=f.ID_NUMBER,
            reference_kind=f.KIND,
            reference_id="A1",
            return_url=return_url,
        )
    assert exc.value.errors[0].field == "return_url"
    assert FaceCheck.objects.count() == 0


def test_start_refuses_a_bad_id_naming_the_field() -> None:
    with pytest.raises(ValidationFailed) as exc:
        f.face_check(id_number=f.BAD_CHECKSUM_ID)
    assert [e.field for e in exc.value.errors] == ["id_number"]
    assert FaceCheck.objects.count() == 0 and SandboxFaceSession.objects.count() == 0


def test_passed_notification_passes_and_runs_hook_once(hook_calls: list[tuple[int, str]]) -> None:
    # given
    check = f.face_check()
    headers, body = f.notification(check)
    # when
    outcome = services.handle_face_notification("sandbox", headers, body)
    # then
    check.refresh_from_db()
    assert outcome.acknowledge and outcome.code == "passed" and outcome.face_check_id == check.pk
    assert check.status == FaceCheckStatus.PASSED and check.passed and check.completed_at is not None
    assert check.provider_ref == f.session_token(check) and check.similarity == 95
    assert hook_calls == [(check.pk, "passed")]
    assert (
        AuditEntry.objects.filter(action="identity.face.passed", object_id=str(check.public_id)).count() == 1
    )
    assert FaceProviderNotification.objects.get().accepted


@pytest.mark.parametrize("reason", ["not_live", "not_same_person"])
def test_failed_notification_records_the_reason(reason: str, hook_calls: list[tuple[int, str]]) -> None:
    check = f.face_check()
    outcome = services.handle_face_notification(
        "sandbox", *f.notification(check, result="failed", reason=reason)
    )
    check.refresh_from_db()
    assert outcome.code == "failed"
    assert check.status == FaceCheckStatus.FAILED and check.failure_reason == reason
    assert check.message and check.message != "人脸识别通过"
    assert hook_calls == [(check.pk, "failed")]


def test_forged_signature_is_rejected_and_changes_nothing(hook_calls: list[tuple[int, str]]) -> None:
    # given
    check = f.face_check()
    headers, body = f.notification(check)
    headers["Huibao-Face-Signature"] = "0" * 64
    audit_before = AuditEntry.objects.count()
    # when
    outcome = services.handle_face_notification("sandbox", headers, body)
    # then
    check.refresh_from_db()
    assert not outcome.acknowledge and outcome.code == "bad_signature"
    assert check.status == FaceCheckStatus.PENDING and check.completed_at is None
    assert hook_calls == [] and AuditEntry.objects.count() == audit_before
    forensic = FaceProviderNotification.objects.get()
    assert (
        forensic.signature_ok is False and forensic.accepted is False and forensic.outcome == "bad_signature"
    )
    assert forensic.notify_id == headers["Huibao-Face-Notify-Id"] and forensic.raw_body == body.decode()


def test_tampered_body_is_rejected() -> None:
    # given: a genuine "failed" notification turned into "passed" by an attacker
    check = f.face_check()
    headers, body = f.notification(check, result="failed", reason="not_live")
    forged = body.replace(b'"result": "failed"', b'"result": "passed"').replace(b"not_live", b"")
    # when
    outcome = services.handle_face_notification("sandbox", headers, forged)
    # then
    check.refresh_from_db()
    assert outcome.code == "bad_signature" and check.status == FaceCheckStatus.PENDING


def test_a_forged_row_does_not_block_the_genuine_notification(hook_calls: list[tuple[int, str]]) -> None:
    check = f.face_check()
    headers, body = f.notification(check, notify_id="Fsame")
    services.handle_face_notification("sandbox", {**headers, "Huibao-Face-Signature": "bad"}, body)
    outcome = services.handle_face_notification("sandbox", headers, body)
    assert outcome.code == "passed" and hook_calls == [(check.pk, "passed")]


def test_unknown_provider_is_rejected() -> None:
    check = f.face_check()
    outcome = services.handle_face_notification("acme", *f.notification(check))
    check.refresh_from_db()
    assert not outcome.acknowledge and outcome.code == "unknown_provider"
    assert check.status == FaceCheckStatus.PENDING


def test_stale_notification_is_rejected_and_kept_as_evidence(hook_calls: list[tuple[int, str]]) -> None:
    # given: a genuine notification signed ten minutes ago (captured and replayed late)
    check = f.face_check()
    headers, body = f.notification(
        check, notify_id="Fold", now=timezone.now() - datetime.timedelta(minutes=10)
    )
    # when
    outcome = services.handle_face_notification("sandbox", headers, body)
    # then
    check.refresh_from_db()
    assert not outcome.acknowledge and outcome.code == "stale"
    assert check.status == FaceCheckStatus.PENDING and hook_calls == []
    row = FaceProviderNotification.objects.get()
    assert row.signature_ok and not row.accepted and row.outcome == "stale"
    # and the gateway's fresh re-delivery of the same notify_id still goes through
    assert (
        services.handle_face_notification("sandbox", *f.notification(check, notify_id="Fold")).code
        == "passed"
    )


def test_replayed_notification_is_idempotent(hook_calls: list[tuple[int, str]]) -> None:
    # given: a processed "passed"
    check = f.face_check()
    headers, body = f.notification(check)
    services.handle_face_notification("sandbox", headers, body)
    audit_count = AuditEntry.objects.count()
    # when: the same notification arrives again, three times
    outcomes = [services.handle_face_notification("sandbox", headers, body) for _ in range(3)]
    # then
    check.refresh_from_db()
    assert all(o.acknowledge and o.code == "duplicate" for o in outcomes)
    assert check.status == FaceCheckStatus.PASSED and hook_calls == [(check.pk, "passed")]
    assert AuditEntry.objects.count() == audit_count
    assert FaceProviderNotification.objects.filter(accepted=True).count() == 1
    assert FaceProviderNotification.objects.filter(outcome="duplicate").count() == 3


def test_a_contradicting_second_result_has_no_effect(hook_calls: list[tuple[int, str]]) -> None:
    # given
    check = f.face_check()
    services.handle_face_notification("sandbox", *f.notification(check))
    # when: another (differently numbered) notification says it failed
    outcome = services.handle_face_notification(
        "sandbox", *f.notification(check, result="failed", reason="not_live")
    )
    again = services.handle_face_notification("sandbox", *f.notification(check))
    # then
    check.refresh_from_db()
    assert outcome.acknowledge and outcome.code == "ignored_closed"
    assert again.code == "already_passed"
    assert check.status == FaceCheckStatus.PASSED and hook_calls == [(check.pk, "passed")]


def test_notification_for_an_unknown_check_is_not_acknowledged() -> None:
    check = f.face_check()
    headers, body = f.notification(check)
    check.delete()
    outcome = services.handle_face_notification("sandbox", headers, body)
    assert not outcome.acknowledge and outcome.code == "unknown_face_check"
    assert FaceProviderNotification.objects.count() == 0  # rolled back: a later delivery is processed afresh


def test_expiry_expires_only_overdue_pending_checks(hook_calls: list[tuple[int, str]]) -> None:
    # given
    old = f.face_check(ref="old")
    FaceCheck.objects.filter(pk=old.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    fresh = f.face_check(ref="new")
    done = f.face_check(ref="done")
    services.handle_face_notification("sandbox", *f.notification(done))
    hook_calls.clear()
    # when
    count = services.expire_pending_face_checks(timezone.now())
    # then
    old.refresh_from_db()
    fresh.refresh_from_db()
    done.refresh_from_db()
    assert count == 1
    assert old.status == FaceCheckStatus.EXPIRED and old.completed_at is not None
    assert old.failure_reason == "" and "超时" in old.message
    assert fresh.status == FaceCheckStatus.PENDING and done.status == FaceCheckStatus.PASSED
    assert hook_calls == [(old.pk, "expired")]
    assert services.expire_pending_face_checks(timezone.now()) == 0
    # and a result arriving after expiry is acknowledged without effect
    outcome = services.handle_face_notification("sandbox", *f.notification(old))
    old.refresh_from_db()
    assert outcome.code == "ignored_closed" and old.status == FaceCheckStatus.EXPIRED
    assert hook_calls == [(old.pk, "expired")]


def test_expiry_after_ten_minutes_via_the_task() -> None:
    from huibao.identity import tasks

    check = f.face_check()
    FaceCheck.objects.filter(pk=check.pk).update(expires_at=timezone.now())
    assert tasks.expire_face_checks.call() == 1
    check.refresh_from_db()
    assert check.status == FaceCheckStatus.EXPIRED


def test_face_check_status_reports_and_expires_overdue_checks() -> None:
    # given
    check = f.face_check()
    # when / then: pending
    state = services.face_check_status(check.public_id)
    assert (state.status, state.final, state.reference_id) == ("pending", False, "A1")
    # an overdue check reads as expired at once, without waiting for the sweeper
    later = timezone.now() + datetime.timedelta(minutes=11)
    state = services.face_check_status(str(check.public_id), now=later)
    assert (state.status, state.final) == ("expired", True)
    check.refresh_from_db()
    assert check.status == FaceCheckStatus.EXPIRED


def test_face_check_status_of_an_unknown_id_is_not_found() -> None:
    with pytest.raises(NotFound):
        services.face_check_status("not-a-uuid")
    with pytest.raises(NotFound):
        services.face_check_status("00000000-0000-0000-0000-000000000000")


def test_transition_table_refuses_leaving_a_final_state() -> None:
    check = f.face_check()
    services.handle_face_notification("sandbox", *f.notification(check))
    check.refresh_from_db()
    with pytest.raises(InvalidTransition):
        services._finish(check, FaceCheckStatus.FAILED, actor="test")


def test_latest_face_check_selector() -> None:
    f.face_check()
    last = f.face_check()
    assert selectors.latest_face_check(f.KIND, "A1") == last
