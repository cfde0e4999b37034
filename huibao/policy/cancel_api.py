"""Cancellation endpoints under /api/v1/policies/{id}/…: the refund quote, the request (the SMS
code goes to the holder's phone on the policy), the confirmation with the code, the status.

Owner-only: the session of the policy's customer (401 without a login); another customer's
policy or cancellation is 404. Refusals answer the one error shape (409 not cancellable or a
refund larger than what was paid, 422 a bad reason or code, 429 too many codes)."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.security import django_auth

from huibao.core.api_schemas import errors
from huibao.core.errors import NotFound
from huibao.policy import cancel_presenters, selectors
from huibao.policy import cancellation as service
from huibao.policy.models import Cancellation, Policy
from huibao.policy.states import CancellationKind, CancellationReason, CancellationStatus, RefundPartStatus

router = Router(tags=["cancellations"])


class RefundLineOut(Schema):
    code: str = Field(description="paid, earned, fee_rate, fee_fixed, cooling_off_fee, not_cash_value")
    label: str
    amount: str = Field(description="元，字符串；负数为扣除")
    basis: str = Field(description="计算依据")


class QuoteOut(Schema):
    kind: CancellationKind
    method: str = Field(description="cooling_off, pro_rata, short_rate, cash_value")
    paid: str = Field(description="本保单已缴保费（元）")
    amount: str = Field(description="应退金额（元）")
    lines: list[RefundLineOut]


class RefundPartOut(Schema):
    amount: str
    status: RefundPartStatus
    payment: uuid.UUID = Field(description="退回的原支付（public id）")


class CancellationOut(Schema):
    id: uuid.UUID
    policy_id: uuid.UUID
    kind: CancellationKind
    status: CancellationStatus = Field(
        description="quoted 已试算 → awaiting_confirmation 待确认（验证码已发送）→ confirmed 已确认 → "
        "refunding 退款中 → completed 已完成；refund_failed 退款失败（将重试）；withdrawn 已撤回"
    )
    status_label: str
    method: str
    request_date: datetime.date
    paid: str
    amount: str
    refunded: str
    lines: list[RefundLineOut]
    reason: CancellationReason
    reason_text: str
    confirmed_at: datetime.datetime | None
    completed_at: datetime.datetime | None
    refunds: list[RefundPartOut]
    insurer_notified: bool = Field(False, description="保险公司已确认收到退保信息（退保信息回传）")


class CancellationIn(Schema):
    reason: CancellationReason
    reason_text: str = Field("", description="最多200字；reason 为 other 时必填")


class ConfirmationIn(Schema):
    code: str = Field(..., description="发送到投保人手机的6位短信验证码")


def _policy(request: HttpRequest, public_id: uuid.UUID) -> Policy:
    return selectors.policy_for_customer(request.user, public_id)


def _cancellation(request: HttpRequest, public_id: uuid.UUID, cancellation_id: uuid.UUID) -> Cancellation:
    found = service.cancellation_for_customer(request.user, cancellation_id)
    if found.policy.public_id != public_id:
        raise NotFound("退保申请不存在", code="cancellation_not_found")
    return found


def _out(c: Cancellation) -> dict[str, Any]:
    return cancel_presenters.cancellation_view(c, service.refunds_of(c))


@router.get(
    "/policies/{public_id}/cancellation-quote",
    response={200: QuoteOut, **errors(404, 409)},
    auth=django_auth,
    url_name="policy_cancellation_quote",
    summary="退保试算（不保存，逐项说明）",
)
def get_quote(request: HttpRequest, public_id: uuid.UUID) -> dict[str, Any]:
    return cancel_presenters.quote_view(service.quote(_policy(request, public_id)))


@router.post(
    "/policies/{public_id}/cancellations",
    response={201: CancellationOut, **errors(404, 409, 422, 429)},
    auth=django_auth,
    summary="申请退保（发送短信验证码至投保人手机）",
)
def create_cancellation(
    request: HttpRequest, public_id: uuid.UUID, payload: CancellationIn
) -> Status[dict[str, Any]]:
    c = service.request_cancellation(
        _policy(request, public_id),
        user=request.user,
        reason=payload.reason,
        reason_text=payload.reason_text,
        client_address=request.META.get("REMOTE_ADDR"),
    )
    return Status(201, _out(c))


@router.post(
    "/policies/{public_id}/cancellations/{cancellation_id}/code",
    response={200: CancellationOut, **errors(404, 409, 429)},
    auth=django_auth,
    summary="重新发送退保验证码",
)
def resend_code(request: HttpRequest, public_id: uuid.UUID, cancellation_id: uuid.UUID) -> dict[str, Any]:
    c = service.send_confirmation_code(
        _cancellation(request, public_id, cancellation_id),
        user=request.user,
        client_address=request.META.get("REMOTE_ADDR"),
    )
    return _out(c)


@router.post(
    "/policies/{public_id}/cancellations/{cancellation_id}/confirmation",
    response={200: CancellationOut, **errors(404, 409, 422, 429)},
    auth=django_auth,
    summary="确认退保（短信验证码）；重复确认返回同一结果",
)
def confirm_cancellation(
    request: HttpRequest, public_id: uuid.UUID, cancellation_id: uuid.UUID, payload: ConfirmationIn
) -> dict[str, Any]:
    c = service.confirm(
        _cancellation(request, public_id, cancellation_id), user=request.user, code=payload.code
    )
    return _out(c)


@router.post(
    "/policies/{public_id}/cancellations/{cancellation_id}/withdrawal",
    response={200: CancellationOut, **errors(404, 409)},
    auth=django_auth,
    summary="撤回退保申请（确认前）",
)
def withdraw_cancellation(
    request: HttpRequest, public_id: uuid.UUID, cancellation_id: uuid.UUID
) -> dict[str, Any]:
    return _out(service.withdraw(_cancellation(request, public_id, cancellation_id), user=request.user))


@router.get(
    "/policies/{public_id}/cancellations/{cancellation_id}",
    response={200: CancellationOut, **errors(404)},
    auth=django_auth,
    summary="退保进度（退款状态）",
)
def get_cancellation(
    request: HttpRequest, public_id: uuid.UUID, cancellation_id: uuid.UUID
) -> dict[str, Any]:
    return _out(_cancellation(request, public_id, cancellation_id))
