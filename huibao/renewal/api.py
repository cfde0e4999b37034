"""Renewal endpoints under /api/v1/policies/{id}/renewal-offer: the offer of the customer's own
policy (another customer's is 404), accept (a cashier payment to pay), decline, automatic
renewal on/off. Session auth (`django_auth`: 401 without a login, CSRF on POST)."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema
from ninja.security import django_auth

from huibao.core.api_schemas import errors
from huibao.renewal import selectors, services
from huibao.renewal.models import RenewalOffer
from huibao.renewal.states import OfferStatus

router = Router(tags=["renewal"])

STATUS_TEXT = "；".join(f"{value}={label}" for value, label in OfferStatus.choices)


class StepOut(Schema):
    name: str
    label: str
    value: str


class OfferOut(Schema):
    id: uuid.UUID = Field(description="the offer's public id")
    policy_id: uuid.UUID = Field(description="the expiring policy's public id")
    policy_number: str
    status: OfferStatus = Field(description=f"续保要约状态：{STATUS_TEXT}")
    status_label: str
    guaranteed: bool = Field(description="保证续保（按原版本费率表，无需重新健康告知）")
    refusal: str = Field(description="不予续保的原因（status=refused）")
    premium: str | None = Field(description="续保保费（元，字符串）")
    previous_premium: str | None
    payment_mode: str = Field(description="缴费方式：annual 年交、monthly 月交（沿用原保单）、single 趸交")
    due_now: str | None = Field(description="续保时应付（月交为首期保费）")
    loading_percent: str = Field(description="沿用原保单的核保加费比例（%），已含在续保保费中")
    insured_age: int = Field(description="续保时被保险人年龄（周岁）")
    steps: list[StepOut] = Field(description="保费计算明细（按续保时年龄）")
    starts_at: datetime.datetime
    ends_at: datetime.datetime | None
    expires_on: datetime.date
    grace_until: datetime.date = Field(description="最后可支付日（宽限期末）")
    auto_renew: bool
    mandate_account: str = Field(description="自动续保扣款账户（脱敏）")
    renewal_policy_id: uuid.UUID | None = Field(description="续保后的新保单")
    renewal_policy_number: str | None


class AcceptOut(Schema):
    payment_id: uuid.UUID
    checkout_url: str = Field(description="收银台地址")
    amount: str
    expires_at: datetime.datetime


class AutoRenewIn(Schema):
    enabled: bool
    card_number: str = Field("", description="扣款银行卡号（尚无有效扣款授权时必填）")


def offer_out(offer: RenewalOffer) -> dict[str, Any]:
    renewal = offer.renewal_policy
    return {
        "id": offer.public_id,
        "policy_id": offer.policy.public_id,
        "policy_number": offer.policy.number,
        "status": offer.status,
        "status_label": offer.get_status_display(),
        "guaranteed": offer.guaranteed,
        "refusal": offer.refusal,
        "premium": None if offer.premium is None else str(offer.premium),
        "previous_premium": None if offer.previous_premium is None else str(offer.previous_premium),
        "payment_mode": offer.payment_mode,
        "due_now": None if offer.premium is None else str(services.due_now(offer)),
        "loading_percent": str(offer.loading_percent),
        "insured_age": offer.insured_age,
        "steps": [
            {
                "name": str(s.get("name", "")),
                "label": str(s.get("label", "")),
                "value": str(s.get("value", "")),
            }
            for s in offer.steps
            if isinstance(s, dict)
        ],
        "starts_at": offer.starts_at,
        "ends_at": offer.ends_at,
        "expires_on": offer.expires_on,
        "grace_until": offer.grace_until,
        "auto_renew": offer.auto_renew,
        "mandate_account": offer.mandate.masked_account if offer.mandate else "",
        "renewal_policy_id": renewal.public_id if renewal else None,
        "renewal_policy_number": renewal.number if renewal else None,
    }


def _reload(request: HttpRequest, policy_id: uuid.UUID) -> dict[str, Any]:
    return offer_out(selectors.offer_for_owner(request.user, policy_id))


@router.get(
    "/policies/{policy_id}/renewal-offer",
    response={200: OfferOut, **errors(404)},
    auth=django_auth,
    url_name="renewal_offer",
    summary="续保要约（保费按续保时年龄重新计算，含明细）",
)
def get_offer(request: HttpRequest, policy_id: uuid.UUID) -> dict[str, Any]:
    return _reload(request, policy_id)


@router.post(
    "/policies/{policy_id}/renewal-offer/accept",
    response={200: AcceptOut, **errors(404, 409, 422)},
    auth=django_auth,
    summary="确认续保：返回收银台支付（支付成功后签发续保保单）",
)
def accept_offer(request: HttpRequest, policy_id: uuid.UUID) -> dict[str, Any]:
    offer = selectors.offer_for_owner(request.user, policy_id)
    payment = services.accept(offer, user=request.user)
    return {
        "payment_id": payment.public_id,
        "checkout_url": payment.checkout_url,
        "amount": str(payment.amount),
        "expires_at": timezone.localtime(payment.expires_at),
    }


@router.post(
    "/policies/{policy_id}/renewal-offer/decline",
    response={200: OfferOut, **errors(404, 409)},
    auth=django_auth,
    summary="放弃续保",
)
def decline_offer(request: HttpRequest, policy_id: uuid.UUID) -> dict[str, Any]:
    services.decline(selectors.offer_for_owner(request.user, policy_id), user=request.user)
    return _reload(request, policy_id)


@router.post(
    "/policies/{policy_id}/renewal-offer/auto-renewal",
    response={200: OfferOut, **errors(404, 409, 422)},
    auth=django_auth,
    summary="开通或关闭自动续保",
)
def set_auto_renewal(request: HttpRequest, policy_id: uuid.UUID, payload: AutoRenewIn) -> dict[str, Any]:
    offer = selectors.offer_for_owner(request.user, policy_id)
    services.set_auto_renew(offer, user=request.user, on=payload.enabled, card_number=payload.card_number)
    return _reload(request, policy_id)
