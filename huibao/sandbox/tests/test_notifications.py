import datetime
from dataclasses import dataclass

import httpx
import pytest

from huibao.core.errors import DomainError
from huibao.sandbox import notifications
from huibao.sandbox.faults import FaultInjector
from huibao.sandbox.models import SandboxFaceSession

NOW = datetime.datetime(2025, 3, 1, 12, 0, tzinfo=datetime.UTC)
DELAYS = (datetime.timedelta(seconds=15), datetime.timedelta(seconds=30))


class Record:
    """Stands in for a sandbox model: the delivery fields and what save() was asked to write."""

    def __init__(self) -> None:
        self.attempts = 0
        self.acknowledged_at: datetime.datetime | None = None
        self.next_attempt_at: datetime.datetime | None = NOW
        self.saved: list[list[str]] = []

    def save(self, *, update_fields=None) -> None:
        self.saved.append(list(update_fields))


def retry_delay(attempts: int) -> datetime.timedelta | None:
    return DELAYS[attempts - 1] if 1 <= attempts <= len(DELAYS) else None


def attempt(record: Record, post, now: datetime.datetime = NOW) -> bool:
    return notifications.attempt_delivery(
        record,
        url="https://huibao.example/notify/",
        body=b"{}",
        headers={"X-Sig": "abc"},
        post=post,
        ack="success",
        retry_delay=retry_delay,
        now=now,
    )


# --- fault injection ------------------------------------------------------------------------------


def test_forced_failures_come_first_then_the_configured_rate(settings) -> None:
    # given
    settings.HUIBAO_TEST_SANDBOX_FAILURE_RATE = 0.0
    faults = FaultInjector("HUIBAO_TEST_SANDBOX_FAILURE_RATE")
    faults.force(2)
    # when / then: two forced failures, then none at rate 0
    assert [faults.take() for _ in range(3)] == [True, True, False]
    assert faults.left() == 0
    # and at rate 1 every call fails, without forced ones being used up
    settings.HUIBAO_TEST_SANDBOX_FAILURE_RATE = 1.0
    assert faults.rate() == 1.0 and faults.take() and faults.left() == 0


def test_forcing_replaces_the_count_and_never_goes_negative(settings) -> None:
    faults = FaultInjector("HUIBAO_UNSET_SANDBOX_FAILURE_RATE")
    faults.force(5)
    faults.force(-3)
    assert faults.left() == 0 and faults.rate() == 0.0 and not faults.take()


# --- signed delivery attempts ---------------------------------------------------------------------


def test_ack_marks_the_record_acknowledged_with_nothing_more_due() -> None:
    # given
    record = Record()
    calls: list[tuple[str, bytes, dict[str, str]]] = []

    def post(url, body, headers):
        calls.append((url, body, headers))
        return 200, " success\n"

    # when / then
    assert attempt(record, post)
    assert calls == [("https://huibao.example/notify/", b"{}", {"X-Sig": "abc"})]
    assert record.attempts == 1 and record.acknowledged_at == NOW and record.next_attempt_at is None
    assert record.saved == [["attempts", "acknowledged_at", "next_attempt_at"]]


@pytest.mark.parametrize("answer", [(200, "fail"), (503, "success"), (500, "")])
def test_other_answers_count_the_attempt_and_back_off(answer) -> None:
    record = Record()
    assert not attempt(record, lambda url, body, headers: answer)
    assert record.attempts == 1 and record.acknowledged_at is None
    assert record.next_attempt_at == NOW + DELAYS[0]


def test_http_errors_count_the_attempt_and_back_off() -> None:
    # given: one attempt already made
    record = Record()
    record.attempts = 1

    def post(url, body, headers):
        raise httpx.ConnectError("refused")

    # when / then
    assert not attempt(record, post)
    assert record.attempts == 2 and record.next_attempt_at == NOW + DELAYS[1]


def test_gives_up_once_the_schedule_is_spent() -> None:
    record = Record()
    record.attempts = len(DELAYS)
    assert not attempt(record, lambda url, body, headers: (503, "down"))
    assert record.attempts == len(DELAYS) + 1 and record.next_attempt_at is None
    assert record.acknowledged_at is None and len(record.saved) == 1


