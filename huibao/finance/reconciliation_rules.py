"""Reconciliation (对账), the pure part: reading a statement's cells and classifying a line pair.

No Django, no I/O. `services` (`finance/reconciliation.py`) streams a file's rows through
`header_columns` and `parse_row`, stages the good ones and collects the bad ones by line; the
matching itself runs set-based in SQL, and `category` here is the same rule for one pair (used by
the tests and by anything that classifies a single line by hand).

What is an import error (the whole file refused, nothing staged) and what is a difference (the
file imported, the line shown for finance to resolve):

- errors: a mapped column missing from the header (named), an empty policy number, an amount or
  date that does not parse, a date outside the statement's period, the same policy and event
  twice (both lines named);
- differences: a policy number we never issued (or not with this insurer) is "only on theirs";
  a policy we have that the file does not list is "only on ours"; amounts that differ by more
  than the tolerance are "amount differs".
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

# The statement's fields and whether a mapping must name a column for them.
FIELDS: tuple[tuple[str, bool], ...] = (
    ("policy_number", True),
    ("premium", False),
    ("commission", True),
    ("date", True),
    ("event", False),
)
FIELD_LABELS = {
    "policy_number": "保单号",
    "premium": "保费",
    "commission": "手续费/佣金",
    "date": "日期",
    "event": "业务类型",
}
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日", "%Y.%m.%d")
MAX_AMOUNT = Decimal("999999999999.99")


class Category(StrEnum):
    MATCHED = "matched"
    AMOUNT_DIFFERS = "amount_differs"
    OURS_ONLY = "ours_only"
    THEIRS_ONLY = "theirs_only"


@dataclass(frozen=True, slots=True)
class LineError:
    line: int  # the line (row) number in the file, 1-based as a spreadsheet shows it
    field: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class ParsedLine:
    line: int
    policy_number: str
    premium: Decimal
    commission: Decimal
    occurred_on: datetime.date
    event: str


class MappingProblem(ValueError):
    def __init__(self, errors: list[LineError]):
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


def _clean(text: object) -> str:
    if text is None:
        return ""
    return str(text).replace("\u3000", " ").strip()


def header_columns(header: Sequence[object], columns: Mapping[str, str], *, line: int) -> dict[str, int]:
    """The index of each mapped field's column in the header row. Raises `MappingProblem`
    naming every required field left unmapped and every mapped column the header lacks."""
    names = [_clean(cell) for cell in header]
    found: dict[str, int] = {}
    errors: list[LineError] = []
    for field, required in FIELDS:
        wanted = _clean(columns.get(field, ""))
        if not wanted:
            if required:
                errors.append(
                    LineError(line, field, "unmapped", f"列映射未指定「{FIELD_LABELS[field]}」所在的列")
                )
            continue
        if wanted not in names:
            errors.append(
                LineError(
                    line,
                    field,
                    "missing_column",
                    f"第{line}行表头缺少列「{wanted}」（{FIELD_LABELS[field]}）",
                )
            )
            continue
        found[field] = names.index(wanted)
    if errors:
        raise MappingProblem(errors)
    return found


_AMOUNT = re.compile(r"^[+-]?\d+(\.\d{1,2})?$")
_PLAIN = re.compile(r"-?\d{1,12}(\.\d{1,2})?\Z")  # within MAX_AMOUNT by its digits
_FEN = Decimal("0.01")


def parse_amount(value: object) -> Decimal:
    """A statement's amount: `1234.5`, `1,234.50`, `¥1,234.50`, `￥-12.00`, `(12.00)` (negative),
    `12.00-`; a spreadsheet number as it comes. Blank is zero. More than two decimals is refused
    (a statement in fen precision that is not is a wrong file, not a rounding to make)."""
    if type(value) is str:  # the common case first ("1,234.50", "-12.00"): millions of lines
        plain = value.strip().replace(",", "")
        if _PLAIN.match(plain):
            amount = Decimal(plain)
            return amount if plain[-3:-2] == "." else amount.quantize(_FEN)
    if isinstance(value, bool):
        raise ValueError("not an amount")
    if isinstance(value, int):
        return Decimal(value).quantize(Decimal("0.01"))
    if isinstance(value, float):
        # openpyxl gives floats for numeric cells: their shortest repr is what the sender typed.
        value = repr(value)
    if isinstance(value, Decimal):
        value = str(value)
    text = _clean(value)
    if not text:
        return Decimal("0.00")
    negative = False
    if (text[:1], text[-1:]) in (("(", ")"), ("（", "）")):
        negative, text = True, text[1:-1].strip()
    text = text.replace("¥", "").replace("￥", "").replace("元", "").replace("RMB", "").strip()
    if text.endswith("-") and not text.startswith("-"):
        negative, text = True, text[:-1].strip()
    text = text.replace(",", "").replace("，", "").replace(" ", "")
    if re.fullmatch(r"[+-]?\d+\.\d+[eE][+-]?\d+", text):
        try:
            text = format(Decimal(text), "f")
        except InvalidOperation as exc:
            raise ValueError("not an amount") from exc
    if not _AMOUNT.match(text):
        raise ValueError("not an amount")
    amount = Decimal(text)
    if negative:
        if amount < 0:
            raise ValueError("negative twice")
        amount = -amount
    if abs(amount) > MAX_AMOUNT:
        raise ValueError("too large")
    return amount.quantize(Decimal("0.01"))


def parse_date(value: object, date_format: str = "") -> datetime.date:
    if type(value) is str and not date_format and len(value) == 10 and value[4] == "-":
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = _clean(value)
    if " " in text:  # "2026-11-03 10:12:00"
        text = text.split(" ", 1)[0]
    if not date_format and len(text) == 10 and text[4] == "-":
        try:
            return datetime.date.fromisoformat(text)  # the common case, ten times faster than strptime
        except ValueError:
            pass
    formats = (date_format,) if date_format else DATE_FORMATS
    for fmt in formats:
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError("not a date")


# A staged line as COPY writes it: line number, policy number, premium, commission, date, event.
# The amounts and the date are either parsed values or, from `plain_cells`, their exact text.
StagedCells = tuple[int, str, "Decimal | str", "Decimal | str", "datetime.date | str", str]


def period_days(period: tuple[datetime.date, datetime.date]) -> frozenset[str]:
    """Every day of the period as ISO text (`plain_cells` matches a date cell against it)."""
    days, day = [], period[0]
    while day <= period[1]:
        days.append(day.isoformat())
        day += datetime.timedelta(days=1)
    return frozenset(days)


def plain_cells(
    row: Sequence[object], index: tuple[int, int, int, int, int], days: frozenset[str], line: int
) -> StagedCells | None:
    """The fast path of `parse_row` for the rows nearly every statement is made of — text cells,
    a plain policy number, amounts as `1234.50` / `-12.00` / `1,234.50`, an ISO date inside the
    period — as the exact text the database casts (no Decimal or date made per line). None for
    any other row, which `parse_row` then judges (same result either way, faster here)."""
    i_number, i_premium, i_commission, i_date, i_event = index  # -1: the column is not mapped
    if len(row) <= max(i_number, i_premium, i_commission, i_date):
        return None
    number, commission, date = row[i_number], row[i_commission], row[i_date]
    premium = row[i_premium] if i_premium >= 0 else "0"
    if type(number) is not str or type(premium) is not str or type(commission) is not str:
        return None
    if date not in days:
        return None
    number = number.strip()
    if not number or len(number) > 40 or "\u3000" in number:
        return None
    premium = premium.strip().replace(",", "")
    commission = commission.strip().replace(",", "")
    if not _PLAIN.match(premium) or not _PLAIN.match(commission):
        return None
    event = row[i_event] if 0 <= i_event < len(row) else ""
    if type(event) is not str:
        return None
    return line, number, premium, commission, date, event.replace("\u3000", " ").strip()[:24]


def parse_row(
    row: Sequence[object],
    columns: Mapping[str, int],
    *,
    line: int,
    period: tuple[datetime.date, datetime.date],
    date_format: str = "",
) -> ParsedLine | list[LineError]:
    """One data row: the parsed line, or every problem it has (each naming the field).
    Written for millions of rows: no work beyond the cells mapped."""
    width = len(row)

    def cell(field: str) -> object:
        index = columns.get(field)
        return row[index] if index is not None and index < width else None

    number = _clean(cell("policy_number"))
    raw_premium, raw_commission, raw_date = cell("premium"), cell("commission"), cell("date")
    try:
        premium: Decimal | None = parse_amount(raw_premium)
    except ValueError:
        premium = None
    try:
        commission: Decimal | None = parse_amount(raw_commission)
    except ValueError:
        commission = None
    try:
        occurred_on: datetime.date | None = parse_date(raw_date, date_format)
    except ValueError:
        occurred_on = None
    if (
        number
        and len(number) <= 40
        and premium is not None
        and commission is not None
        and occurred_on is not None
        and period[0] <= occurred_on <= period[1]
    ):
        return ParsedLine(line, number, premium, commission, occurred_on, _clean(cell("event"))[:24])
    errors: list[LineError] = []
    if not number:
        errors.append(LineError(line, "policy_number", "required", f"第{line}行：保单号为空"))
    elif len(number) > 40:
        errors.append(LineError(line, "policy_number", "too_long", f"第{line}行：保单号超过40个字符"))
    for field, raw, value in (("premium", raw_premium, premium), ("commission", raw_commission, commission)):
        if value is None:
            errors.append(
                LineError(
                    line,
                    field,
                    "invalid_amount",
                    f"第{line}行：{FIELD_LABELS[field]}「{_clean(raw)}」不是有效金额"
                    "（如 1,234.50、¥1,234.50、(12.00)）",
                )
            )
    if occurred_on is None:
        errors.append(
            LineError(line, "date", "invalid_date", f"第{line}行：日期「{_clean(raw_date)}」无法识别")
        )
    elif not (period[0] <= occurred_on <= period[1]):
        errors.append(
            LineError(
                line,
                "date",
                "out_of_period",
                f"第{line}行：日期 {occurred_on:%Y-%m-%d} 不在对账期间"
                f" {period[0]:%Y-%m-%d} 至 {period[1]:%Y-%m-%d} 内",
            )
        )
    return errors


def duplicate_error(line: int, first_line: int, policy_number: str, event: str) -> LineError:
    what = f"保单 {policy_number}" + (f"（{event}）" if event else "")
    return LineError(line, "policy_number", "duplicate", f"第{line}行：{what}与第{first_line}行重复")


def category(
    ours: tuple[Decimal, Decimal] | None,
    theirs: tuple[Decimal, Decimal] | None,
    *,
    tolerance: Decimal = Decimal("0.00"),
    compare_premium: bool = True,
) -> Category:
    """(premium, commission) on each side, None when a side has no line for the policy."""
    if ours is None and theirs is None:
        raise ValueError("a pair needs at least one side")
    if theirs is None:
        return Category.OURS_ONLY
    if ours is None:
        return Category.THEIRS_ONLY
    premium_ok = not compare_premium or abs(ours[0] - theirs[0]) <= tolerance
    commission_ok = abs(ours[1] - theirs[1]) <= tolerance
    return Category.MATCHED if premium_ok and commission_ok else Category.AMOUNT_DIFFERS


def month_period(year: int, month: int) -> tuple[datetime.date, datetime.date]:
    first = datetime.date(year, month, 1)
    following = datetime.date(year + (month == 12), month % 12 + 1, 1)
    return first, following - datetime.timedelta(days=1)


def parse_month(text: str) -> tuple[datetime.date, datetime.date]:
    """`2026-11` → the first and last day of November 2026."""
    match = re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", text or "")
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise ValueError("not a month")
    return month_period(int(match.group(1)), int(match.group(2)))
