"""Pure policy rules: numbers, terms and dates, retention, sums insured, delivery backoff,
acknowledgement freshness and NPS. No ORM, no I/O.

Dates: `effective_at` is an aware local datetime (usually local midnight). A term ends at
`expires_at`, exclusive — a one-year policy starting 2026-01-01 00:00 ends 2027-01-01 00:00,
printed "至2026年12月31日24时止".
"""

from __future__ import annotations

import calendar
import datetime
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from huibao.core.benefits import is_death_coverage
from huibao.core.money import to_fen

# --- policy numbers ---------------------------------------------------------------------------

PREFIX_LENGTH = 6
SEQUENCE_DIGITS = 8
_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _base36(value: int, width: int) -> str:
    digits = ""
    for _ in range(width):
        value, rest = divmod(value, 36)
        digits = _BASE36[rest] + digits
    return digits


def number_prefix_candidates(insurer_code: str, insurer_id: int) -> list[str]:
    """The insurer parts a policy number may use, best first: the code's first six letters and
    digits in upper case (`pingan-life` → `PINGAN`), then variants made unique by the insurer's
    id for when another insurer already holds that prefix (`PING` + id in base 36, `I` + id)."""
    base = re.sub(r"[^0-9A-Za-z]", "", insurer_code).upper()[:PREFIX_LENGTH] or "HB"
    candidates = [base, base[:4] + _base36(insurer_id, 2), base[:2] + _base36(insurer_id, 4)]
    candidates.append("I" + _base36(insurer_id, PREFIX_LENGTH - 1))
    return list(dict.fromkeys(c for c in candidates if c))


def format_number(prefix: str, year: int, sequence: int) -> str:
    """`<prefix><YYYY><8-digit sequence>`, e.g. ZHONGA202600000001. Numbers of one prefix and year
    have the same length, so two different prefixes can never give the same number."""
    if not 0 < sequence < 10**SEQUENCE_DIGITS:
        raise ValueError(f"policy sequence {sequence} out of range for {prefix}{year}")
    return f"{prefix}{year:04d}{sequence:0{SEQUENCE_DIGITS}d}"


# --- terms and dates --------------------------------------------------------------------------

TermKind = Literal["days", "months", "years", "to_age", "lifetime"]
WHOLE_LIFE_AGE = 100  # "to_age" at or above this is whole of life (保终身, written to_age 105)
WHOLE_LIFE_CODES = frozenset({"lifetime", "whole_life"})
DEFAULT_TERM_YEARS = 1


@dataclass(frozen=True, slots=True)
class Term:
    code: str
    label: str
    kind: TermKind
    value: int = 0

    @property
    def whole_life(self) -> bool:
        return self.kind == "lifetime"


def term_from_option(option: Mapping[str, Any]) -> Term:
    """One entry of `ProductVersion.term_options` ({"code", "label", "days"|"months"|"years"|
    "to_age"} or {"lifetime": true})."""
    code = str(option.get("code", ""))
    label = str(option.get("label") or code)
    to_age = option.get("to_age")
    if (
        option.get("lifetime")
        or code.lower() in WHOLE_LIFE_CODES
        or (to_age is not None and int(to_age) >= WHOLE_LIFE_AGE)
    ):
        return Term(code, label or "终身", "lifetime")
    for kind in ("days", "months", "years", "to_age"):
        if option.get(kind) is not None:
            return Term(code, label, kind, int(option[kind]))
    return Term(code, label or f"{DEFAULT_TERM_YEARS}年", "years", DEFAULT_TERM_YEARS)


def choose_term(options: Sequence[Mapping[str, Any]], code: str | None) -> Term:
    """The option the quote chose (by code), else the version's first, else one year."""
    for option in options:
        if code is not None and str(option.get("code")) == str(code):
            return term_from_option(option)
    if options:
        return term_from_option(options[0])
    return Term("1y", f"{DEFAULT_TERM_YEARS}年", "years", DEFAULT_TERM_YEARS)


def add_months(value: datetime.datetime, months: int) -> datetime.datetime:
    """Same day and time `months` later; the 31st becomes the month's last day (Jan 31 + 1 → Feb 28)."""
    index = value.month - 1 + months
    year, month = value.year + index // 12, index % 12 + 1
    day = min(value.day, calendar.monthrange(year, month)[1])
    return value.replace(year=year, month=month, day=day)


def add_years(value: datetime.datetime, years: int) -> datetime.datetime:
    return add_months(value, 12 * years)


def birthday(birth: datetime.date, age: int) -> datetime.date:
    """The day a person born on `birth` reaches `age` (Feb 29 → Feb 28 in common years)."""
    year = birth.year + age
    return birth.replace(year=year, day=min(birth.day, calendar.monthrange(year, birth.month)[1]))


