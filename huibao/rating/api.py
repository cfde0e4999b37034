"""`POST /api/v1/quotes` and `GET /api/v1/quotes/{id}`: instant premiums with their explanation.

Money travels as strings. Invalid inputs come back as 422 with one error per field and rule
(`inputs.age`, `inputs.sum_insured`…), mapped from `QuoteRejected` by `huibao.api`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from huibao.core.api_schemas import ShownPremiumOut, errors
from huibao.core.premium import shown
from huibao.distribution import services as distribution_services
from huibao.rating import selectors, services
from huibao.rating.models import Quote
from huibao.rating.rules import instalment_for

router = Router(tags=["quotes"])


class QuoteIn(Schema):
    product_code: str = Field(..., max_length=48, examples=["term-life"])
    plan_code: str = Field(..., max_length=32, examples=["standard"])
    inputs: dict[str, Any] = Field(default_factory=dict, examples=[{"age": 30, "sex": "F"}])
    # A channel's, sub-channel's or agent's referral code: the product must be sellable by it.
    seller_code: str | None = Field(None, max_length=32, examples=["CH-QUNAR"])


class LookupOut(Schema):
    table: str
    key: str
    value: str


class StepOut(Schema):
    name: str
    label: str
    expr: str
    value: str
    lookups: list[LookupOut]


class QuoteOut(Schema):
    id: uuid.UUID
    product_code: str
    product_version_id: int
    version_number: int
    plan_code: str
    plan_name: str
    premium: str
    annual_premium: str | None
    instalment: str | None
    payment_mode: str | None
    per_period: ShownPremiumOut = Field(description="what the customer pays per period, and per year")
    inputs: dict[str, Any]
    steps: list[StepOut]
    engine_version: str
    created_at: datetime | None


def _quote_out(quote: Quote) -> dict[str, Any]:
    product = services.get_rating_product(quote.product_version_id)
    plan = next(p for p in product.plans if p.plan_id == quote.plan_id)
    mode = quote.inputs.get("payment_mode")
    instalment = instalment_for(quote.premium, mode) if mode else None
    return {
        "id": quote.id,
        "product_code": product.product_code,
        "product_version_id": product.version_id,
        "version_number": product.version_number,
        "plan_code": plan.code,
        "plan_name": plan.name,
        "premium": str(quote.premium),
        "annual_premium": str(quote.premium) if mode and mode != "single" else None,
        "instalment": str(instalment) if instalment is not None else None,
        "payment_mode": mode,
        "per_period": shown(quote.premium, mode).as_dict(),
        "inputs": quote.inputs,
        "steps": quote.steps,
        "engine_version": quote.engine_version,
        "created_at": quote.created_at,
    }


@router.post("/quotes", response={201: QuoteOut, **errors(404, 422)}, summary="报价")
def create_quote(request: HttpRequest, payload: QuoteIn) -> Status[dict[str, Any]]:
    seller = distribution_services.seller_from_code(payload.seller_code)
    quote = services.create_quote(
        product_code=payload.product_code,
        plan_code=payload.plan_code,
        inputs=payload.inputs,
        user=getattr(request, "user", None),
        channel="api",
        seller=seller,
    )
    return Status(201, _quote_out(quote))


@router.get("/quotes/{quote_id}", response={200: QuoteOut, **errors(404)}, summary="报价详情")
def get_quote(request: HttpRequest, quote_id: uuid.UUID) -> dict[str, Any]:
    return _quote_out(selectors.quote_for_viewer(getattr(request, "user", None), quote_id))
