"""The per-period premium: one owner, shared by rating, billing and every page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from huibao.billing import rules as billing_rules
from huibao.core.premium import per_period, shown, shown_total
from huibao.rating.rules import instalment_for

D = Decimal


@pytest.mark.parametrize("annual", ["369.36", "100.00", "0.13", "1234.57", "99.99"])
def test_the_quoted_instalment_is_the_first_instalment_billing_collects(annual: str) -> None:
    amounts = billing_rules.amounts(D(annual), "monthly")
    assert instalment_for(D(annual), "monthly") == per_period(D(annual), "monthly") == amounts[0]
    assert sum(amounts) == D(annual)  # the last absorbs the remainder
    assert billing_rules.first_instalment(D(annual), "monthly") == shown(D(annual), "monthly").amount


def test_monthly_shows_the_month_and_the_year() -> None:
    view = shown(D("369.36"), "monthly")
    assert (view.amount, view.period, view.annual) == (D("30.78"), "month", D("369.36"))
    assert view.as_dict() == {"amount": "30.78", "period": "month", "annual_total": "369.36"}


@pytest.mark.parametrize("mode", ["single", "annual", None, ""])
def test_single_and_annual_are_unchanged(mode: str | None) -> None:
    view = shown(D("369.36"), mode)
    assert (view.amount, view.period, view.annual) == (D("369.36"), "", None)


def test_half_a_fen_rounds_up() -> None:
    assert per_period(D("100.02"), "monthly") == D("8.34")  # 8.335 → 8.34 (ROUND_HALF_UP)


def test_a_bundle_adds_the_periods_and_the_years() -> None:
    monthly = shown_total([(D("369.36"), "monthly"), (D("120.00"), "monthly")])
    assert (monthly.amount, monthly.period, monthly.annual) == (D("40.78"), "month", D("489.36"))
    mixed = shown_total([(D("369.36"), "monthly"), (D("100.00"), "annual")])
    # due now: the first month of one, the whole year of the other
    assert (mixed.amount, mixed.period, mixed.annual) == (D("130.78"), "first", D("469.36"))
    yearly = shown_total([(D("369.36"), "annual"), (D("100.00"), "single")])
    assert (yearly.amount, yearly.period, yearly.annual) == (D("469.36"), "", None)


def render(text: str, **context: object) -> str:
    with translation.override("zh-hans"):
        return Template("{% load core_premium %}" + text).render(Context(context))


def test_the_filter_shows_per_month_with_the_yearly_total() -> None:
    html = render("{{ p|premium:'monthly' }}", p=D("369.36"))
    assert "¥30.78" in html and "/月" in html and "年缴合计 ¥369.36" in html
    assert 'data-per-period="30.78"' in html


def test_the_filter_leaves_a_yearly_premium_alone() -> None:
    html = render("{{ p|premium:'annual' }}", p=D("369.36"))
    assert "¥369.36" in html and "/月" not in html and "年缴合计" not in html
    assert render("{{ v|premium }}", v=shown(D("369.36"), "monthly")).count("¥") == 2
