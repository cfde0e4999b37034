"""The Alibaba Cloud SMS adapter under the real SDK, with the HTTP layer replaying recorded
responses: the request is checked against Alibaba's V3 signature (ACS3-HMAC-SHA256) computed
here independently from the documented algorithm, and each response becomes the port's result."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
import requests

from huibao.notification import sending, services
from huibao.notification.aliyun import AliyunSmsBackend
from huibao.notification.errors import SmsDeliveryFailed, SmsThrottled
from huibao.notification.sms import reset_sms_backends
from huibao.notification.states import OutboxStatus
from huibao.notification.tests.conftest import ISSUED

FIXTURES = Path(__file__).parent / "fixtures" / "aliyun"
KEY_ID = "LTAI5tHuibaoTestKey"
SECRET = "huibao-test-secret-not-real"


class Replay:
    def __init__(self):
        self.requests: list[requests.PreparedRequest] = []
        self.fixture = "send_ok.json"

    def send(self, session, request, **kwargs):
        self.requests.append(request)
        recorded = json.loads((FIXTURES / self.fixture).read_text("utf-8"))
        response = requests.Response()
        response.status_code = recorded["status"]
        response.headers.update(recorded["headers"])
        response._content = json.dumps(recorded["body"], ensure_ascii=False).encode("utf-8")
        response.request = request
        response.reason = "OK" if recorded["status"] == 200 else "Error"
        return response


@pytest.fixture
def http(monkeypatch):
    replay = Replay()
    # The SDK sends through a requests.Session: nothing leaves the process.
    monkeypatch.setattr(
        requests.Session, "send", lambda self, request, **kw: replay.send(self, request, **kw)
    )
    return replay


def backend():
    return AliyunSmsBackend(
        access_key_id=KEY_ID,
        access_key_secret=SECRET,
        sign_name="汇保",
        templates={"policy.issued": "SMS_154950909", "account.login_code": "SMS_100000001"},
    )


def _enc(value: str) -> str:
    return quote(value, safe="~")


def acs3_signature(request: requests.PreparedRequest, secret: str) -> tuple[str, str]:
    """Alibaba Cloud's V3 request signature, per its documentation: returns (signed headers, sig)."""
    url = urlsplit(request.url)
    query = sorted(parse_qsl(url.query, keep_blank_values=True))
    canonical_query = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in query)
    headers = {k.lower(): v.strip() for k, v in request.headers.items()}
    signed = sorted(k for k in headers if k in ("host", "content-type") or k.startswith("x-acs-"))
    auth = headers["authorization"]
    claimed_signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    # The SDK may sign more headers than the required ones; every required one must be signed.
    assert set(signed) <= set(claimed_signed)
    canonical_headers = "".join(f"{k}:{headers[k]}\n" for k in claimed_signed)
    payload = hashlib.sha256(request.body or b"").hexdigest()
    assert headers["x-acs-content-sha256"] == payload
    canonical = "\n".join(
        [
            request.method,
            url.path or "/",
            canonical_query,
            canonical_headers,
            ";".join(claimed_signed),
            payload,
        ]
    )
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    return ";".join(claimed_signed), hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def test_a_send_is_a_signed_sendsms_request_and_its_bizid_the_receipt(http):
    # when
    receipt = backend().send(
        "13912345678",
        "ignored",
        template="policy.issued",
        params={"policy_number": "P1", "days": "30"},
        out_id="0f3c",
    )
    # then the receipt is Alibaba's BizId
    assert receipt.receipt_id == "900619746936498440^0" and receipt.backend == "aliyun"
    assert receipt.phone_masked == "139****5678"
    (request,) = http.requests
    url = urlsplit(request.url)
    assert request.method == "POST" and url.scheme == "https" and url.netloc == "dysmsapi.aliyuncs.com"
    query = dict(parse_qsl(url.query))
    assert query == {
        "PhoneNumbers": "13912345678",
        "SignName": "汇保",
        "TemplateCode": "SMS_154950909",
        "TemplateParam": '{"policy_number":"P1","days":"30"}',
        "OutId": "0f3c",
    }
    assert request.headers["x-acs-action"] == "SendSms" and request.headers["x-acs-version"] == "2017-05-25"
    signed, signature = acs3_signature(request, SECRET)
    assert request.headers["Authorization"] == (
        f"ACS3-HMAC-SHA256 Credential={KEY_ID},SignedHeaders={signed},Signature={signature}"
    )
    # A different secret gives a different signature: the check above is not vacuous.
    assert acs3_signature(request, "another-secret")[1] != signature


def test_flow_control_is_throttled(http):
    http.fixture = "send_throttled.json"
    with pytest.raises(SmsThrottled) as caught:
        backend().send("13912345678", "x", template="policy.issued", params={})
    assert caught.value.retry_after == 60


@pytest.mark.parametrize(
    ("fixture", "permanent"),
    [("send_bad_number.json", True), ("signature_mismatch.json", True), ("server_error.json", False)],
)
def test_refusals_become_delivery_failures(http, fixture, permanent):
    http.fixture = fixture
    with pytest.raises(SmsDeliveryFailed) as caught:
        backend().send("13912345678", "x", template="policy.issued", params={})
    assert caught.value.permanent is permanent
    assert len(http.requests) == 1  # the SDK's own retries are off: the outbox retries


def test_an_unregistered_template_is_refused_without_a_request(http):
    with pytest.raises(SmsDeliveryFailed) as caught:
        backend().send("13912345678", "x", template="marketing.notice")
    assert caught.value.permanent and caught.value.code == "sms_template_unmapped"
    assert http.requests == []


@pytest.mark.django_db
def test_the_outbox_sends_through_alibaba_and_retries_when_throttled(http, customer, settings):
    # given the Alibaba backend configured as the SMS port
    settings.SMS_BACKEND = "huibao.notification.aliyun.AliyunSmsBackend"
    settings.ALIYUN_SMS_ACCESS_KEY_ID, settings.ALIYUN_SMS_ACCESS_KEY_SECRET = KEY_ID, SECRET
    settings.ALIYUN_SMS_TEMPLATES = {"policy.issued": "SMS_154950909"}
    reset_sms_backends()
    sms = services.notify(user=customer, template="policy.issued", context=ISSUED, dedup_key="i:1")[2]
    # when throttled first
    http.fixture = "send_throttled.json"
    assert sending.send(sms.pk) == OutboxStatus.FAILED
    sms.refresh_from_db()
    assert sms.next_attempt_at is not None and sms.last_error.startswith("sms_throttled")
    # then sent once due again
    http.fixture = "send_ok.json"
    assert sending.send(sms.pk, now=sms.next_attempt_at) == OutboxStatus.SENT
    sms.refresh_from_db()
    assert sms.provider_ref == "900619746936498440^0"
    query = dict(parse_qsl(urlsplit(http.requests[-1].url).query))
    assert query["OutId"] == sms.public_id.hex
    assert json.loads(query["TemplateParam"])["policy_number"] == "P2026000001"
