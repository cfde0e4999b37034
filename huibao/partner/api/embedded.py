"""The embedded-sale endpoints of the partner API (`/api/partner/v1/embedded/…`) and the
evidence proof of a partner's policy: thin calls of the `embedded` use-cases
(docs/embedded.md) behind the partner's signature (scope `embedded:issue`), its product list
and an `Idempotency-Key` on every POST.

The channel is the partner's own `SalesUnit`: only a channel partner may sell (an insurer
partner is refused with 403 `channel_only`)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, Router

from huibao.core import evidence
from huibao.core.api_schemas import errors
from huibao.core.errors import DomainError, FieldError, PermissionDenied
from huibao.core.evidence_api import ProofOut
from huibao.distribution.models import SalesUnit
from huibao.embedded import selectors as embedded_selectors
from huibao.embedded import services as embedded_services
from huibao.embedded.schemas import BatchIn, BatchOut, IssueIn, IssueOut, SaleIn
from huibao.partner import selectors
from huibao.partner.idempotency import idempotent, run_once
from huibao.partner.models import ApiClient
from huibao.partner.signing import PartnerSignature, require_product
from huibao.partner.states import PartnerKind, Scope

router = Router(tags=["partner: embedded sale"])
EMBEDDED = PartnerSignature(Scope.EMBEDDED_ISSUE)


class ChannelOnly(PermissionDenied):
    code = "channel_only"


class BatchAcceptedOut(BatchOut):
    status_url: str = Field(description="GET it (signed) for the batch's progress and per-row outcomes")


def _client(request: HttpRequest) -> ApiClient:
    client: ApiClient = request.auth  # type: ignore[attr-defined]
    return client


def _channel(client: ApiClient) -> SalesUnit:
    """The partner's sales unit: the channel its embedded sales are made in."""
    partner = client.partner
    if partner.kind != PartnerKind.CHANNEL or partner.sales_unit_id is None:
        message = "只有渠道合作方可嵌入式投保"
        raise ChannelOnly(message, errors=[FieldError("Authorization", "channel_only", message)])
    return SalesUnit.objects.get(pk=partner.sales_unit_id)


def _allowed(client: ApiClient, sales: list[SaleIn], field: str) -> None:
    """403 `product_not_allowed` when a row names a product outside the client's list."""
    if not client.products:
        return
    for index, sale in enumerate(sales):
        try:
            require_product(client, sale.product_code)
        except DomainError as refused:
            refused.errors = [FieldError(f"{field}[{index}].product_code", refused.code, refused.message)]
            raise


def _status_url(batch_id: str) -> str:
    return reverse("api:partner_embedded_batch", kwargs={"batch_id": batch_id})


@router.post(
    "/embedded/policies",
    response={200: IssueOut, **errors(400, 401, 403, 409, 422, 429)},
    auth=EMBEDDED,
    url_name="partner_embedded_policies",
    summary="Issue 1 to 1,000 embedded policies in one call, each sale accepted or refused on its own",
    description=(
        "签名见 docs/partner-api.md；须带 Idempotency-Key。每笔销售单独受理或拒绝（outcomes，逐字段原因）；"
        "同一渠道订单号再次提交返回已有保单（replayed=true），不会重复承保。"
    ),
)
def issue_policies(request: HttpRequest, payload: IssueIn) -> HttpResponse:
    # Idempotent as every POST (`run_once`), with the sales judged and their numbers reserved
    # before the idempotency record's transaction (`embedded.services.prepare`).
    client = _client(request)
    prepared: list[embedded_services.PreparedCall] = []

    def before() -> None:
        channel = _channel(client)
        _allowed(client, payload.sales, "sales")
        prepared.append(embedded_services.prepare(channel, payload.to_sales()))

    def effect() -> tuple[int, IssueOut]:
        return 200, IssueOut.of(embedded_services.issue_prepared(prepared[0]))

    return run_once(request, client, effect, before=before)


@router.post(
    "/embedded/batches",
    response={202: BatchAcceptedOut, **errors(400, 401, 403, 409, 422, 429)},
    auth=EMBEDDED,
    url_name="partner_embedded_batches",
    summary="Submit a larger file of embedded sales, processed in the background (202 and a status URL)",
    description=(
        "签名见 docs/partner-api.md；须带 Idempotency-Key。处理完成后推送 batch.completed（Webhook）。"
    ),
)
@idempotent
def submit_batch(request: HttpRequest, payload: BatchIn) -> tuple[int, BatchAcceptedOut]:
    client = _client(request)
    channel = _channel(client)
    _allowed(client, payload.rows, "rows")
    batch = embedded_services.submit_batch(channel, payload.to_sales())
    view = embedded_selectors.batch_status(channel, batch.public_id, with_outcomes=False)
    out = BatchOut.of(view).model_dump()
    return 202, BatchAcceptedOut(**out, status_url=_status_url(out["id"]))


@router.get(
    "/embedded/batches/{batch_id}",
    response={200: BatchOut, **errors(401, 403, 404, 429)},
    auth=EMBEDDED,
    url_name="partner_embedded_batch",
    summary="An embedded batch of the partner's: status, counts and the outcomes of the rows processed",
)
def batch(request: HttpRequest, batch_id: str) -> BatchOut:
    channel = _channel(_client(request))
    return BatchOut.of(embedded_selectors.batch_status(channel, batch_id))


@router.get(
    "/evidence/{policy_number}/proof",
    response={200: ProofOut, **errors(401, 403, 404, 429, 500)},
    auth=EMBEDDED,
    url_name="partner_evidence_proof",
    summary="The inclusion proof of one of the partner's embedded policies' sale evidence",
    description="另一合作方的保单：404。校验方法见 docs/evidence.md（manage.py verify_evidence_proof）。",
)
def evidence_proof(request: HttpRequest, policy_number: str) -> dict[str, Any]:
    found = selectors.policy_for_client(_client(request), policy_number)
    return evidence.prove(embedded_services.EVIDENCE_KIND, found.number)
