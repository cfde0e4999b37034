"""Reads and the access checkpoints of the partner API: a partner reaches only its own
policies (a channel: those sold in its sales unit's subtree; an insurer: those it insures),
their status changes, event payouts and settlement statements. Anything else is "not found"
(404), never "forbidden", so its existence is not given away."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from huibao.claim.event_models import TriggeredPayout, TriggerEvent, TriggerIndex
from huibao.core.errors import NotFound
from huibao.distribution.models import SalesUnit
from huibao.finance.settlement_models import SettlementStatement
from huibao.partner.models import ApiClient, Partner
from huibao.partner.states import PartnerKind
from huibao.policy.models import Policy, PolicyStatusChange

MAX_PAGE = 100


def client_by_key_id(key_id: str) -> ApiClient | None:
    return ApiClient.objects.select_related("partner").filter(key_id=key_id).first()


def partners() -> QuerySet[Partner]:
    return Partner.objects.select_related("insurer", "sales_unit").order_by("code")


def partner_by_pk(pk: int) -> Partner:
    found = partners().filter(pk=pk).first()
    if found is None:
        raise NotFound("合作方不存在", code="partner_not_found")
    return found


def clients_of(partner: Partner) -> QuerySet[ApiClient]:
    return ApiClient.objects.filter(partner=partner).select_related("created_by", "rotated_by", "revoked_by")


def client_of(partner: Partner, pk: int) -> ApiClient:
    found = ApiClient.objects.filter(partner=partner, pk=pk).select_related("partner").first()
    if found is None:
        raise NotFound("接口客户端不存在", code="client_not_found")
    return found


def event_source(partner: Partner) -> str:
    """The name the claim event engine knows the partner's events by (`TriggerEvent.source`)."""
    return f"partner:{partner.code}"


# --- policies -------------------------------------------------------------------------------------


def _scope(partner: Partner) -> Q:
    if partner.kind == PartnerKind.INSURER and partner.insurer_id is not None:
        return Q(insurer_id=partner.insurer_id)
    unit = partner.sales_unit
    if partner.kind == PartnerKind.CHANNEL and unit is not None:
        below = SalesUnit.objects.filter(Q(pk=unit.pk) | Q(path__startswith=unit.path + "/"))
        return Q(seller__in=below)
    return Q(pk__in=[])


def policies_visible_to(client: ApiClient) -> QuerySet[Policy]:
    """The client's partner's policies, limited to the client's products when it has a list."""
    rows = Policy.objects.filter(_scope(client.partner))
    if client.products:
        rows = rows.filter(product_version__product__code__in=list(client.products))
    return rows


@dataclass(frozen=True, slots=True)
class PolicyFilters:
    status: str = ""
    product: str = ""
    issued_from: datetime.date | None = None
    issued_to: datetime.date | None = None
    after: int = 0  # the cursor: the last policy's id of the previous page
    limit: int = 20


def policy_page(client: ApiClient, filters: PolicyFilters) -> tuple[list[Policy], int | None]:
    """One page (newest first, by id) and the cursor of the next one (None on the last)."""
    rows = policies_visible_to(client).select_related("product_version__product", "plan", "insurer", "seller")
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.product:
        rows = rows.filter(product_version__product__code=filters.product)
    if filters.issued_from:
        rows = rows.filter(issued_at__date__gte=filters.issued_from)
    if filters.issued_to:
        rows = rows.filter(issued_at__date__lte=filters.issued_to)
    if filters.after:
        rows = rows.filter(pk__lt=filters.after)
    limit = max(1, min(filters.limit, MAX_PAGE))
    page = list(rows.defer("schedule").order_by("-pk")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1].pk if more and page else None)


def policy_for_client(client: ApiClient, number: str) -> Policy:
    found = (
        policies_visible_to(client)
        .select_related("product_version__product", "plan", "insurer", "seller")
        .defer("schedule")
        .filter(number=number)
        .first()
    )
    if found is None:
        raise NotFound(f"保单不存在：{number[:40]}", code="policy_not_found")
    return found


def status_changes(policy: Policy) -> list[PolicyStatusChange]:
    return list(PolicyStatusChange.objects.filter(policy=policy).order_by("at", "id"))


def triggered_payouts(policy: Policy) -> list[TriggeredPayout]:
    return list(
        TriggeredPayout.objects.filter(policy=policy).select_related("event").order_by("created_at", "id")
    )


# --- statements -----------------------------------------------------------------------------------


def statements_visible_to(client: ApiClient) -> QuerySet[SettlementStatement]:
    partner = client.partner
    if partner.kind == PartnerKind.INSURER and partner.insurer_id is not None:
        return SettlementStatement.objects.filter(insurer_id=partner.insurer_id)
    unit = partner.sales_unit
    if partner.kind == PartnerKind.CHANNEL and unit is not None:
        below = SalesUnit.objects.filter(Q(pk=unit.pk) | Q(path__startswith=unit.path + "/"))
        return SettlementStatement.objects.filter(sales_unit__in=below)
    return SettlementStatement.objects.none()


def statements_of_policy(client: ApiClient, policy: Policy) -> list[SettlementStatement]:
    """The partner's statements with a line of `policy` (read-only: finance owns them)."""
    return list(
        statements_visible_to(client).filter(lines__policy=policy).distinct().order_by("-period_start", "id")
    )


def statement_page(client: ApiClient, *, period: str = "", limit: int = 20, after: int = 0) -> list[Any]:
    rows = statements_visible_to(client)
    if period:
        rows = rows.filter(period_key=period)
    if after:
        rows = rows.filter(pk__lt=after)
    return list(rows.order_by("-pk")[: max(1, min(limit, MAX_PAGE))])


# --- events ---------------------------------------------------------------------------------------


def event_for_client(client: ApiClient, public_id: Any) -> TriggerEvent:
    found = TriggerEvent.objects.filter(source=event_source(client.partner), public_id=public_id).first()
    if found is None:
        raise NotFound("事件不存在", code="event_not_found")
    return found


def event_payouts(event: TriggerEvent) -> list[TriggeredPayout]:
    return list(TriggeredPayout.objects.filter(event=event).select_related("policy", "payout").order_by("id"))


def foreign_policies_on_key(client: ApiClient, key: str) -> bool:
    """True when a policy indexed on trigger `key` (an order) is not the client's own."""
    indexed = TriggerIndex.objects.filter(key=key).values_list("policy_id", flat=True)
    own = policies_visible_to(client).filter(pk__in=indexed).values_list("pk", flat=True)
    return TriggerIndex.objects.filter(key=key).exclude(policy_id__in=own).exists()
