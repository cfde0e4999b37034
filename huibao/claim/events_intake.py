"""The two ways events arrive: a signed JSON delivery from a feed, and a file (CSV or Excel)
imported by staff or by `manage.py import_events`. Both end in `triggers.receive_event`.

A delivery is signed with HMAC-SHA256 over `timestamp \\n nonce \\n body` with the source's key
(headers `Huibao-Event-Timestamp`, `Huibao-Event-Nonce`, `Huibao-Event-Signature`); one older or
newer than 5 minutes is refused, and so is a nonce the source used before (the nonce is stored
in the transaction that processes the event: a delivery that failed may be sent again).
"""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from huibao.claim.event_models import EventChannel, EventNonce
from huibao.claim.events_port import source_key
from huibao.claim.triggers import Receipt, receive_event
from huibao.claim.triggers_rules import FLIGHT, RETURN, SCREEN, payload_digest, read_event, signature_problem
from huibao.core.errors import Conflict, DomainError, FieldError, ValidationFailed

HEADER_TIMESTAMP = "Huibao-Event-Timestamp"
HEADER_NONCE = "Huibao-Event-Nonce"
HEADER_SIGNATURE = "Huibao-Event-Signature"
KINDS = {"flight": FLIGHT, "return": RETURN, "screen": SCREEN}
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000


class SignatureRefused(DomainError):
    code = "bad_signature"
    http_status = 401


class Replayed(Conflict):
    code = "replayed"


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = name.lower()
    return next((str(v) for k, v in headers.items() if k.lower() == lowered), "")


def receive_delivery(
    source: str, kind: str, headers: Mapping[str, str], body: bytes, *, now: datetime.datetime | None = None
) -> Receipt:
    """One signed delivery of one event (`kind`: flight | return)."""
    now = now or timezone.now()
    if kind not in KINDS:
        raise ValidationFailed(
            "未知的事件类型", errors=[FieldError("kind", "invalid", "kind：须为 flight、return 或 screen")]
        )
    key = source_key(source)
    if key is None:
        raise SignatureRefused(
            f"未知的事件来源 {source}",
            errors=[FieldError("source", "unknown", "source：未配置该事件来源的密钥")],
        )
    timestamp, nonce = _header(headers, HEADER_TIMESTAMP), _header(headers, HEADER_NONCE)
    problem = signature_problem(key, timestamp, nonce, body, _header(headers, HEADER_SIGNATURE), now=now)
    if problem is not None:
        raise SignatureRefused(problem.message, code=problem.code, errors=[problem])
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except ValueError:
        raise ValidationFailed(
            "请求体须为 JSON 对象", errors=[FieldError("body", "malformed", "body：须为一个 JSON 对象")]
        ) from None
    event_id, fact, errors = read_event(data, KINDS[kind])
    if fact is None:
        raise ValidationFailed("事件内容有误：" + "；".join(e.message for e in errors), errors=errors)
    with transaction.atomic():
        try:
            with transaction.atomic():
                EventNonce.objects.create(source=source, nonce=nonce, seen_at=now)
        except IntegrityError:
            raise Replayed(
                "该 nonce 已使用过：请求被视为重放",
                errors=[FieldError("nonce", "replayed", "nonce：已使用过")],
            ) from None
        return receive_event(
            source=source,
            event_id=event_id,
            fact=fact,
            payload_sha256=payload_digest(body),
            channel=EventChannel.API,
            now=now,
        )


# --- files --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowOutcome:
    row: int  # the row number in the file (the header is row 1)
    event_id: str
    accepted: bool
    duplicate: bool = False
    payouts: int = 0
    reason: str = ""  # why refused (Chinese), naming the fields


def _rows(name: str, data: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    """The file's rows as dicts keyed by the header row: an .xlsx (by its bytes: a zip) or CSV."""
    if data[:2] == b"PK":
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        values = sheet.iter_rows(values_only=True)
        header = [str(h or "").strip().lower() for h in next(values, ())]
        for number, line in enumerate(values, start=2):
            if any(v not in (None, "") for v in line):
                yield number, dict(zip(header, line, strict=False))
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed(
            "文件须为 UTF-8 编码的 CSV 或 Excel（.xlsx）",
            errors=[FieldError("file", "encoding", "file：无法识别的文件格式")],
        ) from None
    reader = csv.DictReader(io.StringIO(text))
    reader.fieldnames = [f.strip().lower() for f in reader.fieldnames or []]
    for number, line in enumerate(reader, start=2):
        if any((v or "").strip() for v in line.values() if isinstance(v, str)):
            yield number, dict(line)


def import_file(source: str, kind: str, name: str, data: bytes) -> list[RowOutcome]:
    """Each row of the file received as one event, in its own transaction: accepted (paid what
    it triggers), a duplicate of an event already received, or refused with its reason."""
    if kind not in KINDS:
        raise ValidationFailed(
            "未知的事件类型", errors=[FieldError("kind", "invalid", "kind：须为 flight、return 或 screen")]
        )
    if not source.strip() or len(source) > 40:
        raise ValidationFailed(
            "请填写事件来源", errors=[FieldError("source", "required", "source：必填，不超过40个字符")]
        )
    if not data:
        raise ValidationFailed("文件为空", errors=[FieldError("file", "empty", "file：文件为空")])
    if len(data) > MAX_FILE_BYTES:
        raise ValidationFailed(
            "文件超过 5 MB", errors=[FieldError("file", "too_large", "file：文件超过 5 MB")]
        )
    outcomes: list[RowOutcome] = []
    for number, row in _rows(name, data):
        if len(outcomes) >= MAX_ROWS:
            raise ValidationFailed(
                f"文件超过 {MAX_ROWS} 行",
                errors=[FieldError("file", "too_many_rows", f"file：最多 {MAX_ROWS} 行")],
            )
        event_id, fact, errors = read_event(row, KINDS[kind])
        if fact is None:
            outcomes.append(RowOutcome(number, event_id, False, reason="；".join(e.message for e in errors)))
            continue
        # The digest of what the row says (not of its cells: an Excel number and a CSV text of the
        # same event are the same event).
        canonical = json.dumps(
            [
                event_id,
                fact.kind,
                fact.status,
                fact.flight_number,
                str(fact.flight_date or ""),
                fact.delay_minutes,
                fact.order_number,
                fact.returned_at.isoformat() if fact.returned_at else "",
                *(
                    [fact.imei, fact.repaired_at.isoformat(), str(fact.repair_amount)]
                    if fact.repaired_at
                    else []
                ),
            ],
            ensure_ascii=False,
        ).encode()
        try:
            receipt = receive_event(
                source=source.strip(),
                event_id=event_id,
                fact=fact,
                payload_sha256=payload_digest(canonical),
                channel=EventChannel.FILE,
            )
        except DomainError as exc:
            outcomes.append(RowOutcome(number, event_id, False, reason=exc.message))
            continue
        outcomes.append(
            RowOutcome(number, event_id, True, duplicate=receipt.duplicate, payouts=receipt.payouts)
        )
    return outcomes