def premium_years(
    term: Term,
    effective_at: datetime.datetime,
    expires_at: datetime.datetime | None,
    pay_years: int | None = None,
) -> int:
    """The premium term (缴费期间) in policy years: the `pay_years` the quote chose (a whole-life
    product's 交费期间; 1 is 趸交), else every policy year of a term counted in years or to an
    age (a level-premium term life pays throughout), else one year (cover of days or months, or
    a lifetime term whose product states no premium term)."""
    if pay_years is not None and pay_years >= 1:
        return pay_years
    if term.kind in ("years", "to_age") and expires_at is not None:
        years = 1
        while add_years(effective_at, years) < expires_at:
            years += 1
        return years
    return 1


def contract_end(
    term: Term, effective_at: datetime.datetime, insured_birth: datetime.date | None
) -> datetime.datetime | None:
    """When cover ends (exclusive); None for whole of life.

    `to_age` N ends on the first policy anniversary on or after the insured's N-th birthday
    (保至N周岁后的首个保单周年日), never earlier than one year after the start.
    """
    if term.kind == "lifetime":
        return None
    if term.kind == "days":
        return effective_at + datetime.timedelta(days=term.value)
    if term.kind == "months":
        return add_months(effective_at, term.value)
    if term.kind == "years":
        return add_years(effective_at, term.value)
    if insured_birth is None:
        raise ValueError("a to_age term needs the insured's birth date")
    target = birthday(insured_birth, term.value)
    years = max(1, target.year - effective_at.year)
    end = add_years(effective_at, years)
    while end.date() < target:
        years += 1
        end = add_years(effective_at, years)
    return end


def is_short_term(effective_at: datetime.datetime, expires_at: datetime.datetime | None) -> bool:
    """A term of one year or less (短期险)."""
    return expires_at is not None and expires_at <= add_years(effective_at, 1)


SHORT_TERM_RETENTION_YEARS = 5
LONG_TERM_RETENTION_YEARS = 10
WHOLE_LIFE_END_AGE = 105  # a whole-life contract is taken to end when the insured would be 105
WHOLE_LIFE_FALLBACK_YEARS = 105  # …or 105 years after the start when no birth date is known


def retention_until(
    effective_at: datetime.datetime,
    expires_at: datetime.datetime | None,
    insured_birth: datetime.date | None,
) -> datetime.date:
    """How long the policy records are kept: the contract's end plus 5 years for a term of one
    year or less, plus 10 years otherwise. A whole-life contract is taken to end on the insured's
    105th birthday (or 105 years after the start without a birth date), then 10 years."""
    if expires_at is None:
        end = (
            birthday(insured_birth, WHOLE_LIFE_END_AGE)
            if insured_birth is not None
            else add_years(effective_at, WHOLE_LIFE_FALLBACK_YEARS).date()
        )
        return birthday(end, LONG_TERM_RETENTION_YEARS)
    years = (
        SHORT_TERM_RETENTION_YEARS if is_short_term(effective_at, expires_at) else LONG_TERM_RETENTION_YEARS
    )
    return birthday(expires_at.date(), years)


def cooling_off_until(issued_on: datetime.date, days: int) -> datetime.date | None:
    """Last day of the cooling-off period (犹豫期), counted from the day of issue; None if none."""
    return issued_on + datetime.timedelta(days=days) if days > 0 else None


def _period_end(expires_at: datetime.datetime) -> tuple[datetime.date, str]:
    """The last day of cover and the hour it ends on that day: a policy ending at 00:00 ends at
    "24:00" of the day before (how policies print their period), otherwise at its own time."""
    if expires_at.hour == expires_at.minute == expires_at.second == 0:
        return (expires_at - datetime.timedelta(days=1)).date(), "24:00"
    return expires_at.date(), f"{expires_at:%H:%M}"


def period_text(effective_at: datetime.datetime, expires_at: datetime.datetime | None) -> str:
    """保险期间 as printed: "2026年01月01日0时起至2026年12月31日24时止" (times in local time).
    Memoised: a bulk call's policies mostly share their dates. Aware times of one instant in two
    offsets are equal (and hash alike) but print differently, so the offsets are in the key."""
    return _period_text(
        effective_at,
        effective_at.utcoffset(),
        expires_at,
        expires_at.utcoffset() if expires_at is not None else None,
    )


@functools.lru_cache(maxsize=1024)
def _period_text(
    effective_at: datetime.datetime,
    _effective_offset: datetime.timedelta | None,
    expires_at: datetime.datetime | None,
    _expires_offset: datetime.timedelta | None,
) -> str:

    def start(value: datetime.datetime) -> str:
        if value.hour == value.minute == value.second == 0:
            return f"{value:%Y年%m月%d日}0时"
        return f"{value:%Y年%m月%d日%H时%M分}"

    if expires_at is None:
        return f"{start(effective_at)}起，终身"
    day, hour = _period_end(expires_at)
    end = f"{day:%Y年%m月%d日}24时" if hour == "24:00" else f"{day:%Y年%m月%d日}{expires_at:%H时%M分}"
    return f"{start(effective_at)}起至{end}止"


