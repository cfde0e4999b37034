"""Event-triggered payouts, the pure part: trigger keys, which coverage an event pays and with
what loss, the signature of a feed's delivery, and the reading of one imported row.

No ORM, no I/O. `triggers.py` (the use-cases) calls these; the benefit amount itself comes from
`claim.rules.calculate_benefit` (through the ledger), so the annual limits hold here too.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from huibao.catalog.claim_terms import BenefitKind, ClaimTerms, ClaimType, CoverageTerms
from huibao.claim.rules import Loss
from huibao.core.errors import FieldError

FLIGHT = "flight_delay"
RETURN = "return_shipping"
SCREEN = "screen_repair"
DELAYED, CANCELLED, ON_TIME, RETURNED, REPAIRED = "delayed", "cancelled", "on_time", "returned", "repaired"
FLIGHT_STATUSES = (DELAYED, CANCELLED, ON_TIME)
FLIGHT_NUMBER = re.compile(r"^[A-Z0-9]{2}[0-9]{1,4}$")
ORDER_NUMBER = re.compile(r"^[0-9A-Za-z-]{6,32}$")
IMEI = re.compile(r"^[0-9]{15}$")
MAX_REPAIR_AMOUNT = Decimal("100000")
EVENT_ID = re.compile(r"^[0-9A-Za-z._:-]{1,64}$")
# A signed delivery is accepted within this many seconds of its timestamp (either way).
SIGNATURE_WINDOW = datetime.timedelta(minutes=5)
MAX_DELAY_MINUTES = 7 * 24 * 60


def flight_key(flight_number: str, departure: datetime.date) -> str:
    """The key of a flight on its scheduled departure date (local date, Asia/Shanghai)."""
    return f"FL:{flight_number.strip().upper()}:{departure.isoformat()}"


def order_key(order_number: str) -> str:
    return f"RS:{order_number.strip()}"


def screen_key(imei: str) -> str:
    """A phone's screen (碎屏险): one repair benefit per policy and device."""
    return f"SC:{imei.strip()}"


@dataclass(frozen=True, slots=True)
class EventFact:
    """What one event reports: a flight's status on its date, an order returned, or a phone's
    screen repaired (by its IMEI, at a cost)."""

    kind: str  # FLIGHT | RETURN | SCREEN
    status: str  # DELAYED | CANCELLED | ON_TIME | RETURNED | REPAIRED
    flight_number: str = ""
    flight_date: datetime.date | None = None
    delay_minutes: int = 0
    order_number: str = ""
    returned_at: datetime.datetime | None = None
    imei: str = ""
    repaired_at: datetime.datetime | None = None
    repair_amount: Decimal | None = None

    @property
    def key(self) -> str:
        if self.kind == FLIGHT:
            assert self.flight_date is not None
            return flight_key(self.flight_number, self.flight_date)
        if self.kind == SCREEN:
            return screen_key(self.imei)
        return order_key(self.order_number)

    @property
    def occurred_at(self) -> datetime.datetime | None:
        return self.returned_at or self.repaired_at

    @property
    def delay_hours(self) -> Decimal:
        return (Decimal(self.delay_minutes) / 60).quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class TriggerDecision:
    """What an event means for one policy: the coverage it pays under and the loss to compute the
    benefit of, or why it pays nothing (`refusal`, Chinese)."""

    coverage: CoverageTerms | None
    loss: Loss | None
    line: str  # the customer's timeline line
    refusal: str = ""


def _delay_coverage(terms: ClaimTerms) -> CoverageTerms | None:
    covers = [c for c in terms.coverages_of(ClaimType.TRAVEL_DELAY) if "cancel" not in c.code]
    # Hour bands (pay by the actual delay) first, then a fixed delay benefit.
    covers.sort(key=lambda c: 0 if c.benefit_kind is BenefitKind.HOURLY_BANDS else 1)
    return covers[0] if covers else None


def _cancel_coverage(terms: ClaimTerms) -> CoverageTerms | None:
    covers = [c for c in terms.coverages_of(ClaimType.TRAVEL_DELAY) if "cancel" in c.code]
    return covers[0] if covers else None


def _hours_text(hours: Decimal) -> str:
    text = f"{hours.normalize():f}"
    return text