def test_signed_headers_carry_the_timestamp_the_id_and_the_signature() -> None:
    seen = []

    def sign(secret, timestamp, notify_id, body):
        seen.append((secret, timestamp, notify_id, body))
        return "sig"

    headers = notifications.signed_headers(
        "N1", b"{}", NOW, secret=b"k", names=("X-Ts", "X-Id", "X-Sig"), sign=sign
    )
    stamp = str(int(NOW.timestamp()))
    assert headers == {"Content-Type": "application/json", "X-Ts": stamp, "X-Id": "N1", "X-Sig": "sig"}
    assert seen == [(b"k", stamp, "N1", b"{}")]


def test_derived_secret_prefers_the_setting(settings) -> None:
    settings.HUIBAO_TEST_SANDBOX_SECRET = "configured"
    assert notifications.derived_secret("HUIBAO_TEST_SANDBOX_SECRET", "x") == b"configured"
    settings.HUIBAO_TEST_SANDBOX_SECRET = ""
    derived = notifications.derived_secret("HUIBAO_TEST_SANDBOX_SECRET", "x")
    assert len(derived) == 64 and derived != notifications.derived_secret("HUIBAO_TEST_SANDBOX_SECRET", "y")


# --- reading a signed notification on the platform's side --------------------------------------


class _Refused(DomainError):
    pass


@dataclass(frozen=True)
class _Parsed:
    notify_id: str
    sent_at: datetime.datetime
    status: str


def _build(data, sent_at) -> _Parsed:
    return _Parsed(notify_id=str(data["notify_id"]), sent_at=sent_at, status=str(data["status"]))


def _parse(headers: dict[str, str], body: bytes) -> _Parsed:
    return notifications.parse_signed("payment", headers, body, build=_build, invalid=_Refused)


def _refusal(headers: dict[str, str], body: bytes) -> str:
    with pytest.raises(_Refused) as refused:
        _parse(headers, body)
    return refused.value.code


def test_parse_signed_reads_what_its_channel_signed() -> None:
    # given: a notification signed as the payment sandbox signs it
    body = b'{"notify_id": "N1", "status": "success"}'
    headers = notifications.channel_headers("payment", "N1", body, NOW)
    # when
    parsed = _parse({name.lower(): value for name, value in headers.items()}, body)
    # then: header names are matched whatever their case, and the send time is the signed one
    assert parsed == _Parsed(notify_id="N1", sent_at=NOW, status="success")


def test_parse_signed_refuses_each_kind_of_bad_notification() -> None:
    body = b'{"notify_id": "N1", "status": "success"}'
    headers = notifications.channel_headers("payment", "N1", body, NOW)
    signature = next(name for name in headers if name.endswith("-Signature"))
    # a header missing, a changed body, another channel's signature
    assert _refusal({k: v for k, v in headers.items() if k != signature}, body) == "missing_header"
    assert _refusal(headers, body.replace(b"success", b"failed")) == "bad_signature"
    face = notifications.channel_headers("face", "N1", body, NOW)
    assert _refusal({**headers, signature: face["Huibao-Face-Signature"]}, body) == "bad_signature"
    # a body that does not decode or lacks a field, signed all the same
    for bad in (b"not json", b'{"notify_id": "N1"}', b"[1]"):
        assert _refusal(notifications.channel_headers("payment", "N1", bad, NOW), bad) == "malformed"
    # a body naming another notification than the signed header
    other = b'{"notify_id": "N2", "status": "success"}'
    assert _refusal(notifications.channel_headers("payment", "N1", other, NOW), other) == "notify_id_mismatch"


@pytest.mark.django_db
def test_compose_writes_the_notification_due_now_without_saving() -> None:
    # given
    record = SandboxFaceSession(token="SBFC1", merchant_ref="F1", name="张三", id_number="1", expires_at=NOW)
    # when
    notifications.compose(record, "F9", {"b": 2, "a": "甲"}, now=NOW)
    # then
    assert (record.notify_id, record.next_attempt_at) == ("F9", NOW)
    assert record.notify_body == '{"a": "甲", "b": 2}'
    assert record.pk is None
