"""Validation of personal data: mainland resident ID numbers, mobile numbers, bank card numbers.

Pure functions: no ORM, no I/O (the region table ships inside python-stdnum). Each raises
`ValidationFailed` carrying one `FieldError` that names the field and the rule, with a Chinese
message for the person who typed the value.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Literal

from stdnum import luhn
from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumValidationError

from huibao.core.errors import FieldError, ValidationFailed

_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")
_PHONE_SHAPE = re.compile(r"^1[3-9]\d{9}$")
_CARD_SHAPE = re.compile(r"^\d{12,19}$")
# Separators people type inside long numbers; nothing else is forgiven.
_SEPARATORS = re.compile(r"[\s\-]")


@dataclass(frozen=True, slots=True)
class ResidentId:
    number: str
    birth_date: datetime.date
    sex: Literal["M", "F"]
    region_code: str
    region_name: str


def _fail(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, errors=[FieldError(field=field, code=code, message=message)])


def id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits (GB 11643-1999)."""
    total = sum(int(digit) * (2 ** (17 - i) % 11) for i, digit in enumerate(first17))
    check = (12 - total % 11) % 11
    return "X" if check == 10 else str(check)


def validate_resident_id(
    value: str, *, field: str = "id_number", today: datetime.date | None = None
) -> ResidentId:
    """Checks an 18-character mainland resident ID number and returns what it encodes.

    Order of checks: shape, check digit, birth date (a real date, not in the future), region
    code (known to the administrative-division table for the year of birth).
    """
    number = _SEPARATORS.sub("", value or "").upper()
    if not _ID_SHAPE.match(number):
        raise _fail(field, "id_format", "身份证号格式错误：应为18位，前17位为数字，末位为数字或X")
    if id_check_digit(number[:17]) != number[17]:
        raise _fail(field, "id_checksum", "身份证号校验位错误")
    try:
        birth_date = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise _fail(field, "id_birth_date", "身份证号中的出生日期无效") from None
    if birth_date > (today or datetime.date.today()) or birth_date.year < 1900:
        raise _fail(field, "id_birth_date", "身份证号中的出生日期无效")
    try:
        # stdnum raises InvalidComponent both for an unknown region code and for a code that
        # was not in force in the year of birth; the date is already known to be valid here.
        place = ric.get_birth_place(number)
    except StdnumValidationError:
        raise _fail(field, "id_region", "身份证号中的地区代码不存在") from None
    parts: list[str] = []
    for key in ("province", "prefecture", "county"):
        part = place.get(key, "")
        if part and part not in parts:
            parts.append(part)
    return ResidentId(
        number=number,
        birth_date=birth_date,
        sex="M" if int(number[16]) % 2 == 1 else "F",
        region_code=number[:6],
        region_name="".join(parts),
    )


def validate_mobile(value: str, *, field: str = "phone") -> str:
    """Checks a mainland mobile number (11 digits, 1[3-9]…); accepts a +86/86 prefix and spaces."""
    number = _SEPARATORS.sub("", value or "")
    if number.startswith("+86"):
        number = number[3:]
    elif number.startswith("86") and len(number) == 13:
        number = number[2:]
    if not _PHONE_SHAPE.match(number):
        raise _fail(field, "phone_format", "手机号格式错误：应为11位中国大陆手机号")
    return number


def validate_bank_card(value: str, *, field: str = "card_number") -> str:
    """Checks a bank card number: 12–19 digits with a valid Luhn check digit."""
    number = _SEPARATORS.sub("", value or "")
    if not _CARD_SHAPE.match(number):
        raise _fail(field, "card_format", "银行卡号格式错误：应为12至19位数字")
    if not luhn.is_valid(number):
        raise _fail(field, "card_luhn", "银行卡号校验位错误，请核对卡号")
    return number
