"""Template filters for amounts on catalog pages: `{{ amount|cny }}` and `{{ amount|cny_short }}`."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _

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


@register.simple_tag
def price_from(value: object) -> SafeString:
    """The lowest premium in the language's word order: ¥216.60起, from ¥216.60 (the amount in
    `price__amount`, the words around it in `price__unit`, with a space where the language
    puts one)."""
    amount = cny(value)
    if not amount:
        return SafeString("")
    before, _sep, after = _("%(amount)s起").partition("%(amount)s")

    def unit(text: str) -> SafeString:
        if not text.strip():
            return SafeString("")
        return format_html('<span class="price__unit">{}</span>', text.strip())

    return format_html(
        '{}{}<span class="price__amount">{}</span>{}{}',
        unit(before),
        " " if before.endswith(" ") else "",
        amount,
        " " if after.startswith(" ") else "",
        unit(after),
    )


@register.filter
def count_short(value: object) -> str:
    """52000 → 5.2万 in Chinese (52,000 in other languages)."""
    number = _decimal(value)
    if number is None:
        return ""
    if (get_language() or "zh").startswith("zh") and number >= 10000:
        return f"{(number / 10000).quantize(Decimal('0.1')).normalize():f}万"
    return f"{number:,.0f}"
