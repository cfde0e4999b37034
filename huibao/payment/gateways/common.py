"""What the real gateway adapters share: yuan ↔ fen at the gateway's edge, Beijing time, the
reconciliation file's rows and the one function that downloads it."""

from __future__ import annotations

import datetime
import urllib.request
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal
from zoneinfo import ZoneInfo

from huibao.core.money import to_fen_int

# Both gateways write times without a zone: they are China Standard Time.
BEIJING = ZoneInfo("Asia/Shanghai")
# Where the download of a reconciliation file gives up (seconds).
DOWNLOAD_TIMEOUT = 30


class GatewayError(Exception):
    """A gateway call that did not give an answer the adapter can use (its code and message)."""

    def __init__(self, code: str, message: str = ""):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


def yuan_to_fen(text: str) -> int:
    """A gateway's amount in yuan ("128.50") as integer fen, exactly: more than two places, or
    not a number, raises ValueError (never rounded: a gateway never sends a part of a fen)."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise ValueError(f"not an amount to the fen: {text!r}")
    return int(value * 100)


def fen_to_yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def yuan(amount: Decimal) -> str:
    """A platform amount (Decimal CNY) as the gateway's yuan string, rounded at the one point."""
    return fen_to_yuan(to_fen_int(amount))


def beijing(text: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> datetime.datetime:
    return datetime.datetime.strptime(text.strip(), fmt).replace(tzinfo=BEIJING)


BillRowKind = Literal["payment", "refund"]


@dataclass(frozen=True, slots=True)
class BillRow:
    """One line of a gateway's reconciliation file (对账单): a payment or a refund."""

    trade_no: str
    merchant_ref: str
    kind: BillRowKind
    amount_fen: int
    fee_fen: int
    at: datetime.datetime | None
    refund_ref: str = ""


def download(url: str) -> bytes:
    """GETs a reconciliation file from the address the gateway gave (a short-lived signed URL).
    Tests replace it (`monkeypatch`) with one that reads a fixture."""
    if not url.startswith("https://"):
        raise GatewayError("bill_url_not_https", url)
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:  # noqa: S310 (https only)
        return bytes(response.read())
