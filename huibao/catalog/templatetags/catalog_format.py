"""Template filters for amounts on catalog pages: `{{ amount|cny }}` and `{{ amount|cny_short }}`."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.translation import get_language

from huibao.catalog.web.compare import money_short
from huibao.core.money import as_decimal, format_cny

register = template.Library()


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return as_decimal(value if isinstance(value, Decimal | int) else str(value))
    except ValueError:
        return None


@register.filter
def cny(value: object) -> str:
    """¥1,234.50 — a premium, to the fen."""
    amount = _decimal(value)
    return format_cny(amount) if amount is not None else ""


@register.filter
def cny_short(value: object) -> str:
    """¥200万 (¥2,000,000 in English) — a sum insured, deductible or limit."""
    amount = _decimal(value)
    return money_short(amount) if amount is not None else ""


@register.filter
def count_short(value: object) -> str:
    """52000 → 5.2万 in Chinese (52,000 in other languages)."""
    number = _decimal(value)
    if number is None:
        return ""
    if (get_language() or "zh").startswith("zh") and number >= 10000:
        return f"{(number / 10000).quantize(Decimal('0.1')).normalize():f}万"
    return f"{number:,.0f}"
