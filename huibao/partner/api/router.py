"""The partner API, mounted at `/api/partner/v1/` by `huibao.api`: a partner's own policies,
their events and statements, and the events it sends. Every request is signed
(`signing.PartnerSignature`, docs/partner-api.md); every POST takes an `Idempotency-Key`
(`idempotency.idempotent`)."""

from __future__ import annotations

import datetime
import uuid

from django.http import HttpRequest
from ninja import Query, Router, Schema

from huibao.claim.event_models import TriggeredPayout, TriggerEvent
from huibao.core.api_schemas import errors
from huibao.core.masking import mask_name
from huibao.finance.settlement_models import SettlementStatement
from huibao.partner import selectors, services
from huibao.partner.api.embedded import router as embedded_router
from huibao.partner.api.schemas import (
    DeliveryOut,
    DeliveryPageOut,
    EventIn,
    EventOut,
    PolicyEventsOut,
    PolicyOut,
    PolicyPageOut,
    StatementOut,
    StatusChangeOut,
    TriggeredPayoutOut,
)
from huibao.partner.idempotency import idempotent
from huibao.partner.models import ApiClient
from huibao.partner.signing import PartnerSignature, require_product
from huibao.partner.states import Scope
from huibao.policy.models import Policy
from huibao.webhook.presenters import delivery_view
from huibao.webhook.selectors import deliveries_for

router = Router(tags=["partner"])
POLICIES = PartnerSignature(Scope.POLICIES_READ)
EVENTS = PartnerSignature(Scope.EVENTS_WRITE)
STATEMENTS = PartnerSignature(Scope.STATEMENTS_READ)
WEBHOOKS = PartnerSignature(Scope.WEBHOOKS_READ)
SIGNED = errors(401, 403, 429)


def _client(request: HttpRequest) -> ApiClient:
    client: ApiClient = request.auth  # type: ignore[attr-defined]
    return client


def _money(value: object) -> str | None:
    return None if value is None else f"{value:.2f}"


def _policy(policy: Policy) -> PolicyOut:
    return PolicyOut(
        number=policy.number,
        status=policy.status,
        product_code=policy.product_version.product.code,
        product_name=policy.product_version.product.name,
        plan_code=policy.plan.code,
        insurer_code=policy.insurer.code,
        seller_code=policy.seller.code if policy.seller_id and policy.seller else None,
        holder_name=mask_name(policy.holder_name),
        insured_name=mask_name(policy.insured_name),
        premium=f"{policy.premium:.2f}",
        sum_insured=_money(policy.sum_insured),
        effective_at=policy.effective_at,
        expires_at=policy.expires_at,
        issued_at=policy.issued_at,
        application_number=policy.application_number,
    )


def _payout(tp: TriggeredPayout, policy_number: str) -> TriggeredPayoutOut:
    return TriggeredPayoutOut(
        id=str(tp.public_id),
        policy_number=policy_number,
        event=str(tp.event.public_id),
        event_id=tp.event.event_id,
        source=tp.event.source,
        amount=f"{tp.amount:.2f}",
        status=tp.status,
        line=tp.line,
        created_at=tp.created_at,
    )


class PolicyQuery(Schema):
    status: str = ""
    product: str = ""
    issued_from: datetime.date | None = None
    issued_to: datetime.date | None = None
    after: int = 0
    limit: int = 20


@router.get(
    "/policies",
    response={200: PolicyPageOut, **SIGNED},
    auth=POLICIES,
    url_name="partner_policies",
    summary="The partner's own policies (newest first, cursor pagination)",
)
def policies(request: HttpRequest, query: Query[PolicyQuery]) -> PolicyPageOut:
    client = _client(request)
    if query.product:
        require_product(client, query.product)
    page, cursor = selectors.policy_page(
        client,
        selectors.PolicyFilters(
            status=query.status,
            product=query.product,
            issued_from=query.issued_from,
            issued_to=query.issued_to,
            after=query.after,
            limit=query.limit,
        ),
    )
    return PolicyPageOut(items=[_policy(p) for p in page], next_cursor=cursor)


@router.get(
    "/policies/{number}",
    response={200: PolicyOut, **errors(401, 403, 404, 429)},
    auth=POLICIES,
    url_name="partner_policy",
    summary="One of the partner's policies",
)
def policy(request: HttpRequest, number: str) -> PolicyOut:
    return _policy(selectors.policy_for_client(_client(request), number))


@router.get(
    "/policies/{number}/events",
    response={200: PolicyEventsOut, **errors(401, 403, 404, 429)},
    auth=POLICIES,
    url_name="partner_policy_events",
    summary="A policy's status changes and the automatic payouts events made to it",
)
def policy_events(request: HttpRequest, number: str) -> PolicyEventsOut:
    found = selectors.policy_for_client(_client(request), number)
    return PolicyEventsOut(
        status_changes=[
            StatusChangeOut(from_status=c.from_status, to_status=c.to_status, reason=c.reason, at=c.at)
            for c in selectors.status_changes(found)
        ],
        payouts=[_payout(tp, found.number) for tp in selectors.triggered_payouts(found)],
    )


