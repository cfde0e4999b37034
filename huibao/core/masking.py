"""Masking personal data on screen and out of logs.

`mask_*` show enough to recognise a value (`110***********1234`) and no more.
`MaskPersonalDataFilter` rewrites every log record so that ID numbers, mobile numbers and bank
card numbers never reach a log, whatever a developer passed to the logger.
"""

from __future__ import annotations

import logging
import re


def _mask(value: str, keep_start: int, keep_end: int) -> str:
    value = value.strip()
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[len(value) - keep_end :]


def mask_id_number(value: str | None) -> str:
    """110105199003071234 -> 110***********1234"""
    return _mask(value, 3, 4) if value else ""


def mask_phone(value: str | None) -> str:
    """13812345678 -> 138****5678"""
    return _mask(value, 3, 4) if value else ""


def mask_bank_card(value: str | None) -> str:
    """6222020200112233445 -> 6222***********3445"""
    return _mask(value.replace(" ", ""), 4, 4) if value else ""


def mask_name(value: str | None) -> str:
    """张三丰 -> 张**"""
    return (value[0] + "*" * (len(value) - 1)) if value else ""


# Longest patterns first: an 18-char ID number or a 16-19 digit card before an 11-digit mobile.
_ID_RE = re.compile(r"(?<![0-9A-Za-z])([1-9]\d{5})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_CARD_RE = re.compile(r"(?<!\d)(\d{4})(\d{8,11})(\d{4})(?!\d)")
_PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def scrub(text: str) -> str:
    text = _ID_RE.sub(lambda m: m.group(1)[:3] + "*" * 11 + m.group(3)[-4:], text)
    text = _CARD_RE.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)
    return _PHONE_RE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


class MaskPersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        cleaned = scrub(message)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        return True
