"""Request and response shapes of the embedded-sale endpoints (the partner API's
`/api/partner/v1/embedded/…`, wired at integration): the endpoint validates the body into these,
calls `services.issue` / `submit_batch` / `selectors.batch_status`, and answers
`IssueOut.of(outcomes)` — a thin call.

Rows are kept loose on purpose (strings where the rules check formats): a malformed identity
reference or consent time refuses that row with its reasons, never the whole call. Only the
body's structure (a list of objects, document ids as integers) is refused as a whole (422).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from ninja import Field, Schema

from huibao.core.api_schemas import FieldError
from huibao.embedded.rules import MAX_SALES_PER_CALL, EmbeddedOutcome, EmbeddedSale, ShownDocument
from huibao.embedded.selectors import BatchStatusView

# Not a time: `shape_errors` refuses the row ("consent_at", "invalid").
UNPARSEABLE_TIME = datetime.datetime.min


class ShownDocumentIn(Schema):
    id: int = Field(description="the catalog document's id", examples=[1201])
    sha256: str = Field(description="SHA-256 of its content as published (lowercase hex)")


class SaleIn(Schema):
    product_code: str = Field(max_length=48, examples=["ship-0001"])
    plan_code: str = Field(max_length=32, examples=["standard"])
    identity_ref: str = Field(
        max_length=128, description="the buyer's ID number hashed by the channel: SHA-256, lowercase hex"
    )
    insured_name: str = Field("", max_length=64, description="optional")
    order_ref: str = Field(max_length=128, description="the channel's order reference, unique per channel")
    documents: list[ShownDocumentIn] = Field(max_length=20, description="the documents the page showed")
    consent_at: str = Field(max_length=40, description="when the buyer agreed (ISO 8601 with offset)")
    page_version: str = Field(max_length=128, description="the version of the channel's checkout page")
    scenario: dict[str, str | int] = Field(
        default_factory=dict,
        description="scenario fields: pricing inputs (order_amount, phone_price…), subject fields "
        "(order_number, flight_number, imei…) and cover_date (YYYY-MM-DD)",
    )

    def to_sale(self) -> EmbeddedSale:
        try:
            consent_at = datetime.datetime.fromisoformat(self.consent_at)
        except ValueError:
            consent_at = UNPARSEABLE_TIME
        return EmbeddedSale(
            product_code=self.product_code,
            plan_code=self.plan_code,
            identity_ref=self.identity_ref,
            order_ref=self.order_ref,
            documents=tuple(ShownDocument(d.id, d.sha256) for d in self.documents),
            consent_at=consent_at,
            page_version=self.page_version,
            scenario=dict(self.scenario),
            insured_name=self.insured_name,
        )


class IssueIn(Schema):
    sales: list[SaleIn] = Field(min_length=1, max_length=MAX_SALES_PER_CALL)

    def to_sales(self) -> list[EmbeddedSale]:
        return [s.to_sale() for s in self.sales]


class BatchIn(Schema):
    rows: list[SaleIn] = Field(min_length=1)

    def to_sales(self) -> list[EmbeddedSale]:
        return [s.to_sale() for s in self.rows]


class OutcomeOut(Schema):
    index: int
    order_ref: str
    status: str = Field(description="accepted or refused", examples=["accepted"])
    policy_number: str = ""
    verification_code: str = Field("", description="with the number: the public verification of the policy")
    premium: str | None = Field(None, examples=["1.20"])
    replayed: bool = Field(False, description="the order already had this policy: no second one was issued")
    errors: list[FieldError] = Field(default_factory=list, description="why it was refused, field by field")

    @classmethod
    def of(cls, outcome: EmbeddedOutcome) -> OutcomeOut:
        return cls(**outcome.as_dict())


class IssueOut(Schema):
    accepted: int
    refused: int
    premium_total: str = Field(description="what the channel owes for the policies this call issued")
    outcomes: list[OutcomeOut]

    @classmethod
    def of(cls, outcomes: Sequence[EmbeddedOutcome]) -> IssueOut:
        from huibao.embedded.rules import premium_total

        return cls(
            accepted=sum(1 for o in outcomes if o.accepted),
            refused=sum(1 for o in outcomes if not o.accepted),
            premium_total=str(
                premium_total(o.premium for o in outcomes if o.accepted and not o.replayed and o.premium)
            ),
            outcomes=[OutcomeOut.of(o) for o in outcomes],
        )


class BatchOut(Schema):
    id: str
    status: str = Field(examples=["processing"])
    total: int
    accepted: int
    refused: int
    premium_total: str
    created_at: datetime.datetime
    finished_at: datetime.datetime | None
    outcomes: list[OutcomeOut] = Field(default_factory=list, description="the rows processed so far")

    @classmethod
    def of(cls, view: BatchStatusView) -> BatchOut:
        batch = view.batch
        data: dict[str, Any] = {
            "id": str(batch.public_id),
            "status": batch.status,
            "total": batch.total,
            "accepted": batch.accepted,
            "refused": batch.refused,
            "premium_total": str(batch.premium_total),
            "created_at": batch.created_at,
            "finished_at": batch.finished_at,
            "outcomes": [OutcomeOut.of(o) for o in view.outcomes],
        }
        return cls(**data)
