"""Validation of personal data: names, mainland resident ID numbers, mobile numbers, bank card
numbers, and the characters of free text.

Pure functions: no ORM, no I/O (the region table ships inside python-stdnum). Each raises
`ValidationFailed` carrying one `FieldError` that names the field and the rule, with a Chinese
message for the person who typed the value.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from stdnum import luhn, numdb

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
    code (one that exists or existed in the administrative-division table, GB/T 2260 with its
    history: see `region_of`).
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
    region_name = region_of(number[:6])
    if region_name is None:
        raise _fail(field, "id_region", "身份证号中的地区代码不存在")
    return ResidentId(
        number=number,
        birth_date=birth_date,
        sex="M" if int(number[16]) % 2 == 1 else "F",
        region_code=number[:6],
        region_name=region_name,
    )


# "[1983-1989]南头区办事处,[1990-]南山区": a county code's names with the years each was in force.
_NAMED_PERIOD = re.compile(r"^\[(\d*)-(\d*)\](.*)$")


def region_of(code: str) -> str | None:
    """The name of the administrative division a 6-digit code stands for, or None if no
    division ever had it (python-stdnum's GB/T 2260 table with its history).

    An ID number keeps the code of the office that issued it, which need not have existed when
    its holder was born (a Pudong 310115 number of someone born in 1986: Pudong New Area got the
    code in 1992), nor exist today (崇文区 110103, merged into 东城区 in 2010). So any code that
    exists or existed is accepted, whatever the birth year; the name is the latest it had.
    """
    parts: list[str] = []
    for _prefix, props in numdb.get("cn/loc").info(code):
        for key in ("province", "prefecture", "county"):
            value = props.get(key, "")
            if not value:
                continue
            names = value.split(",")
            latest = names[-1]
            match = _NAMED_PERIOD.match(latest)
            name = match.group(3) if match else latest
            if key != "province" and not parts:
                return None  # a county without its province: not a code of the table
            if name not in parts:
                parts.append(name)
    if len(parts) < 2 and not (len(parts) == 1 and code.endswith("0000")):
        return None  # no county- or prefecture-level entry: the province alone is not a code
    return "".join(parts)


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


# --- Names ----------------------------------------------------------------------------------------
#
# A person's name as on the resident ID card: Chinese characters, and for names of ethnic
# minorities the middle dot U+00B7 between their parts (阿卜杜拉·买买提). Nothing else: the
# real-name registry and the insurer compare the name character by character, so a name with a
# Latin letter, a digit, an emoji or an invisible character (U+200B, U+202E, U+FEFF…) can never
# be verified, and an invisible one would make two different names look the same on every page.
#
# The dots people type in place of U+00B7 (• U+2022, ・ U+30FB, ･ U+FF65, ‧ U+2027, ∙ U+2219,
# ⋅ U+22C5, ⸱ U+2E31, ． U+FF0E, "." U+002E) are normalised to it rather than refused: input methods
# and phones offer them beside (or instead of) U+00B7, and they can only mean that dot here.
# Whitespace inside a name is dropped (a Chinese name has none; "张 三" is 张三).

NAME_MIN_LENGTH = 2
NAME_MAX_LENGTH = 30
NAME_DOT = "\u00b7"
_NAME_DOT_VARIANTS = str.maketrans(
    dict.fromkeys("\u2022\u30fb\uff65\u2027\u2219\u22c5\u2e31\uff0e.", NAME_DOT)
)
# CJK Unified Ideographs, extensions A–I and the compatibility blocks: rare characters do appear in
# registered names (𠮷, 䶮).
_HAN_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x323AF),
)
# Unicode categories of characters nobody can see or that steer how text is shown: controls (Cc),
# format characters (Cf: U+200B, U+200D, U+202E, U+2066, U+FEFF…), surrogates (Cs), private use
# (Co), unassigned (Cn), line and paragraph separators (Zl, Zp).
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Variation selectors and the combining keycap: invisible parts of emoji, category Mn/Me.
_EMOJI_PARTS = frozenset(range(0xFE00, 0xFE10)) | frozenset(range(0xE0100, 0xE01F0)) | {0x20E3}
_EMOJI_PART = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef\u20e3]")


def is_invisible(ch: str) -> bool:
    """A control, format or other character that shows nothing (or reorders what is shown)."""
    return unicodedata.category(ch) in INVISIBLE_CATEGORIES or ord(ch) in _EMOJI_PARTS


def _is_han(ch: str) -> bool:
    code = ord(ch)
    return any(low <= code <= high for low, high in _HAN_RANGES)


def _is_symbol(ch: str) -> bool:
    """Emoji, pictographs and other symbols (categories So, Sk, Sm, Sc)."""
    return unicodedata.category(ch).startswith("S")


def normalise_person_name(value: str) -> str:
    """NFC, no whitespace, every dot variant as U+00B7 (see above); nothing refused here."""
    text = unicodedata.normalize("NFC", value or "")
    return "".join(text.split()).translate(_NAME_DOT_VARIANTS)


def person_name_problem(name: str) -> tuple[str, str] | None:
    """(code, Chinese message) of what is wrong with a normalised name, or None if it is valid.

    Invisible characters and emoji are named as such, so the person knows what to look for."""
    if not name:
        return "required", "请填写姓名"
    # Symbols first: an emoji often carries invisible parts (U+FE0F, U+200D) of its own.
    if any(_is_symbol(ch) for ch in name):
        return "name_symbol", "姓名不能包含表情符号或其他符号"
    if any(is_invisible(ch) for ch in name):
        return "name_invisible", "姓名含有控制字符或不可见字符（可能是复制时带入的），请重新输入"
    if not NAME_MIN_LENGTH <= len(name) <= NAME_MAX_LENGTH:
        return "name_length", f"姓名应为{NAME_MIN_LENGTH}至{NAME_MAX_LENGTH}个字"
    if any(ch != NAME_DOT and not _is_han(ch) for ch in name):
        return "name_chars", "姓名只能包含汉字和间隔号“·”，请与身份证上的姓名一致"
    if name.startswith(NAME_DOT) or name.endswith(NAME_DOT) or NAME_DOT * 2 in name:
        return "name_chars", "间隔号“·”只能出现在姓名中间且不能连续"
    return None


def validate_person_name(value: str, *, field: str = "name") -> str:
    """The name normalised (`normalise_person_name`), or ValidationFailed naming `field`."""
    name = normalise_person_name(value)
    problem = person_name_problem(name)
    if problem is not None:
        raise _fail(field, *problem)
    return name


# --- Free text ------------------------------------------------------------------------------------


def text_problem(value: str, *, max_length: int, multiline: bool = False) -> tuple[str, str] | None:
    """(code, Chinese message) of what is wrong with a free-text value (an address, an
    occupation…), or None: longer than `max_length` characters, or a control or invisible
    character (line breaks only where `multiline`). The caller prefixes the field's label."""
    if len(value) > max_length:
        return "too_long", f"不能超过{max_length}个字"
    if value.isprintable() and _EMOJI_PART.search(value) is None:
        # Fast path (10,000 payout memos of one flight): a printable string has no character of
        # an invisible category (`str.isprintable` refuses exactly Cc, Cf, Cs, Co, Cn and the
        # separators but the ASCII space); the emoji parts are printable, so looked for apart.
        return None
    allowed = {"\n", "\r", "\t"} if multiline else set()
    if any(is_invisible(ch) and ch not in allowed for ch in value):
        return "invisible_characters", "不能含有控制字符或不可见字符"
    return None
