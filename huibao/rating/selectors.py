"""Read access to quotes."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.db.models import Q

from huibao.core.errors import NotFound
from huibao.rating.models import Quote


def may_use_quote(user: Any, quote: Quote) -> bool:
    """Who may see a quote and apply from it. Its random id is the capability for an anonymous
    quote (made before logging in, then applied for after); a quote made by a logged-in user
    belongs to that user, and staff (an agent starting an application for a customer) may use
    any quote."""
    if quote.user_id is None:
        return True
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.pk == quote.user_id or getattr(user, "is_staff", False))


def quote_for_viewer(user: Any, quote_id: uuid.UUID) -> Quote:
    """A quote by id (`may_use_quote`); someone else's is `NotFound`, as if it did not exist."""
    quote = Quote.objects.select_related("product_version__product", "plan").filter(pk=quote_id).first()
    if quote is None or not may_use_quote(user, quote):
        raise NotFound("报价不存在")
    return quote


def quote_for_user(user: Any, quote_id: Any) -> Quote | None:
    """The quote `user` may apply from (`may_use_quote`), with its product, insurer and plan
    loaded in the same query; None when it does not exist or is someone else's (one answer for
    both, so a quote id reveals nothing about other customers)."""
    quote = (
        Quote.objects.select_related("product_version__product__insurer", "plan").filter(pk=quote_id).first()
    )
    if quote is None or not may_use_quote(user, quote):
        return None
    return quote


def recent_quotes_of(
    user: Any, *, since: datetime.datetime, search: str = "", limit: int = 20
) -> list[Quote]:
    """The saved quotes `user` made since `since`, newest first, for an agent to pick from:
    `search` matches the short number or the product's name."""
    quotes = Quote.objects.filter(user_id=user.pk, number__isnull=False, created_at__gte=since)
    if search:
        quotes = quotes.filter(
            Q(number__icontains=search) | Q(product_version__product__name__icontains=search)
        )
    quotes = quotes.select_related("product_version__product__insurer", "plan")
    return list(quotes.order_by("-created_at")[:limit])


def quote_id_by_number(user: Any, number: str) -> str | None:
    """The id of the quote with the short number customers see (Q20261203K7M2QX), when `user`
    may use it (`may_use_quote`); None otherwise, as for an unknown number."""
    quote = Quote.objects.filter(number=number.strip().upper()).first()
    if quote is None or not may_use_quote(user, quote):
        return None
    return str(quote.pk)
