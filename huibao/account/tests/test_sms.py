from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from huibao.account.errors import SmsDeliveryFailed, SmsThrottled
from huibao.account.sms import ConsoleSmsBackend, SandboxSmsBackend, get_sms_backend, reset_sms_backends


def test_console_backend_prints_to_the_terminal_not_to_the_log(caplog, capsys):
    # given
    backend = ConsoleSmsBackend()
    # when
    with caplog.at_level(logging.DEBUG):
        receipt = backend.send("13800138000", "code 246810")
    # then: the developer sees the text (number masked) on the terminal; no log record has it
    printed = capsys.readouterr().err
    assert "138****8000" in printed and "code 246810" in printed and "13800138000" not in printed
    assert "246810" not in caplog.text and not caplog.records
    assert backend.outbox[-1].text == "code 246810" and backend.outbox[-1].receipt == receipt
    assert receipt.receipt_id.startswith("console-")


def test_get_sms_backend_loads_the_setting_once(settings):
    settings.SMS_BACKEND = "huibao.account.sms.SandboxSmsBackend"
    reset_sms_backends()
    first = get_sms_backend()
    assert isinstance(first, SandboxSmsBackend) and get_sms_backend() is first


def test_sandbox_limits_one_per_minute(monkeypatch):
    # given
    backend = SandboxSmsBackend(failure_rate=0)
    receipt = backend.send("13800138000", "a")
    assert receipt.receipt_id.startswith("sbx-")
    # when / then
    with pytest.raises(SmsThrottled) as excinfo:
        backend.send("13800138000", "b")
    assert 0 < excinfo.value.retry_after <= 61
    backend.send("13900139000", "other numbers are not affected")


def test_sandbox_limits_ten_per_day(monkeypatch):
    # given
    backend = SandboxSmsBackend(failure_rate=0)
    start = timezone.now()
    for minute in range(10):
        moment = start + timedelta(minutes=2 * minute)
        monkeypatch.setattr(timezone, "now", lambda moment=moment: moment)
        backend.send("13800138000", f"#{minute}")
    # when: the eleventh, well after the per-minute window
    eleventh = start + timedelta(hours=2)
    monkeypatch.setattr(timezone, "now", lambda: eleventh)
    # then
    with pytest.raises(SmsThrottled):
        backend.send("13800138000", "#11")
    next_day = start + timedelta(days=1, minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: next_day)
    backend.send("13800138000", "tomorrow")


def test_sandbox_failure_rate_fails_that_share_of_sends():
    # given
    always = SandboxSmsBackend(failure_rate=1.0)
    never = SandboxSmsBackend(failure_rate=0.0)
    # when / then
    with pytest.raises(SmsDeliveryFailed):
        always.send("13800138000", "x")
    assert not always.outbox
    assert never.send("13800138000", "x").backend == "sandbox"


def test_sandbox_failure_rate_is_roughly_honoured():
    backend = SandboxSmsBackend(failure_rate=0.3, seed=7)
    failures = 0
    for i in range(200):
        try:
            backend.send(f"1380000{i:04d}", "x")
        except SmsDeliveryFailed:
            failures += 1
    assert 35 <= failures <= 85
