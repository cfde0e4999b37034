"""Reads for the channel: a batch's status with its per-row outcomes, a policy's evidence. A
channel reaches only its own records."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from huibao.core.errors import NotFound
from huibao.distribution.models import SalesUnit
from huibao.embedded.models import EmbeddedBatch, EmbeddedBatchChunk, EmbeddedSaleEvidence
from huibao.embedded.rules import EmbeddedOutcome


@dataclass(frozen=True, slots=True)
class BatchStatusView:
    batch: EmbeddedBatch
    outcomes: tuple[EmbeddedOutcome, ...]


def _batch_of(channel: SalesUnit, batch_id: Any) -> EmbeddedBatch:
    try:
        public_id = uuid.UUID(str(batch_id))
    except ValueError:
        raise NotFound("批量任务不存在", code="batch_not_found") from None
    batch = EmbeddedBatch.objects.defer("rows").filter(channel=channel, public_id=public_id).first()
    if batch is None:
        raise NotFound("批量任务不存在", code="batch_not_found")
    return batch


def batch_status(channel: SalesUnit, batch_id: Any, *, with_outcomes: bool = True) -> BatchStatusView:
    """The channel's batch by public id (NotFound for anyone else's) and its outcomes so far,
    in row order."""
    batch = _batch_of(channel, batch_id)
    outcomes: list[EmbeddedOutcome] = []
    if with_outcomes:
        for chunk in EmbeddedBatchChunk.objects.filter(batch=batch).order_by("index"):
            outcomes.extend(EmbeddedOutcome.from_dict(o) for o in chunk.outcomes)
    return BatchStatusView(batch=batch, outcomes=tuple(outcomes))


def evidence_for(channel: SalesUnit, order_ref: str) -> EmbeddedSaleEvidence:
    """The channel's evidence of one order (NotFound otherwise), with its policy."""
    row = (
        EmbeddedSaleEvidence.objects.select_related("policy", "premium_batch")
        .filter(channel=channel, order_ref=order_ref)
        .first()
    )
    if row is None:
        raise NotFound("订单不存在", code="order_not_found")
    return row
