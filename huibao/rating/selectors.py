"""Read access to quotes."""

from __future__ import annotations

import uuid
from typing import Any

from huibao.core.errors import NotFound
from huibao.rating.models import Quote


def quote_for_viewer(user: Any, quote_id: uuid.UUID) -> Quote:
    """A quote by id. Its random id is the capability for an anonymous quote; a quote made by a
    logged-in customer is visible only to that customer and to staff."""
    quote = Quote.objects.select_related("product_version__product", "plan").filter(pk=quote_id).first()
    if quote is None:
        raise NotFound("报价不存在")
    if quote.user_id is not None:
        is_owner = getattr(user, "is_authenticated", False) and user.pk == quote.user_id
        if not (is_owner or getattr(user, "is_staff", False)):
            raise NotFound("报价不存在")
    return quote