def decide(terms: ClaimTerms, plan_code: str, fact: EventFact) -> TriggerDecision:
    """Whether `fact` pays a policy of `terms` (its plan `plan_code`), under which coverage."""
    trigger = terms.trigger
    if trigger is None or trigger.kind != fact.kind:
        return TriggerDecision(None, None, "", refusal="该保单的产品不按此类事件自动赔付")
    if fact.kind == SCREEN:
        cover = next(iter(terms.coverages_of(ClaimType.PHONE_SCREEN)), None)
        if fact.status != REPAIRED or cover is None or fact.repair_amount is None:
            return TriggerDecision(None, None, "", refusal="该保单没有碎屏保障")
        return TriggerDecision(
            cover, Loss(amount_claimed=fact.repair_amount), "手机屏幕已维修，碎屏险已自动赔付"
        )
    if fact.kind == RETURN:
        cover = next(iter(terms.coverages_of(ClaimType.RETURN_SHIPPING)), None)
        if fact.status != RETURNED or cover is None:
            return TriggerDecision(None, None, "", refusal="该保单没有退货运费保障")
        loss = Loss(amount_claimed=cover.fixed_amount or cover.sum_insured)
        return TriggerDecision(cover, loss, "退货已完成，运费险已自动赔付")
    if fact.status == CANCELLED:
        if not trigger.pays_on_cancellation:
            return TriggerDecision(None, None, "", refusal="本产品航班取消不予赔付")
        cover = _cancel_coverage(terms) or _delay_coverage(terms)
        if cover is None:
            return TriggerDecision(None, None, "", refusal="该保单没有航班取消保障")
        amount = cover.fixed_amount or cover.sum_insured
        # An hour-band cover paying a cancellation pays its highest band.
        hours = Decimal(max((b.hours for b in cover.hour_bands), default=0))
        return TriggerDecision(
            cover,
            Loss(amount_claimed=amount, delay_hours=hours),
            f"航班 {fact.flight_number} 取消，已自动赔付",
        )
    threshold = trigger.delay_hours_for(plan_code)
    hours = fact.delay_hours
    if fact.status != DELAYED or hours < threshold:
        return TriggerDecision(
            None, None, "", refusal=f"延误 {_hours_text(hours)} 小时，未达到 {threshold} 小时的赔付标准"
        )
    cover = _delay_coverage(terms)
    if cover is None:
        return TriggerDecision(None, None, "", refusal="该保单没有航班延误保障")
    loss = Loss(amount_claimed=cover.fixed_amount or cover.sum_insured, delay_hours=hours)
    return TriggerDecision(cover, loss, f"航班延误 {_hours_text(hours)} 小时，已自动赔付")


# --- signed deliveries --------------------------------------------------------------------------


def signing_payload(timestamp: str, nonce: str, body: bytes) -> bytes:
    return timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body


def sign(key: bytes, timestamp: str, nonce: str, body: bytes) -> str:
    """HMAC-SHA256 over `timestamp \\n nonce \\n body`, as lowercase hex."""
    return hmac.new(key, signing_payload(timestamp, nonce, body), hashlib.sha256).hexdigest()


def signature_problem(
    key: bytes, timestamp: str, nonce: str, body: bytes, signature: str, *, now: datetime.datetime
) -> FieldError | None:
    """What is wrong with a delivery's signature headers, or None when it verifies and is fresh.
    The nonce's novelty is the caller's to check (it needs the store)."""
    if not timestamp or not nonce or not signature:
        missing = "timestamp" if not timestamp else "nonce" if not nonce else "signature"
        return FieldError(missing, "required", f"缺少签名头：{missing}")
    if not EVENT_ID.match(nonce):
        return FieldError("nonce", "invalid", "nonce 格式无效（1–64 位字母、数字或 ._:-）")
    try:
        sent = datetime.datetime.fromtimestamp(int(timestamp), tz=datetime.UTC)
    except (ValueError, OverflowError, OSError):
        return FieldError("timestamp", "invalid", "timestamp 须为 Unix 秒数")
    if abs(now - sent) > SIGNATURE_WINDOW:
        return FieldError("timestamp", "stale", "timestamp 超出 5 分钟有效期，请求已过期或为重放")
    if not hmac.compare_digest(sign(key, timestamp, nonce, body), signature.strip().lower()):
        return FieldError("signature", "bad_signature", "签名校验失败")
    return None


# --- one event, from a JSON object or a file row ------------------------------------------------


