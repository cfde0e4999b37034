"""Starting an application from quotes."""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from huibao.application.evidence.trace import record_step
from huibao.application.models import Application, ApplicationItem
from huibao.application.premium import total_premium
from huibao.application.services._common import _on_sale
from huibao.application.services.loaded import _remember_loaded
from huibao.application.states import Channel
from huibao.core.errors import FieldError, NotFound, ValidationFailed
from huibao.core.money import to_fen
from huibao.distribution import selectors as distribution_selectors
from huibao.distribution import services as distribution_services
from huibao.distribution.models import SalesUnit
from huibao.rating.models import Quote
from huibao.rating.selectors import quote_for_user

MAX_ITEMS = 6


def application_ttl() -> datetime.timedelta:
    return datetime.timedelta(hours=int(getattr(settings, "HUIBAO_APPLICATION_TTL_HOURS", 72)))


def quote_ttl() -> datetime.timedelta:
    """How long a quote may be applied for (its price is for the insured's age on the day)."""
    return datetime.timedelta(hours=int(getattr(settings, "HUIBAO_QUOTE_TTL_HOURS", 72)))


def _new_number() -> str:
    return "TB" + timezone.localtime().strftime("%Y%m%d%H%M%S") + secrets.token_hex(4).upper()


def _quote_for_application(quote_id: Any, user: Any) -> Quote:
    # Someone else's quote is answered as an unknown one: its id reveals nothing.
    quote = quote_for_user(user, quote_id)
    if quote is None:
        raise NotFound(
            f"报价 {quote_id} 不存在", errors=[FieldError("quote_ids", "unknown_quote", "报价不存在")]
        )
    version = quote.product_version
    if not _on_sale(version):
        raise ValidationFailed(
            "the quote's product version is no longer on sale",
            errors=[
                FieldError(
                    "quote_ids", "version_not_on_sale", f"“{version.product.name}”已更新或停售，请重新报价"
                )
            ],
        )
    if quote.created_at + quote_ttl() <= timezone.now():
        raise ValidationFailed(
            "the quote expired",
            errors=[
                FieldError("quote_ids", "quote_expired", f"“{version.product.name}”的报价已过期，请重新报价")
            ],
        )
    return quote


def start_application(
    *,
    quote_ids: Sequence[Any],
    user: Any = None,
    channel: str = Channel.WEB,
    started_by: Any = None,
    request: HttpRequest | None = None,
    seller: SalesUnit | None = None,
) -> Application:
    """A draft application from one quote, or several (a bundle: one flow, several policies).

    `user` is the customer applying; `started_by` an agent or staff member preparing it for a
    customer (who then opens the invitation link and does everything else themself). Who sold
    it (`Application.seller`): the agent unit of `started_by`, else `seller` (the channel or
    agent of the referral code the customer came with); the seller's licence must cover the
    line of every product (ValidationFailed naming `seller_code`)."""
    ids = list(dict.fromkeys(str(q) for q in quote_ids))
    if not ids:
        raise ValidationFailed(
            "at least one quote", errors=[FieldError("quote_ids", "required", "请至少选择一个产品报价")]
        )
    if len(ids) > MAX_ITEMS:
        raise ValidationFailed(
            "too many products",
            errors=[FieldError("quote_ids", "too_many", f"一次最多投保{MAX_ITEMS}个产品")],
        )
    quotes = [_quote_for_application(q, started_by or user) for q in ids]
    products = [q.product_version.product_id for q in quotes]
    if len(set(products)) != len(products):
        raise ValidationFailed(
            "a product twice", errors=[FieldError("quote_ids", "duplicate_product", "同一产品只需选择一次")]
        )
    seller = distribution_services.attribute(started_by=started_by) or seller
    if seller is not None:
        refusals = [
            r
            for r in (distribution_selectors.sellable(q.product_version, seller=seller) for q in quotes)
            if r is not None
        ]
        if refusals:
            raise ValidationFailed(refusals[0].message, code="not_sellable", errors=refusals)
    customer = (
        user
        if (
            user is not None
            and getattr(user, "is_authenticated", False)
            and getattr(user, "is_customer", False)
        )
        else None
    )
    if started_by is not None and channel == Channel.WEB:
        channel = Channel.AGENT
    with transaction.atomic():
        items = [
            ApplicationItem(
                position=position,
                product_version=quote.product_version,
                plan=quote.plan,
                origin_quote=quote,
                quote=quote,
                sum_insured=_quote_sum_insured(quote),
                base_premium=quote.premium,
                premium=quote.premium,
            )
            for position, quote in enumerate(quotes, start=1)
        ]
        app = Application.objects.create(
            number=_new_number(),
            channel=channel,
            customer=customer,
            started_by=started_by,
            seller=seller,
            expires_at=timezone.now() + application_ttl(),
            total_premium=total_premium(items),
        )
        for item in items:
            item.application = app
            item.save(force_insert=True)
        record_step(
            app,
            "started",
            actor=started_by or customer or "anonymous",
            request=request,
            detail={
                "channel": app.channel,
                "seller": seller.code if seller is not None else "",
                "quotes": ids,
                "products": [q.product_version.product.code for q in quotes],
                "product_versions": [q.product_version_id for q in quotes],
            },
        )
    # A new application: its items (with their quotes' versions and plans) and nothing else yet.
    _remember_loaded(app, items=items, persons=[], readings=[], confirmations=[], signatures=[])
    return app


def _quote_sum_insured(quote: Quote) -> Decimal | None:
    raw = quote.inputs.get("sum_insured")
    if raw is None:
        return (
            quote.plan.max_sum_insured if quote.plan.min_sum_insured == quote.plan.max_sum_insured else None
        )
    try:
        return to_fen(Decimal(str(raw)))
    except InvalidOperation:
        return None