def _statement(s: SettlementStatement) -> StatementOut:
    return StatementOut(
        number=s.number,
        party_kind=s.party_kind,
        party_name=s.party_name,
        period_key=s.period_key,
        period_start=s.period_start,
        period_end=s.period_end,
        due_on=s.due_on,
        status=s.status,
        premium_total=f"{s.premium_total:.2f}",
        commission_total=f"{s.commission_total:.2f}",
        net_amount=f"{s.net_amount:.2f}",
        line_count=s.line_count,
    )


@router.get(
    "/policies/{number}/statements",
    response={200: list[StatementOut], **errors(401, 403, 404, 429)},
    auth=STATEMENTS,
    url_name="partner_policy_statements",
    summary="The partner's settlement statements with a line of this policy",
)
def policy_statements(request: HttpRequest, number: str) -> list[StatementOut]:
    client = _client(request)
    found = selectors.policy_for_client(client, number)
    return [_statement(s) for s in selectors.statements_of_policy(client, found)]


@router.get(
    "/statements",
    response={200: list[StatementOut], **SIGNED},
    auth=STATEMENTS,
    url_name="partner_statements",
    summary="The partner's settlement statements (newest first)",
)
def statements(request: HttpRequest, period: str = "", after: int = 0, limit: int = 20) -> list[StatementOut]:
    return [
        _statement(s)
        for s in selectors.statement_page(_client(request), period=period, after=after, limit=limit)
    ]


def _event(client: ApiClient, event: TriggerEvent, *, duplicate: bool) -> EventOut:
    made = selectors.event_payouts(event)
    own = set(
        selectors.policies_visible_to(client)
        .filter(pk__in=[tp.policy_id for tp in made])
        .values_list("pk", flat=True)
    )
    payouts = [tp for tp in made if tp.policy_id in own]
    return EventOut(
        id=str(event.public_id),
        event_id=event.event_id,
        kind=event.kind,
        duplicate=duplicate,
        policies=event.policies_found,
        payouts_made=event.payouts_made,
        note=event.note,
        received_at=event.received_at,
        payouts=[_payout(tp, tp.policy.number) for tp in payouts],
    )


@router.post(
    "/events",
    response={201: EventOut, 200: EventOut, **errors(400, 401, 403, 404, 409, 422, 429)},
    auth=EVENTS,
    url_name="partner_events",
    summary="Send an event (a flight delayed or cancelled, a return completed, a screen repaired)",
    description=(
        "签名见 docs/partner-api.md；须带 Idempotency-Key。flight：event_id、flight_number、flight_date、"
        "status（delayed|cancelled|on_time）、delay_minutes；return：event_id、order_number、returned_at；"
        "screen：event_id、imei、repaired_at、repair_amount。"
        "同一事件编号再次发送不会重复赔付（duplicate=true）。"
    ),
)
@idempotent
def send_event(request: HttpRequest, payload: EventIn) -> tuple[int, EventOut]:
    client = _client(request)
    data = payload.model_dump(exclude_none=True)
    outcome = services.receive_partner_event(client, data, request.body)
    return (200 if outcome.duplicate else 201), _event(client, outcome.event, duplicate=outcome.duplicate)


@router.get(
    "/events/{event}",
    response={200: EventOut, **errors(401, 403, 404, 429)},
    auth=EVENTS,
    url_name="partner_event",
    summary="One event the partner sent, with the payouts it made to the partner's policies",
)
def event(request: HttpRequest, event: uuid.UUID) -> EventOut:
    client = _client(request)
    return _event(client, selectors.event_for_client(client, event), duplicate=False)


@router.get(
    "/webhooks/deliveries",
    response={200: DeliveryPageOut, **SIGNED},
    auth=WEBHOOKS,
    url_name="partner_webhook_deliveries",
    summary="The webhook deliveries to the partner (newest first): status, attempts, last error",
)
def webhook_deliveries(
    request: HttpRequest, status: str = "", event_type: str = "", before: int = 0, limit: int = 20
) -> DeliveryPageOut:
    limit = max(1, min(limit, selectors.MAX_PAGE))
    rows = deliveries_for(
        _client(request).partner.code,
        status=status or None,
        event_type=event_type or None,
        before_id=before or None,
    )
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return DeliveryPageOut(
        items=[DeliveryOut(**delivery_view(d)) for d in page],
        next_cursor=page[-1].pk if more and page else None,
    )


# The embedded-sale endpoints and the evidence proof (huibao/partner/api/embedded.py).
router.add_router("", embedded_router)
