"""The sandbox face page end to end with Django's test client: start → page → notify → status."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from huibao.identity import services
from huibao.identity.models import FaceCheck
from huibao.identity.states import FaceCheckStatus
from huibao.identity.tests import factories as f
from huibao.sandbox import identity as sandbox
from huibao.sandbox import notifications
from huibao.sandbox import tasks as sandbox_tasks
from huibao.sandbox.models import SandboxFaceSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook_calls() -> Iterator[list[int]]:
    calls: list[int] = []

    def hook(check: FaceCheck) -> None:
        calls.append(check.pk)

    services.register_face_result_hook(f.KIND, hook)
    yield calls
    services.unregister_face_result_hook(f.KIND, hook)


def _press_start(client: Client, check: FaceCheck) -> None:
    response = client.post(check.session_url)
    assert response.status_code == 302 and response["Location"] == f.RETURN_URL


def test_full_round_trip_through_the_hosted_page(
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: object,
    hook_calls: list[int],
) -> None:
    # given
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))
    check = f.face_check()
    page = client.get(check.session_url)
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="face-start"' in html and "开始检测" in html and "沙箱" in html
    assert "张*" in html and "110***********1239" in html and f.ID_NUMBER not in html
    # when: the person presses "开始检测"; the service's delivery task runs
    with django_capture_on_commit_callbacks() as callbacks:  # type: ignore[operator]
        _press_start(client, check)
    assert len(callbacks) == 1
    assert services.face_check_status(check.public_id).status == "pending"  # not yet notified
    acknowledged = sandbox_tasks.deliver_notification.call("face", f.session_token(check))
    # then
    check.refresh_from_db()
    session = SandboxFaceSession.objects.get(token=f.session_token(check))
    assert acknowledged and session.acknowledged_at is not None and session.attempts == 1
    assert check.status == FaceCheckStatus.PASSED and hook_calls == [check.pk]
    status = client.get(reverse("identity:face_status", args=[check.public_id]))
    assert status.json() == {
        "status": "passed",
        "failure_reason": "",
        "message": "人脸识别通过",
        "final": True,
    }
    # and a second press or a second delivery changes nothing
    _press_start(client, check)
    assert sandbox.deliver(f.session_token(check)) and hook_calls == [check.pk]
    assert client.get(check.session_url).content.decode().count("已完成") == 1


def test_not_live_name_fails_liveness(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))
    check = f.face_check(name="王活体失败")
    _press_start(client, check)
    assert sandbox.deliver(f.session_token(check))
    check.refresh_from_db()
    assert check.status == FaceCheckStatus.FAILED and check.failure_reason == "not_live"
    assert "活体检测未通过" in check.message


def test_someone_else_than_the_registered_person_is_not_the_same_person(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the registry knows this ID number under another name
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))
    sandbox.register_citizen(f.OTHER_NAME, f.ID_NUMBER)
    check = f.face_check()
    # when
    _press_start(client, check)
    assert sandbox.deliver(f.session_token(check))
    # then
    check.refresh_from_db()
    assert check.status == FaceCheckStatus.FAILED and check.failure_reason == "not_same_person"
    assert check.similarity is not None and check.similarity < 50


def test_pressing_start_after_the_session_expired_expires_the_check(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))
    check = f.face_check()
    past = timezone.now() - datetime.timedelta(seconds=1)
    SandboxFaceSession.objects.filter(token=f.session_token(check)).update(expires_at=past)
    assert "已超时" in client.get(check.session_url).content.decode()
    _press_start(client, check)
    assert sandbox.deliver(f.session_token(check))
    check.refresh_from_db()
    assert check.status == FaceCheckStatus.EXPIRED


def test_unacknowledged_delivery_is_retried_with_backoff(
    client: Client, monkeypatch: pytest.MonkeyPatch, hook_calls: list[int]
) -> None:
    # given: the platform is down for the first delivery
    check = f.face_check()
    _press_start(client, check)
    token = f.session_token(check)
    monkeypatch.setattr(notifications, "http_post", lambda url, body, headers: (503, "down"))
    # when
    assert not sandbox_tasks.deliver_notification.call("face", token)
    session = SandboxFaceSession.objects.get(token=token)
    # then: the next attempt is due 15 s later, and the sweep delivers it once due
    assert session.attempts == 1 and session.next_attempt_at is not None
    assert (session.next_attempt_at - session.created_at).total_seconds() >= 15
    assert notifications.due(session.next_attempt_at - datetime.timedelta(seconds=1)) == []
    monkeypatch.setattr(notifications, "http_post", f.client_transport(Client()))
    assert notifications.due(session.next_attempt_at) == [("face", token)]
    assert sandbox.deliver(token, now=session.next_attempt_at)
    check.refresh_from_db()
    assert check.status == FaceCheckStatus.PASSED and hook_calls == [check.pk]
    assert notifications.due(timezone.now() + datetime.timedelta(days=1)) == []


def test_a_failing_hook_rolls_back_and_the_retry_applies_once(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a hook that fails the first time (e.g. the application row was locked)
    calls: list[int] = []

    def flaky(check: FaceCheck) -> None:
        calls.append(check.pk)
        if len(calls) == 1:
            raise RuntimeError("busy")

    services.register_face_result_hook(f.KIND, flaky)
    try:
        monkeypatch.setattr(
            notifications, "http_post", f.client_transport(Client(raise_request_exception=False))
        )
        check = f.face_check()
        _press_start(client, check)
        token = f.session_token(check)
        # when
        first = sandbox.deliver(token)
        check.refresh_from_db()
        status_after_first = check.status
        second = sandbox.deliver(token)
    finally:
        services.unregister_face_result_hook(f.KIND, flaky)
    # then
    check.refresh_from_db()
    assert not first and status_after_first == FaceCheckStatus.PENDING
    assert second and check.status == FaceCheckStatus.PASSED and calls == [check.pk, check.pk]
    assert check.notifications.filter(accepted=True).count() == 1


def test_notify_endpoint_answers_fail_to_a_forged_post(client: Client) -> None:
    check = f.face_check()
    headers, body = f.notification(check)
    headers["Huibao-Face-Signature"] = "f" * 64
    response = client.generic(
        "POST",
        reverse("identity:face_notify", args=["sandbox"]),
        body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )
    check.refresh_from_db()
    assert response.status_code == 400 and response.content == b"fail"
    assert check.status == FaceCheckStatus.PENDING


def test_notify_endpoint_refuses_get(client: Client) -> None:
    assert client.get(reverse("identity:face_notify", args=["sandbox"])).status_code == 405


def test_status_endpoint_404_for_unknown_check(client: Client) -> None:
    response = client.get(reverse("identity:face_status", args=["00000000-0000-0000-0000-000000000000"]))
    assert response.status_code == 404 and response.json()["code"] == "unknown_face_check"


def test_unknown_session_page_is_404(client: Client) -> None:
    assert client.get(reverse("sandbox:face", args=["SBFNOPE"])).status_code == 404