def payload_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _text(row: Mapping[str, object], name: str) -> str:
    value = row.get(name)
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_event(row: Mapping[str, object], kind: str) -> tuple[str, EventFact | None, list[FieldError]]:
    """The event id and fact of one event (a JSON object or an imported row), or the problems,
    each naming its field in Chinese. `kind` is FLIGHT or RETURN."""
    errors: list[FieldError] = []
    event_id = _text(row, "event_id")
    if not EVENT_ID.match(event_id):
        errors.append(FieldError("event_id", "invalid", "event_id：必填，1–64 位字母、数字或 ._:-"))
    if kind == FLIGHT:
        number = _text(row, "flight_number").upper()
        if not FLIGHT_NUMBER.match(number):
            errors.append(
                FieldError("flight_number", "invalid", "flight_number：航班号格式无效（如 MU5101）")
            )
        day: datetime.date | None = None
        try:
            day = datetime.date.fromisoformat(_text(row, "flight_date")[:10])
        except ValueError:
            errors.append(FieldError("flight_date", "invalid", "flight_date：须为计划起飞日期 YYYY-MM-DD"))
        status = _text(row, "status").lower()
        if status not in FLIGHT_STATUSES:
            errors.append(FieldError("status", "invalid", "status：须为 delayed、cancelled 或 on_time"))
        minutes = 0
        raw = _text(row, "delay_minutes") or "0"
        try:
            minutes = int(raw)
            if not 0 <= minutes <= MAX_DELAY_MINUTES:
                raise ValueError(raw)
        except ValueError:
            errors.append(
                FieldError(
                    "delay_minutes", "invalid", f"delay_minutes：须为 0–{MAX_DELAY_MINUTES} 的整数分钟"
                )
            )
        if status == DELAYED and minutes == 0 and not errors:
            errors.append(FieldError("delay_minutes", "required", "delay_minutes：延误事件须给出延误分钟数"))
        if errors:
            return event_id, None, errors
        return (
            event_id,
            EventFact(FLIGHT, status, flight_number=number, flight_date=day, delay_minutes=minutes),
            [],
        )
    if kind == SCREEN:
        return _read_screen(row, event_id, errors)
    order = _text(row, "order_number")
    if not ORDER_NUMBER.match(order):
        errors.append(
            FieldError("order_number", "invalid", "order_number：订单号格式无效（6–32 位字母、数字或 -）")
        )
    when: datetime.datetime | None = None
    try:
        when = datetime.datetime.fromisoformat(_text(row, "returned_at"))
        if when.tzinfo is None:
            raise ValueError("naive")
    except ValueError:
        errors.append(FieldError("returned_at", "invalid", "returned_at：须为带时区的 ISO 8601 时间"))
    if errors:
        return event_id, None, errors
    return event_id, EventFact(RETURN, RETURNED, order_number=order, returned_at=when), []


def _aware(row: Mapping[str, object], name: str, errors: list[FieldError]) -> datetime.datetime | None:
    try:
        when = datetime.datetime.fromisoformat(_text(row, name))
        if when.tzinfo is None:
            raise ValueError("naive")
    except ValueError:
        errors.append(FieldError(name, "invalid", f"{name}：须为带时区的 ISO 8601 时间"))
        return None
    return when


def _read_screen(
    row: Mapping[str, object], event_id: str, errors: list[FieldError]
) -> tuple[str, EventFact | None, list[FieldError]]:
    """A repair shop's report: the phone (IMEI), when its screen was repaired and what it cost."""
    imei = _text(row, "imei")
    if not IMEI.match(imei):
        errors.append(FieldError("imei", "invalid", "imei：须为 15 位数字"))
    when = _aware(row, "repaired_at", errors)
    amount: Decimal | None = None
    try:
        amount = Decimal(_text(row, "repair_amount"))
        if (
            not amount.is_finite()
            or not 0 < amount <= MAX_REPAIR_AMOUNT
            or amount != amount.quantize(Decimal("0.01"))
        ):
            raise ArithmeticError(amount)
    except (ArithmeticError, ValueError):
        errors.append(
            FieldError(
                "repair_amount", "invalid", f"repair_amount：须为 0.01–{MAX_REPAIR_AMOUNT} 元，最多两位小数"
            )
        )
    if errors:
        return event_id, None, errors
    return (
        event_id,
        EventFact(SCREEN, REPAIRED, imei=imei, repaired_at=when, repair_amount=amount),
        [],
    )
