"""Money: `Decimal` in CNY, never float.

Amounts are carried with full precision through a calculation and rounded to the fen (0.01 CNY)
only by `to_fen`, with ROUND_HALF_UP, the rounding Chinese insurers use for premiums. Rates and
factors keep `RATE_PLACES` decimal places. Integer fen appear only at a payment gateway's edge
(`to_fen_int`).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN = Decimal("0.01")
RATE_PLACES = 6
MONEY_MAX_DIGITS = 14
MONEY_DECIMAL_PLACES = 2
RATE_MAX_DIGITS = 16


class MoneyError(ValueError):
    pass


def as_decimal(value: object) -> Decimal:
    """Converts an int, str or Decimal to Decimal; refuses float (binary fractions lose fen)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool | float):
        raise MoneyError(f"refusing {type(value).__name__} {value!r} as an amount: use Decimal or str")
    if isinstance(value, int | str):
        try:
            result = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation as exc:
            raise MoneyError(f"not a number: {value!r}") from exc
        if not result.is_finite():
            raise MoneyError(f"not a finite number: {value!r}")
        return result
    raise MoneyError(f"not an amount: {value!r}")


def to_fen(amount: Decimal) -> Decimal:
    """The one rounding point for money: to 0.01 CNY, half up."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def to_fen_int(amount: Decimal) -> int:
    """Integer fen, for payment gateways only."""
    return int(to_fen(amount) * 100)


def format_cny(amount: Decimal) -> str:
    return f"¥{to_fen(amount):,.2f}"
