from __future__ import annotations

import logging

from huibao.account.sms import ConsoleSmsBackend, get_sms_backend, reset_sms_backends


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
    settings.SMS_BACKEND = "huibao.account.sms.ConsoleSmsBackend"
    reset_sms_backends()
    first = get_sms_backend()
    assert isinstance(first, ConsoleSmsBackend) and get_sms_backend() is first
