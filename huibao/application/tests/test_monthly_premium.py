"""A monthly product: the application's state, its pages and its checkout show and charge the
first instalment (per month) with the yearly total — the amounts billing's schedule uses."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from huibao.application.api import presenters
from huibao.application.premium import due_at_checkout, total_shown
from huibao.application.services.data import save_data
from huibao.application.services.start import start_application
from huibao.application.tests import factories as f
from huibao.billing import rules as billing_rules
from huibao.catalog.models import ProductVersion
from huibao.rating.services import clear_cache

pytestmark = pytest.mark.django_db


def monthly_product():
    product = f.simple_product()
    ProductVersion.objects.filter(pk=product.current_version_id).update(payment_modes=["monthly", "annual"])
    clear_cache()
    return product


def test_the_state_shows_the_month_and_the_year() -> None:
    user = f.customer()
    product = monthly_product()
    quote = f.quote(product, user, payment_mode="monthly")
    app = save_data(start_application(quote_ids=[quote.pk], user=user), f.data(), actor=user)
    state = presenters.application_out(app, user=user)
    [item] = state["items"]
    assert item["premium"] == "100.00" and item["payment_mode"] == "monthly"
    assert item["per_period"] == {"amount": "8.33", "period": "month", "annual_total": "100.00"}
    assert state["per_period"] == {"amount": "8.33", "period": "month", "annual_total": "100.00"}
    assert state["total_premium"] == "100.00"  # the yearly total, unchanged
    # the checkout charges what billing's first instalment is
    assert Decimal(state["per_period"]["amount"]) == billing_rules.first_instalment(
        Decimal("100.00"), "monthly"
    )


def test_the_data_page_shows_per_month(client: Client) -> None:
    user = f.customer()
    product = monthly_product()
    app = start_application(quote_ids=[f.quote(product, user, payment_mode="monthly").pk], user=user)
    client.force_login(user)
    html = client.get(reverse("application:data", args=[app.public_id])).content.decode()
    assert "¥8.33" in html and "/月" in html and "年缴合计 ¥100.00" in html


def test_a_bundle_of_monthly_and_annual_items_is_due_as_their_first_payments() -> None:
    rows = [
        (Decimal("100.00"), "accept", "monthly"),
        (Decimal("50.00"), "accept", "annual"),
        (Decimal("70.00"), "decline", "monthly"),
    ]
    shown = total_shown(rows)
    assert (shown.amount, shown.period, shown.annual) == (Decimal("58.33"), "first", Decimal("150.00"))
    assert due_at_checkout(rows) == Decimal("58.33")
