"""Masking personal data on screen and out of logs.

`mask_*` show enough to recognise a value (`110***********1234`) and no more.
`MaskPersonalDataFilter` rewrites every log record so that ID numbers, mobile numbers, bank card
numbers and e-mail addresses never reach a log, whatever a developer passed to the logger.
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


def mask_email(value: str | None) -> str:
    """wang.xiaoming@example.com -> w***@example.com (the domain stays: it says where mail goes)."""
    if not value:
        return ""
    local, at, domain = value.strip().rpartition("@")
    if not at or not local:
        return _mask(value, 1, 0)
    return f"{local[0]}***@{domain}"


def mask_name(value: str | None) -> str:
    """张三丰 -> 张**"""
    return (value[0] + "*" * (len(value) - 1)) if value else ""


# Most specific first: an 18-char ID number, then card numbers (grouped or not), then mobiles
# (bare, with +86/86, or written 138 1234 5678). A match is replaced by its masked form.
_ID_RE = re.compile(r"(?<!\d)\d{17}[0-9Xx](?![0-9A-Za-z])")
_GROUPED_CARD_RE = re.compile(r"(?<![\dA-Za-z])\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,3})?(?!\d)")
_LONG_CARD_RE = re.compile(r"(?<!\d)\d{16,19}(?!\d)")
_SHORT_CARD_RE = re.compile(r"(?<!\d)\d{12,15}(?!\d)")
_PHONE_RE = re.compile(r"(?<![\d+])(\+?86[ -]?)?(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")
# An e-mail address (local part of the usual characters, a dotted domain with a letter TLD).
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _mask_short_card(match: re.Match[str]) -> str:
    # 12-15 digit runs are masked only when they carry a valid card check digit, so that
    # millisecond timestamps and order numbers stay readable.
    digits = match.group(0)
    return mask_bank_card(digits) if _luhn_ok(digits) else digits


def scrub(text: str) -> str:
    """Replaces every ID number, bank card number, mobile number and e-mail address in `text` by
    its mask."""
    text = _EMAIL_RE.sub(lambda m: mask_email(m.group(0)), text)
    text = _ID_RE.sub(lambda m: mask_id_number(m.group(0)), text)
    text = _GROUPED_CARD_RE.sub(lambda m: mask_bank_card(re.sub(r"[ -]", "", m.group(0))), text)
    text = _LONG_CARD_RE.sub(lambda m: mask_bank_card(m.group(0)), text)
    text = _PHONE_RE.sub(lambda m: (m.group(1) or "") + m.group(2) + "****" + m.group(4), text)
    return _SHORT_CARD_RE.sub(_mask_short_card, text)


_EXCEPTION_FORMATTER = logging.Formatter()


class MaskPersonalDataFilter(logging.Filter):
    """Masks the message, its arguments, the traceback and the stack of every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        cleaned = scrub(message)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _EXCEPTION_FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True
