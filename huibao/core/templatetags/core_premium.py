"""`{{ premium|premium:mode }}` and `{{ shown|premium }}`: a premium as the customer pays it.

Monthly: the amount per month with its period and the total per year (¥30.78/月 · 年缴合计
¥369.36); single and annual payment: the amount alone (¥369.36). The amounts come from
`huibao.core.premium.shown` (the one owner of the per-period amount): no arithmetic in templates.
"""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from huibao.core.money import as_decimal, format_cny
from huibao.core.premium import ShownPremium, shown

register = template.Library()


def period_suffix(period: str) -> str:
    if period == "month":
        return _("/月")
    if period == "first":
        return _("（首期）")
    return ""


@register.filter
def premium(value: object, mode: object = None) -> SafeString | str:
    """A premium (or a `ShownPremium`) as HTML: the per-period amount in `.price`, its period,
    and the annual total when paid in instalments."""
    if value is None or value == "":
        return ""
    if isinstance(value, ShownPremium):
        view = value
    else:
        try:
            amount = as_decimal(value if isinstance(value, Decimal | int) else str(value))
        except ValueError:
            return ""
        view = shown(amount, str(mode) if mode else None)
    if view.annual is None:
        return format_html(
            '<span class="premium" data-per-period="{}"><strong class="price">{}</strong></span>',
            view.amount,
            format_cny(view.amount),
        )
    return format_html(
        '<span class="premium" data-per-period="{}" data-period="{}"><strong class="price">{}</strong>'
        '<span class="premium__period">{}</span> '
        '<span class="premium__annual" data-annual="{}">{}</span></span>',
        view.amount,
        view.period,
        format_cny(view.amount),
        period_suffix(view.period),
        view.annual,
        _("年缴合计 %(amount)s") % {"amount": format_cny(view.annual)},
    )