def period_bounds(effective_at: datetime.datetime, expires_at: datetime.datetime | None) -> tuple[str, str]:
    """The same period for a line of a list: ("2026-01-01 00:00", "2026-12-31 24:00") in local times,
    the end "" for life cover. The end is computed as `period_text` computes it, so "my policies"
    and the policy page never disagree."""
    start = f"{effective_at:%Y-%m-%d %H:%M}"
    if expires_at is None:
        return start, ""
    day, hour = _period_end(expires_at)
    return start, f"{day:%Y-%m-%d} {hour}"


# --- sums insured -------------------------------------------------------------------------------


def scaled_sum(amount: Decimal, plan_max: Decimal, chosen: Decimal | None) -> Decimal:
    """A coverage's sum insured for the sum the customer chose. A plan's coverages carry the
    amounts at the plan's maximum; a chosen lower sum scales them in proportion (中症 60% of
    the basic sum stays 60%). Fixed plans, or no choice, keep the amounts as written."""
    if chosen is None or plan_max <= 0 or chosen == plan_max:
        return to_fen(amount)
    return to_fen(amount * chosen / plan_max)


def death_benefit(coverages: Iterable[tuple[str, str, Decimal]]) -> Decimal:
    """The sum of the (already scaled) sums insured of the death coverages (code says `death`, or
    the name says 身故; third-party liability excepted — see `core.benefits`)."""
    total = Decimal(0)
    for code, name, amount in coverages:
        if amount > 0 and is_death_coverage(code, name):
            total += amount
    return to_fen(total)


# --- insurer delivery ---------------------------------------------------------------------------

DEFAULT_MAX_ATTEMPTS = 8
FIRST_RETRY_DELAY = datetime.timedelta(minutes=1)
MAX_RETRY_DELAY = datetime.timedelta(hours=6)
# A sent policy not acknowledged within this time is sent again (insurers de-duplicate by number).
ACK_TIMEOUT = datetime.timedelta(minutes=30)
ACK_MAX_AGE = datetime.timedelta(minutes=5)
# Schedule of the sandbox insurer's acknowledgement callbacks (until the platform answers success).
ACK_RETRY_DELAYS = tuple(datetime.timedelta(seconds=s) for s in (15, 30, 60, 300, 900, 1800, 3600))


def retry_delay(attempts: int) -> datetime.timedelta:
    """Exponential backoff after `attempts` failed attempts: 1, 2, 4 … minutes, at most 6 hours."""
    if attempts < 1:
        return datetime.timedelta(0)
    return min(FIRST_RETRY_DELAY * 2 ** (attempts - 1), MAX_RETRY_DELAY)


def ack_retry_delay(attempts: int) -> datetime.timedelta | None:
    if attempts < 1 or attempts > len(ACK_RETRY_DELAYS):
        return None
    return ACK_RETRY_DELAYS[attempts - 1]


def is_stale(
    sent_at: datetime.datetime, now: datetime.datetime, max_age: datetime.timedelta = ACK_MAX_AGE
) -> bool:
    return abs(now - sent_at) > max_age


# --- NPS ------------------------------------------------------------------------------------------

NPS_MIN, NPS_MAX = 0, 10
PROMOTER_MIN = 9
DETRACTOR_MAX = 6
NPS_COMMENT_MAX = 500


def nps_category(score: int) -> Literal["promoter", "passive", "detractor"]:
    if score >= PROMOTER_MIN:
        return "promoter"
    return "detractor" if score <= DETRACTOR_MAX else "passive"


@dataclass(frozen=True, slots=True)
class NpsSummary:
    label: str
    responses: int
    promoters_pct: Decimal
    passives_pct: Decimal
    detractors_pct: Decimal
    nps: Decimal  # % promoters − % detractors, −100 … 100


def _pct(part: int, whole: int) -> Decimal:
    return (Decimal(100) * part / whole).quantize(Decimal("0.1")) if whole else Decimal(0)


def nps_summary(label: str, responses: int, promoters: int, detractors: int) -> NpsSummary:
    """Shares rounded to 0.1 point; NPS (% promoters − % detractors) computed exactly, then
    rounded (2 promoters and 1 detractor of 3 is 33.3, not 66.7 − 33.3 = 33.4)."""
    passives = responses - promoters - detractors
    promoters_pct, detractors_pct = _pct(promoters, responses), _pct(detractors, responses)
    return NpsSummary(
        label=label,
        responses=responses,
        promoters_pct=promoters_pct,
        passives_pct=_pct(passives, responses),
        detractors_pct=detractors_pct,
        nps=_pct(promoters - detractors, responses),
    )
